"""Activation throughput: NumPy vs torch on the CPU (vs CUDA when present), side by side in one
run, plus the latency of lecture 01's explorer update.

    python benchmarks/bench_activations.py [--n 4000000] [--repeats 7]

Prints Gelem/s per backend (median of repeats) and ratios against NumPy. Each torch column is
our twin (composed from torch ops, as the course writes it) and PyTorch's fused built-in.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch
import torch.nn.functional as F

from tnn import activations as A
from tnn.device import describe_device, median_seconds
from tnn.widgets.activations import DEFAULTS, explorer_update

BUILTIN = {"relu": F.relu, "leaky_relu": F.leaky_relu, "sigmoid": torch.sigmoid,
           "tanh": torch.tanh, "elu": F.elu, "selu": F.selu, "gelu": F.gelu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4_000_000, help="elements per call")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"numpy {np.__version__}; " + ", ".join(describe_device(d) for d in devices))
    print(f"# float32, n = {args.n:,} elements, median of {args.repeats} runs; Gelem/s "
          f"(higher is better), ratio = backend / NumPy")
    x = np.random.default_rng(0).standard_normal(args.n, dtype=np.float32)
    cols = ["numpy"] + [f"{kind} {d}" for d in devices for kind in ("ours", "builtin")]
    print(f"{'activation':>11} | " + " | ".join(f"{c:>14}" for c in cols))
    for name, builtin in BUILTIN.items():
        f = A.ELEMENTWISE[name][0]
        ours = getattr(A, f"{name}_torch")
        rates = {"numpy": args.n / median_seconds(lambda f=f: f(x), repeats=args.repeats) / 1e9}
        for d in devices:
            xt = torch.tensor(x, device=d)
            for kind, fn in (("ours", ours), ("builtin", builtin)):
                seconds = median_seconds(lambda fn=fn, xt=xt: fn(xt), repeats=args.repeats,
                                         device=d)
                rates[f"{kind} {d}"] = args.n / seconds / 1e9
        cells = [f"{rates['numpy']:>14.2f}"] + [
            f"{rates[c]:>6.2f} ({rates[c] / rates['numpy']:>5.1f}x)" for c in cols[1:]]
        print(f"{name:>11} | " + " | ".join(cells))

    sizes = [DEFAULTS, {**DEFAULTS, "depth": 10}]
    for size in sizes:
        kwargs = {k: size[k] for k in ("activation", "input_scale", "depth", "width", "batch")}
        ms = 1e3 * median_seconds(lambda kwargs=kwargs: explorer_update(**kwargs),
                                  repeats=args.repeats)
        print(f"explorer_update({', '.join(f'{k}={v}' for k, v in kwargs.items())}): "
              f"{ms:.1f} ms (target <= 100 ms)")
    print(f"full explorer redraw (update + matplotlib Agg render, depth 6): "
          f"{1e3 * redraw_seconds(args.repeats):.0f} ms")


def redraw_seconds(repeats: int) -> float:
    """Median time of what one slider move costs: the update plus drawing both rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tnn.plots.activations import draw_layer_histograms

    fig, axes = plt.subplots(2, 6, figsize=(10, 3.6))

    def redraw():
        view = explorer_update()
        draw_layer_histograms(axes[0], view["act_hist"])
        draw_layer_histograms(axes[1], view["grad_hist"])
        fig.canvas.draw()

    seconds = median_seconds(redraw, repeats=repeats)
    plt.close(fig)
    return seconds


if __name__ == "__main__":
    main()
