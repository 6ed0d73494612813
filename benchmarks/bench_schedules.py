"""Gradient clipping by the global norm over a network's gradients: our NumPy reference, our
torch twin and torch.nn.utils.clip_grad_norm_, side by side in one run on the CPU (and on
CUDA when present); plus lecture 08's explorer latency (schedule + redraw).

    python benchmarks/bench_schedules.py [--params 4194304] [--pieces 64] [--repeats 25]

One call = measure the global norm of every gradient array and scale them all. Our functions
are pure (they return new arrays); ``clip_grad_norm_`` scales the ``.grad`` tensors in place
with ``foreach`` kernels. The gradients are float32, split into ``--pieces`` arrays of equal
size (a network's layers). Torch runs on one CPU thread by default (``--threads``), as
NumPy's elementwise arithmetic does. The implementations take turns, one call each per round
after a warm-up; times are medians; "vs NumPy" = NumPy time / this time.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch
from bench_optimizers import WARMUP, interleaved_medians

from tnn import schedules as S
from tnn.device import describe_device, few_threads, median_seconds


def bench_clipping(n: int, pieces: int, repeats: int, devices) -> list[tuple]:
    """(implementation, device, seconds per call) for clipping at half the global norm."""
    rng = np.random.default_rng(0)
    grads = {f"g{i}": rng.standard_normal(n // pieces, dtype=np.float32) for i in range(pieces)}
    max_norm = 0.5 * S.global_grad_norm(grads)  # every call really scales
    names = ["NumPy reference"]
    fns = [lambda: S.clip_by_global_norm(grads, max_norm)]
    devs = ["cpu"]
    for dev in devices:
        tensors = [torch.as_tensor(g, device=dev) for g in grads.values()]
        names.append("our torch twin")
        fns.append(lambda tensors=tensors: S.clip_by_global_norm_torch(tensors, max_norm))
        devs.append(dev)
        holders = [torch.zeros_like(t).requires_grad_(True) for t in tensors]
        for h, t in zip(holders, tensors, strict=True):
            h.grad = t.clone()
        names.append("clip_grad_norm_ (in place)")
        # after the first call the grads sit at max_norm; torch multiplies by the (clamped)
        # factor on every call all the same, so each call does the same work
        fns.append(lambda holders=holders: torch.nn.utils.clip_grad_norm_(holders, max_norm))
        devs.append(dev)
    seconds = interleaved_medians(fns, devs, repeats, WARMUP)
    return list(zip(names, devs, seconds, strict=True))


def explorer_latency(repeats: int) -> list[tuple]:
    """(what, ms) for lecture 08's explorer: its update alone, and update + the in-place
    redraw of the schedule figure rendered to PNG (what the inline backend does)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tnn.widgets.schedules import explorer_update

    fig, ax = plt.subplots(figsize=(5.6, 3.2))  # the explorer's schedule figure
    line, = ax.plot([], [])
    state = {"lr": 0.1}

    def update():
        state["lr"] = 0.05 if state["lr"] == 0.1 else 0.1  # a new picture every time
        return explorer_update("cosine", state["lr"], 1_000, 19_000)

    def redraw():
        v = update()
        line.set_data(v["steps"], v["lr"])
        ax.set_xlim(0, v["schedule"].total_steps)
        ax.set_ylim(0, 1.05 * state["lr"])
        ax.set_title(v["summary"][:40], fontsize=9)
        fig.savefig(io.BytesIO(), format="png")

    rows = [("update (20,000-step run)", 1e3 * median_seconds(update, repeats=repeats)),
            ("update + redraw to PNG", 1e3 * median_seconds(redraw, repeats=repeats))]
    plt.close(fig)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=2**22)
    parser.add_argument("--pieces", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch's CPU threads (NumPy's elementwise work uses one)")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"numpy {np.__version__}; " + ", ".join(describe_device(d) for d in devices))
    print(f"# float32, {args.params} gradient entries in {args.pieces} arrays; one clip per "
          f"call; median of {args.repeats}; torch on {args.threads} CPU thread(s)")
    print(f"{'implementation':>27} {'device':>6} {'ms/call':>9} {'Mentries/s':>11} "
          f"{'vs NumPy':>8}")
    with few_threads("cpu", args.threads):
        rows = bench_clipping(args.params, args.pieces, args.repeats, devices)
    base = rows[0][2]
    for name, dev, sec in rows:
        print(f"{name:>27} {dev:>6} {1e3 * sec:9.3f} {args.params / sec / 1e6:11.0f} "
              f"{base / sec:8.1f}")
    print("\n# lecture 08's explorer (median ms)")
    for what, ms in explorer_latency(args.repeats):
        print(f"{what:>27} {ms:8.1f}")


if __name__ == "__main__":
    main()
