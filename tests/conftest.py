"""Shared fixtures: the devices to test the torch twins on, and float64 comparisons."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """Each torch-path test runs on the CPU and, when one is present, on a CUDA GPU."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    if request.param == "cuda":
        from tnn.device import exact_float_math

        exact_float_math()
    return torch.device(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def to_numpy(t):
    return t.detach().cpu().numpy()
