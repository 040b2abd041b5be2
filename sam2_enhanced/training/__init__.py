"""Training: Hungarian matcher, losses, prompt sampling, sequence training with the memory loop,
the trainer (AdamW, schedule, AMP, checkpoints, DDP) and validation on synthetic videos.

Entry point: ``python scripts/train.py --config NAME_OR_PATH [--set SECTION.KEY=VALUE ...]``.
"""
