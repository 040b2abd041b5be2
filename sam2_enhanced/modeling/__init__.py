"""Model components of sam2-enhanced, one concern per module."""
