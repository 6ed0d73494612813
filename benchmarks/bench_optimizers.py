"""One Adam / momentum step on a large parameter vector: our NumPy reference, our torch twin
and torch.optim, side by side in one run on the CPU (and on CUDA when present); plus lecture
07's explorer latency (trajectory + redraw).

    python benchmarks/bench_optimizers.py [--params 1048576] [--repeats 25]

One step = read the gradient and the state, write the new parameters and state. Our rules are
pure functions (they return new arrays and leave their inputs alone), so each step allocates;
torch.optim updates its tensors in place (``foreach`` kernels on lists of tensors). The
parameters are split into 8 arrays of equal size, like the layers of a small network. Torch
runs on one CPU thread by default (``--threads``), as NumPy's elementwise arithmetic does:
on a small shared machine two threads per operation made the medians swing several-fold. Each
implementation is called 30 times to warm up, then the implementations take turns, one call
each per round, so that load from other programs hits them alike; times are medians;
"vs NumPy" = NumPy time / this time.
"""

from __future__ import annotations

import argparse
import io
import platform
import time

import numpy as np
import torch

from tnn import optimizers as O
from tnn.device import describe_device, few_threads, median_seconds

TORCH_OPTIM = {
    "momentum": (lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9), {"lr": 1e-3}),
    "adam": (lambda ps: torch.optim.Adam(ps, lr=1e-3), {"lr": 1e-3}),
    "adamw": (lambda ps: torch.optim.AdamW(ps, lr=1e-3), {"lr": 1e-3}),
}
# The first few dozen calls that allocate fresh arrays run several times slower (the
# allocator is still growing its pools and touching new pages): warm up well past that.
WARMUP = 30


def interleaved_medians(fns: list, devices: list, repeats: int, warmup: int) -> list[float]:
    """Median seconds of each ``fns[i]()``, timed in rounds (one call of each per round), so
    that a load change on the machine hits every implementation alike."""
    def sync(dev):
        if dev == "cuda":
            torch.cuda.synchronize()

    for fn, dev in zip(fns, devices, strict=True):
        for _ in range(warmup):
            fn()
        sync(dev)
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, (fn, dev) in enumerate(zip(fns, devices, strict=True)):
            sync(dev)
            t = time.perf_counter()
            fn()
            sync(dev)
            times[i].append(time.perf_counter() - t)
    return [float(np.median(t)) for t in times]


def bench_rule(rule: str, n: int, pieces: int, repeats: int, devices) -> list[tuple]:
    """(implementation, device, seconds per step) for one rule."""
    make_opt, hyper = TORCH_OPTIM[rule]
    numpy_fn, torch_fn = O.RULES[rule]
    rng = np.random.default_rng(0)
    params = {f"p{i}": rng.standard_normal(n // pieces, dtype=np.float32) for i in range(pieces)}
    grads = {k: rng.standard_normal(v.shape, dtype=np.float32) for k, v in params.items()}
    _, state = numpy_fn(params, grads, None, **hyper)  # the state exists after one step
    names, fns, devs = ["NumPy reference"], [lambda: numpy_fn(params, grads, state, **hyper)], ["cpu"]
    for dev in devices:
        P = {k: torch.as_tensor(v, device=dev) for k, v in params.items()}
        G = {k: torch.as_tensor(v, device=dev) for k, v in grads.items()}
        _, S = torch_fn(P, G, None, **hyper)
        names.append("our torch twin")
        fns.append(lambda P=P, G=G, S=S: torch_fn(P, G, S, **hyper))
        devs.append(dev)
        tensors = [v.clone().requires_grad_(True) for v in P.values()]
        for t, g in zip(tensors, G.values(), strict=True):
            t.grad = g.clone()
        optimizer = make_opt(tensors)
        optimizer.step()  # creates the state
        names.append("torch.optim (in place)")
        fns.append(optimizer.step)
        devs.append(dev)
    seconds = interleaved_medians(fns, devs, repeats, WARMUP)
    return list(zip(names, devs, seconds, strict=True))


def explorer_latency(repeats: int) -> list[tuple]:
    """(surface, update ms, update + redraw ms) for lecture 07's explorer figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tnn.plots.optimizers import draw_surface
    from tnn.widgets.optimizers import explorer_update

    rows = []
    for surface in ("quadratic", "rosenbrock"):
        update_ms = 1e3 * median_seconds(
            lambda surface=surface: explorer_update("adam", surface, 0.05, 0.9, 200),
            repeats=repeats)
        fig, ax = plt.subplots(figsize=(5.6, 3.6))  # the widget's figure
        draw_surface(ax, surface)
        line, = ax.plot([], [], ".-", ms=2.5, lw=0.9)
        state = {"lr": 0.05}

        def redraw(surface=surface, ax=ax, line=line, fig=fig, state=state):
            state["lr"] = 0.02 if state["lr"] == 0.05 else 0.05  # a new picture every time
            v = explorer_update("adam", surface, state["lr"], 0.9, 200)
            line.set_data(v["points"][:, 0], v["points"][:, 1])
            ax.set_title(f"adam, lr {state['lr']:.3g}: f - f* = {v['final_gap']:.1e}")
            fig.savefig(io.BytesIO(), format="png")  # what the inline backend does

        rows.append((surface, update_ms, 1e3 * median_seconds(redraw, repeats=repeats)))
        plt.close(fig)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=int, default=2**20)
    parser.add_argument("--pieces", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch's CPU threads (NumPy's elementwise work uses one)")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"numpy {np.__version__}; " + ", ".join(describe_device(d) for d in devices))
    print(f"# float32, {args.params} parameters in {args.pieces} arrays; one step per call; "
          f"median of {args.repeats}; torch on {args.threads} CPU thread(s)")
    print(f"{'rule':>9} {'implementation':>23} {'device':>6} {'ms/step':>9} "
          f"{'Mparam/s':>9} {'vs NumPy':>8}")
    for rule in TORCH_OPTIM:
        with few_threads("cpu", args.threads):
            rows = bench_rule(rule, args.params, args.pieces, args.repeats, devices)
        base = rows[0][2]
        for name, dev, sec in rows:
            print(f"{rule:>9} {name:>23} {dev:>6} {1e3 * sec:>9.3f} "
                  f"{args.params / sec / 1e6:>9.1f} {base / sec:>7.2f}x")
    for surface, update_ms, redraw_ms in explorer_latency(args.repeats):
        print(f"explorer on {surface}: explorer_update (200 Adam steps) {update_ms:.1f} ms; "
              f"update + redraw (inline PNG, 5.6 x 3.6 in) {redraw_ms:.1f} ms "
              f"(target <= 100 ms)")


if __name__ == "__main__":
    main()
