"""Shared fixtures: the tiny model is built once per session (CPU, offline)."""

import pytest
import torch

from sam2_enhanced import build_model, build_predictor, load_config

# Tiny tensors: one thread is as fast as two and does not thrash when the machine is busy.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_cfg():
    return load_config("tiny")


@pytest.fixture()
def tiny_model(tiny_cfg):
    torch.manual_seed(0)
    return build_model(tiny_cfg).eval()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A saved untrained ``tiny`` predictor (a ``--model`` folder for the command line)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model")
    build_predictor(load_config("tiny"), device="cpu").save_pretrained(path)
    return str(path)
