"""Data: the synthetic small-object video generator, clip datasets and evaluation-format writers."""
