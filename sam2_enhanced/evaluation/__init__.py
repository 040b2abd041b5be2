"""Tracking and segmentation metrics (SOT, MOT, DAVIS VOS), baseline trackers and report writers."""
