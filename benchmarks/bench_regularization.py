"""Topic 04: penalty gradients, the SGD step and batch norm, NumPy vs our torch twin vs
PyTorch's built-in, on the CPU (and CUDA when present), side by side in one run; then the time
of one training run of the lecture's MLP per device and the latency of lecture 04's explorer
(update alone, and update + redraw of the figure as the widget does it).

    python benchmarks/bench_regularization.py [--size 4194304] [--repeats 7]

Prints median seconds, Gelem/s (elements of the weight or of x processed per second) and the
ratio to NumPy (higher = faster than NumPy).
"""

from __future__ import annotations

import argparse
import io
import platform
from functools import partial

import numpy as np
import torch

from tnn import regularization as R
from tnn.device import describe_device, exact_float_math, few_threads, median_seconds


def _row(label: str, seconds: float, elements: int, numpy_seconds: float) -> None:
    print(f"{label:<44} {seconds * 1e3:9.3f} ms {elements / seconds / 1e9:8.3f} Gelem/s "
          f"{numpy_seconds / seconds:7.2f}x")


def bench_kernels(size: int, repeats: int, devices: list[str]) -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal(size).astype(np.float32)
    g = rng.standard_normal(size).astype(np.float32)
    n, d = 1024, max(size // 1024, 1)
    x = rng.standard_normal((n, d)).astype(np.float32)
    gamma, beta = np.ones(d, np.float32), np.zeros(d, np.float32)
    rm, rv = np.zeros(d, np.float32), np.ones(d, np.float32)

    print(f"\n## penalty gradients and one SGD step ({size} float32 weights)")
    cases = {
        "elastic net (value, grad)": (
            lambda: R.elastic_net_penalty(w, 1e-3, 0.5),
            lambda wt, gt: R.elastic_net_penalty_torch(wt, 1e-3, 0.5),
            lambda wt, gt: torch.autograd.grad(1e-3 * (0.25 * (wt * wt).sum() + wt.abs().sum()),
                                               wt)),
        "L2 SGD step": (
            lambda: R.sgd_step({"W": w}, {"W": g}, 0.1, 1e-3),
            lambda wt, gt: R.sgd_step_torch({"W": wt}, {"W": gt}, 0.1, 1e-3),
            None),
    }
    for name, (numpy_fn, twin_fn, builtin_fn) in cases.items():
        t_np = median_seconds(numpy_fn, repeats=repeats)
        _row(f"{name}: numpy", t_np, size, t_np)
        for dev in devices:
            wt = torch.as_tensor(w, device=dev)
            gt = torch.as_tensor(g, device=dev)
            t = median_seconds(partial(twin_fn, wt, gt), repeats=repeats, device=dev)
            _row(f"{name}: torch twin ({dev})", t, size, t_np)
            if builtin_fn is not None:
                wg = wt.clone().requires_grad_(True)
                t = median_seconds(partial(builtin_fn, wg, gt), repeats=repeats, device=dev)
                _row(f"{name}: torch.autograd ({dev})", t, size, t_np)
            else:
                p = wt.clone().requires_grad_(True)
                p.grad = gt.clone()
                opt = torch.optim.SGD([p], lr=0.1, weight_decay=1e-3)
                t = median_seconds(opt.step, repeats=repeats, device=dev)
                _row(f"{name}: torch.optim.SGD in place ({dev})", t, size, t_np)

    print(f"\n## batch norm forward, training mode (x of shape ({n}, {d}), float32)")
    t_np = median_seconds(lambda: R.batchnorm_forward(x, gamma, beta, rm, rv, True),
                          repeats=repeats)
    _row("numpy", t_np, x.size, t_np)
    for dev in devices:
        args = [torch.as_tensor(a, device=dev) for a in (x, gamma, beta, rm, rv)]
        t = median_seconds(partial(R.batchnorm_forward_torch, *args, True), repeats=repeats,
                           device=dev)
        _row(f"torch twin ({dev})", t, x.size, t_np)
        rmc, rvc = args[3].clone(), args[4].clone()
        t = median_seconds(partial(torch.nn.functional.batch_norm, args[0], rmc, rvc, args[1],
                                   args[2], training=True), repeats=repeats, device=dev)
        _row(f"F.batch_norm ({dev})", t, x.size, t_np)


def bench_training(devices: list[str]) -> None:
    print("\n## one training run of the lecture's MLP (200 digits, 50 epochs, L2 3e-3)")
    split = R.lecture_split(0)
    for dev in devices:
        with few_threads(dev):
            t = median_seconds(partial(R.train_with_snapshots, split, seed=0, kind="l2",
                                       lam=3e-3, device=dev), repeats=3, warmup=1, device=dev)
        print(f"{dev + (' (1 thread)' if dev == 'cpu' else ''):<44} {t:9.3f} s")


def bench_explorer() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tnn.widgets.regularization import explorer_figure, explorer_update, precompute

    print("\n## lecture 04's explorer (the grid trained once, then a lookup and a redraw)")
    precompute()
    lams = [1e-3, 3e-3, 1e-2, 3e-2]
    state = {"i": 0}

    def update():
        state["i"] += 1
        return explorer_update("l2", lams[state["i"] % 4])

    t_update = median_seconds(update, repeats=15, warmup=2)
    fig, draw = explorer_figure()

    def redraw():
        draw(update())
        fig.savefig(io.BytesIO(), format="png")  # what the inline display renders each change

    t_draw = median_seconds(redraw, repeats=15, warmup=2)
    plt.close(fig)
    print(f"{'explorer_update (lookup + summary)':<44} {t_update * 1e3:9.3f} ms")
    print(f"{'update + redraw + PNG (what the student waits)':<44} {t_draw * 1e3:9.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4 * 2**20)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    exact_float_math()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"numpy {np.__version__}; " + ", ".join(describe_device(d) for d in devices))
    print("# median time; Gelem/s; ratio = NumPy time / this time")
    bench_kernels(args.size, args.repeats, devices)
    bench_training(devices)
    bench_explorer()


if __name__ == "__main__":
    main()
