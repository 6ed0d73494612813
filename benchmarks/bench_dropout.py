"""Dropout forward + backward throughput: NumPy reference, our torch twin and PyTorch's
built-in (``F.dropout`` + autograd) on the CPU, and on CUDA when present, side by side in one
run, each against the machine's memory-bandwidth floor; plus lecture 05's explorer latency.

    python benchmarks/bench_dropout.py [--elements 16777216] [--keep-prob 0.5]

One step = draw a mask, forward pass, backward pass, on float32 arrays of ``--elements``
entries ("mask given": forward and backward only, the mask drawn beforehand). Throughput is elements per second (Gelem/s). A fused dropout must at least read x and
write y and the mask (forward), then read dout and the mask and write dx (backward): 18 bytes
per element. The floor is those bytes at the bandwidth of a large array copy measured on the
same device (``dst.copy_(src)``: 8 bytes per element moved); "of floor" is floor time /
measured time (1.0 = as fast as memory allows).
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch
import torch.nn.functional as F

from tnn import dropout as D
from tnn.device import copy_bandwidth, describe_device, few_threads, median_seconds, torch_generator

BYTES_PER_ELEMENT = 18  # fwd: read x 4, write y 4, write mask 1; bwd: read dout 4, mask 1, write dx 4


def step_numpy(x, dout, keep_prob, rng):
    mask = D.dropout_mask(rng, x.shape, keep_prob)
    D.inverted_dropout_forward(x, mask, keep_prob)
    return D.inverted_dropout_backward(dout, mask, keep_prob)


def step_twin(x, dout, keep_prob, gen):
    mask = D.dropout_mask_torch(gen, x.shape, keep_prob)
    D.inverted_dropout_forward_torch(x, mask, keep_prob)
    return D.inverted_dropout_backward_torch(dout, mask, keep_prob)


def fwd_bwd_numpy(x, dout, keep_prob, mask):
    D.inverted_dropout_forward(x, mask, keep_prob)
    return D.inverted_dropout_backward(dout, mask, keep_prob)


def fwd_bwd_twin(x, dout, keep_prob, mask):
    D.inverted_dropout_forward_torch(x, mask, keep_prob)
    return D.inverted_dropout_backward_torch(dout, mask, keep_prob)


def step_builtin(x, dout, keep_prob):
    y = F.dropout(x, p=1 - keep_prob, training=True)  # PyTorch's p: the DROP probability
    return torch.autograd.grad(y, x, dout)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=2**24)
    parser.add_argument("--keep-prob", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    n, k, reps = args.elements, args.keep_prob, args.repeats
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"numpy {np.__version__}; " + ", ".join(describe_device(d) for d in devices))
    print(f"# float32, {n} elements, keep_prob {k}; one step = mask + forward + backward; "
          f"median of {reps}; floor = {BYTES_PER_ELEMENT} B/element at copy bandwidth")
    rows = []
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    dout = rng.standard_normal(n, dtype=np.float32)
    bw = copy_bandwidth("numpy", n, reps)
    sec = median_seconds(lambda: step_numpy(x, dout, k, rng), repeats=reps)
    rows.append(("NumPy reference", "cpu", sec, bw))
    mask = D.dropout_mask(rng, x.shape, k)
    sec = median_seconds(lambda: fwd_bwd_numpy(x, dout, k, mask), repeats=reps)
    rows.append(("NumPy, mask given", "cpu", sec, bw))
    for dev in devices:
        bw = copy_bandwidth(dev, n, reps)
        xt = torch.as_tensor(x, device=dev)
        dt = torch.as_tensor(dout, device=dev)
        gen = torch_generator(0, dev)
        sec = median_seconds(lambda xt=xt, dt=dt, gen=gen: step_twin(xt, dt, k, gen),
                             repeats=reps, device=dev)
        rows.append(("our torch twin", dev, sec, bw))
        mt = torch.as_tensor(mask, device=dev)
        sec = median_seconds(lambda xt=xt, dt=dt, mt=mt: fwd_bwd_twin(xt, dt, k, mt),
                             repeats=reps, device=dev)
        rows.append(("torch twin, mask given", dev, sec, bw))
        xg = xt.clone().requires_grad_(True)
        sec = median_seconds(lambda xg=xg, dt=dt: step_builtin(xg, dt, k), repeats=reps,
                             device=dev)
        rows.append(("F.dropout + autograd", dev, sec, bw))
    print(f"{'implementation':>22} {'device':>6} {'ms/step':>9} {'Gelem/s':>8} "
          f"{'copy GB/s':>9} {'of floor':>8} {'vs NumPy':>8}")
    base = rows[0][2]
    for name, dev, sec, bw in rows:
        floor = BYTES_PER_ELEMENT * n / bw
        print(f"{name:>22} {dev:>6} {1e3 * sec:>9.2f} {n / sec / 1e9:>8.3f} {bw / 1e9:>9.1f} "
              f"{floor / sec:>8.2f} {base / sec:>7.1f}x")

    # lecture 05's explorer: the update (precomputed curves) and the in-place redraw
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tnn.data import small_digits
    from tnn.widgets.dropout import explorer_update

    splits = {0: small_digits(np.random.default_rng(0))}
    with few_threads():
        sweep = D.keep_prob_sweep(splits, (1.0, 0.5), epochs=100, batch_size=32)
    update_ms = 1e3 * median_seconds(lambda: explorer_update(sweep, 0.5), repeats=15)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    lines = [ax.plot(sweep[1.0]["train_curve"])[0], ax.plot(sweep[1.0]["val_curve"])[0]]
    state = {"k": 1.0}

    def redraw():
        state["k"] = 0.5 if state["k"] == 1.0 else 1.0
        v = explorer_update(sweep, state["k"])
        lines[0].set_ydata(v["train"])
        lines[1].set_ydata(v["val"])
        ax.set_title(f"keep_prob = {v['keep_prob']:g}: gap {v['gap']:.3f}")
        fig.savefig(io.BytesIO(), format="png")

    redraw_ms = 1e3 * median_seconds(redraw, repeats=15)
    print(f"explorer_update: {update_ms:.3f} ms; update + redraw (inline PNG, 6 x 3.2 in): "
          f"{redraw_ms:.1f} ms (target <= 100 ms)")


if __name__ == "__main__":
    main()
