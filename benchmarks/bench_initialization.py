"""The layer-statistics experiment: NumPy vs torch on the CPU (vs CUDA when present), side by
side in one run, plus the share of NumPy's time spent sampling weights and the latency of
lecture 03's explorer update.

    python benchmarks/bench_initialization.py [--width 4096] [--depth 6] [--big-batch 8192]

For the lecture's batch of 16 and for a GPU-sized batch, prints the median seconds of one
forward pass through ``depth`` layers (one scheme: ReLU + Kaiming) per backend and the ratio
NumPy time / backend time (higher = faster than NumPy). A CPU pass at the big batch takes tens
of seconds, so the CPU backends are timed once there (no warm-up) and the GPU seven times.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch

from tnn import initialization as I
from tnn.device import describe_device, exact_float_math, median_seconds, torch_generator
from tnn.widgets.initialization import explorer_update

SCHEME = I.InitScheme("relu", "kaiming")


def forward_seconds(backend: str, x, unit, repeats: int, warmup: int) -> float:
    scales = [SCHEME.std(u.shape[0]) for u in unit]
    if backend == "numpy":
        return median_seconds(lambda: I.layer_statistics(x, unit, "relu", scales=scales),
                              repeats=repeats, warmup=warmup)
    xt = torch.as_tensor(x, device=backend)
    ut = [torch.as_tensor(u, device=backend) for u in unit]
    return median_seconds(lambda: I.layer_statistics_torch(xt, ut, "relu", scales=scales),
                          repeats=repeats, warmup=warmup, device=backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4096)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--big-batch", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    exact_float_math()

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    backends = ["numpy"] + devices
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"numpy {np.__version__}; " + ", ".join(describe_device(d) for d in devices))
    print(f"# float32, {args.depth} layers of width {args.width}; median seconds; "
          f"ratio = NumPy time / backend time")

    # NumPy first: once torch's CPU thread pool has run, NumPy's BLAS threads share the two
    # cores with it and slow down, which would flatter torch.
    rng = np.random.default_rng(0)
    w, d = args.width, args.depth
    batches = (16, args.big_batch)
    xs = {16: None, args.big_batch: np.random.default_rng(1).standard_normal(
        (args.big_batch, w), dtype=np.float32)}
    sample = {"numpy": median_seconds(lambda: I.sample_experiment(rng, d, w, 16), repeats=3,
                                      warmup=1)}
    xs[16], unit = I.sample_experiment(rng, d, w, 16)
    experiment = median_seconds(lambda: I.init_experiment(xs[16], unit), repeats=3, warmup=1)
    forward = {batch: {} for batch in batches}
    for batch in batches:
        repeats, warmup = (args.repeats, 2) if batch == 16 else (1, 0)
        forward[batch]["numpy"] = forward_seconds("numpy", xs[batch], unit, repeats, warmup)
    for dev in devices:
        gen = torch_generator(0, dev)
        sample[dev] = median_seconds(lambda gen=gen: I.sample_experiment_torch(gen, d, w, 16),
                                     repeats=3, warmup=1, device=dev)
        for batch in batches:
            repeats, warmup = (args.repeats, 2) if (batch == 16 or dev == "cuda") else (1, 0)
            forward[batch][dev] = forward_seconds(dev, xs[batch], unit, repeats, warmup)

    share = sample["numpy"] / (sample["numpy"] + experiment)
    print(f"NumPy, whole lecture experiment (sample once, 5 schemes forward): "
          f"{sample['numpy'] + experiment:.2f} s, of which weight sampling {sample['numpy']:.2f} s "
          f"({100 * share:.0f}%)")
    print(f"{'step':>28} | " + " | ".join(f"{b:>18}" for b in backends))
    print(f"{'sample ' + str(d) + ' weights':>28} | " + " | ".join(
        f"{sample[b]:>9.4f} ({sample['numpy'] / sample[b]:>5.1f}x)" for b in backends))
    for batch in batches:
        times = forward[batch]
        print(f"{'forward, batch ' + str(batch):>28} | " + " | ".join(
            f"{times[b]:>9.4f} ({times['numpy'] / times[b]:>5.1f}x)" for b in backends))

    # 3. the explorer's update at its default size on each device
    for dev in [None] + devices[1:]:
        ms = 1e3 * median_seconds(lambda dev=dev: explorer_update(device=dev),
                                  repeats=args.repeats, device=dev)
        print(f"explorer_update(device={dev}): {ms:.1f} ms (target <= 100 ms)")


if __name__ == "__main__":
    main()
