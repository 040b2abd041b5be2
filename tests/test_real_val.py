"""The real-val list: named in one file, read by training to skip those sequences."""

import pytest

from sam2_enhanced.data.real_val import REAL_VAL_FILE, real_val_names
from sam2_enhanced.training.real_clips import find_real_sequences
from tests.test_real_clips import write_sequence


def test_the_shipped_list_names_five_train_real_sequences():
    names = real_val_names()
    assert len(names) == 5 and len(set(names)) == 5
    assert REAL_VAL_FILE.name == "real_val_sequences.txt"


def test_comments_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("# held out\n\nseq_a  # trailing\n  seq_b\n")
    assert real_val_names(path) == ("seq_a", "seq_b")


def test_training_skips_the_listed_sequences(tmp_path):
    held_out = real_val_names()[0]
    write_sequence(tmp_path / held_out, masks=False)
    write_sequence(tmp_path / "kept", masks=False)
    assert [s.name for s in find_real_sequences(tmp_path)] == ["kept"]
    assert len(find_real_sequences(tmp_path, exclude=())) == 2


def test_a_missing_list_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="real-val list"):
        real_val_names(tmp_path / "nope.txt")
