"""Device choice, explicit seeding, thread counts and fair timing, shared by every topic.

The library never seeds global state by itself: each notebook calls :func:`seed_everything`
once in its set-up cell, and library functions take an explicit generator.

Small workloads (a 64 -> 128 -> 10 MLP on batches of 64, thousands of tiny matrix products)
run fastest on one CPU thread: on a 2-core machine the threads wait on each other, and on a
16-core machine thread start-up costs more than the work. :func:`few_threads` runs a block
that way; the scaled-up experiments keep every thread and the GPU.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch


def choose_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA if there is one, else the CPU.

    Apple's MPS is used only when asked for (``prefer="mps"`` or ``TNN_DEVICE=mps``): it has no
    float64, and every lecture checks its torch twins against the NumPy references in float64,
    so on a Mac the automatic choice is the CPU.

    Parameters
    ----------
    prefer : str, optional
        ``"cuda"``, ``"mps"`` or ``"cpu"`` to force a device; the environment variable
        ``TNN_DEVICE`` does the same for a whole notebook run. ``None`` picks automatically.
    """
    import os

    prefer = prefer or os.environ.get("TNN_DEVICE") or None
    if prefer is not None:
        if prefer not in ("cuda", "mps", "cpu"):
            raise ValueError(f"prefer must be 'cuda', 'mps', 'cpu' or None; got {prefer!r}.")
        if prefer == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("prefer='cuda' but torch.cuda.is_available() is False.")
        if prefer == "mps" and not _mps_available():
            raise RuntimeError("prefer='mps' but the MPS backend is not available.")
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def describe_device(device: torch.device) -> str:
    """One line naming the device, e.g. ``cuda (NVIDIA H100 80GB HBM3)`` or ``cpu (2 threads)``."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'' if n == 1 else 's'})"
    return device.type


def exact_float_math() -> None:
    """Turn off TF32 on NVIDIA GPUs so float32 matmuls match NumPy to ~1e-6, not ~1e-3."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy's legacy global state and torch; return a fresh NumPy Generator.

    Call it once per notebook. Library functions still take explicit generators, so the
    returned ``np.random.Generator`` is what you pass on.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise TypeError(f"seed must be a non-negative int; got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - for third-party code that uses it
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def torch_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(seed))
    return gen


@contextmanager
def few_threads(device: torch.device | str | None = "cpu", threads: int = 1, *,
                blas: bool = False) -> Iterator[None]:
    """Run the block on ``threads`` CPU threads, restoring the previous settings afterwards.

    Results are the same either way; only the time changes.

    Parameters
    ----------
    device : torch.device, str or None, default "cpu"
        Where the block's torch work runs. On the CPU, torch's intra-op threads are limited;
        on a GPU nothing changes for torch; None leaves torch alone (a NumPy-only block).
    threads : int >= 1, default 1
    blas : bool, default False
        Also limit NumPy's BLAS (through threadpoolctl), for blocks of many small NumPy
        matrix products.

    Examples
    --------
    >>> with few_threads(device):  # doctest: +SKIP
    ...     history = train_classifier(make_mlp([64, 128, 10]), ..., device=device)
    """
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads must be an int >= 1; got {threads}.")
    limit_torch = device is not None and torch.device(device).type == "cpu"
    before = torch.get_num_threads()
    if limit_torch:
        torch.set_num_threads(threads)
    try:
        if blas:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=threads, user_api="blas"):
                yield
        else:
            yield
    finally:
        if limit_torch:
            torch.set_num_threads(before)


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work, so wall-clock timings measure the work itself."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":  # pragma: no cover - needs Apple hardware
        torch.mps.synchronize()


def median_seconds(
    fn: Callable[[], object],
    *,
    repeats: int = 7,
    warmup: int = 2,
    device: torch.device | str | None = None,
    min_time: float = 0.0,
) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup`` runs.

    ``device`` synchronizes a GPU before and after each run. ``min_time`` repeats ``fn``
    inside one measurement until that many seconds pass, for functions faster than the clock.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device is not None:
            synchronize(device)
        start = time.perf_counter()
        calls = 0
        while True:
            fn()
            calls += 1
            if device is not None:
                synchronize(device)
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        times.append(elapsed / calls)
    return statistics.median(times)


def copy_bandwidth(device: torch.device | str, n: int = 2**24, repeats: int = 5) -> float:
    """Bytes per second of a large float32 copy (``n`` values read + written) on ``device``
    (``"numpy"`` for a NumPy copy): the memory-bandwidth floor that benchmarks compare
    elementwise work with."""
    if str(device) == "numpy":
        src, dst = np.ones(n, dtype=np.float32), np.empty(n, dtype=np.float32)
        seconds = median_seconds(lambda: np.copyto(dst, src), repeats=repeats)
    else:
        src = torch.ones(n, dtype=torch.float32, device=device)
        dst = torch.empty_like(src)
        seconds = median_seconds(lambda: dst.copy_(src), repeats=repeats, device=device)
    return 8 * n / seconds
