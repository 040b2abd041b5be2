"""The real-val list: the ``train_real`` sequences set apart for choosing between models.

They are named in ``real_val_sequences.txt`` beside this module (one folder name a line; ``#``
starts a comment), which the Makefile reads too. Training skips them
(:func:`sam2_enhanced.training.real_clips.find_real_sequences`); the real-val table is these
sequences plus the folder ``real_val/`` of the shared data.
"""

from __future__ import annotations

from pathlib import Path

REAL_VAL_FILE = Path(__file__).resolve().parent / "real_val_sequences.txt"


def real_val_names(path: str | Path = REAL_VAL_FILE) -> tuple[str, ...]:
    """Folder names listed in ``path`` (blank lines and ``#`` comments skipped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"real-val list not found: {path}")
    names = []
    for line in path.read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return tuple(names)
