"""Shared helpers: device choice (CUDA, else CPU; MPS on request), explicit seeding, timing."""

import numpy as np
import pytest
import torch

from tnn import device as tnn_device


def test_order_cuda_then_cpu_and_mps_only_on_request(monkeypatch):
    """MPS has no float64, which every lecture's twin check uses: never chosen by itself."""
    monkeypatch.delenv("TNN_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(tnn_device, "_mps_available", lambda: True)
    assert tnn_device.choose_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert tnn_device.choose_device().type == "cpu"
    assert tnn_device.choose_device("mps").type == "mps"
    monkeypatch.setenv("TNN_DEVICE", "mps")
    assert tnn_device.choose_device().type == "mps"


def test_forcing_a_device(monkeypatch):
    monkeypatch.setenv("TNN_DEVICE", "cpu")
    assert tnn_device.choose_device().type == "cpu"
    monkeypatch.delenv("TNN_DEVICE")
    with pytest.raises(ValueError, match="prefer must be 'cuda', 'mps', 'cpu' or None"):
        tnn_device.choose_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="torch.cuda.is_available\\(\\) is False"):
            tnn_device.choose_device("cuda")


def test_describe_device():
    assert tnn_device.describe_device(torch.device("cpu")).startswith("cpu (")


def test_seeding_is_explicit_and_repeatable():
    a = tnn_device.seed_everything(7)
    first = (a.normal(size=3), torch.rand(3), np.random.rand(3))  # noqa: NPY002
    b = tnn_device.seed_everything(7)
    second = (b.normal(size=3), torch.rand(3), np.random.rand(3))  # noqa: NPY002
    for x, y in zip(first, second, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    with pytest.raises(TypeError, match="seed must be a non-negative int"):
        tnn_device.seed_everything(-1)
    g1, g2 = tnn_device.torch_generator(3), tnn_device.torch_generator(3)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


def test_median_seconds_measures_something():
    t = tnn_device.median_seconds(lambda: sum(range(10_000)), repeats=3, warmup=1, min_time=0.001)
    assert 0 < t < 1


def test_copy_bandwidth_counts_bytes_read_and_written(monkeypatch):
    """n float32 values read and n written in the measured second: 8 n bytes per second."""
    timed = []

    def one_second(fn, **kwargs):
        fn()
        timed.append(kwargs.get("device"))
        return 1.0

    monkeypatch.setattr(tnn_device, "median_seconds", one_second)
    assert tnn_device.copy_bandwidth("numpy", n=1000) == 8000
    assert tnn_device.copy_bandwidth("cpu", n=1000) == 8000
    assert timed == [None, "cpu"]  # a device copy is synchronized before it is timed
