"""Augmentation throughput (images per second) of a realistic training pipeline, random
resized crop + horizontal flip + colour jitter + Cutout, four ways side by side in one run:
a per-image loop over our NumPy functions, torchvision's v2 transforms per image on the CPU
(when torchvision is installed), our batched torch twins on the CPU, and on CUDA when present.

    python benchmarks/bench_augmentation.py [--sizes 32 224] [--repeats 5] [--threads 1]

Every row runs the same four operations on float32 images with values in [0, 1]:
RandomResizedCrop to the input size (scale (0.08, 1), ratio (3/4, 4/3), bilinear without
antialiasing), a horizontal flip with probability 1/2, colour jitter 0.4 / 0.4 / 0.4
(brightness, contrast, saturation) and a Cutout square of side H / 4 set to 0 (torchvision:
RandomErasing with p = 1, that area and ratio 1, value 0; its square stays inside the image).
The floor is the least memory traffic of a fused pipeline, read the image and write the
result (2 x 4 x H x W x 3 bytes per image), at the bandwidth of a large float32 copy measured
on the same device; "of floor" = floor time / measured time (1.0 = as fast as memory allows).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

import numpy as np
import torch

from tnn import augmentation as A
from tnn.device import copy_bandwidth, describe_device, median_seconds, torch_generator

JITTER = (0.4, 0.4, 0.4)


def interleaved_medians(calls, repeats: int) -> list[float]:
    """Median seconds of each ``(fn, device)``, timed in turn within every repeat, so that a
    load that comes and goes on a shared machine slows every row alike."""
    for fn, dev in calls:
        median_seconds(fn, repeats=1, warmup=1, device=None if dev == "cpu" else dev)
    times = [[] for _ in calls]
    for _ in range(repeats):
        for k, (fn, dev) in enumerate(calls):
            times[k].append(median_seconds(fn, repeats=1, warmup=0,
                                           device=None if dev == "cpu" else dev))
    return [statistics.median(t) for t in times]


def pipeline_numpy_loop(x, rng):
    """(a) One image at a time through our NumPy functions (a (1, H, W, C) batch each)."""
    size = x.shape[1:3]
    out = np.empty_like(x)
    for i in range(len(x)):
        img = x[i:i + 1]
        img, _ = A.random_resized_crop(img, size, rng=rng)
        img, _ = A.random_flip(img, 0.5, rng)
        img, _ = A.color_jitter(img, *JITTER, rng=rng)
        out[i], _ = A.cutout(img, size[0] // 4, rng)
    return out


def pipeline_torch(x, gen):
    """(c, d) The whole batch through our torch twins: no Python loop over images."""
    size = tuple(x.shape[2:])
    x, _ = A.random_resized_crop_torch(x, size, generator=gen)
    x, _ = A.random_flip_torch(x, 0.5, gen)
    x, _ = A.color_jitter_torch(x, *JITTER, generator=gen)
    x, _ = A.cutout_torch(x, size[0] // 4, gen)
    return x


def torchvision_pipeline(h: int, w: int):
    """(b) torchvision's v2 transforms, the same four steps, or None without torchvision."""
    try:
        from torchvision.transforms import v2
    except ImportError:
        return None
    share = (h // 4) ** 2 / (h * w)
    return v2.Compose([
        v2.RandomResizedCrop((h, w), antialias=False),
        v2.RandomHorizontalFlip(0.5),
        v2.ColorJitter(*JITTER),
        v2.RandomErasing(p=1.0, scale=(share, share), ratio=(1.0, 1.0), value=0.0),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 224])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    try:
        import torchvision

        tv = f"torchvision {torchvision.__version__}"
    except ImportError:
        tv = "no torchvision"
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__}, {tv}, numpy {np.__version__}; "
          + ", ".join(describe_device(d) for d in devices))
    print(f"# float32; random resized crop + hflip + colour jitter + Cutout; median of "
          f"{args.repeats}, the rows timed in turn; floor = read + write of each image at copy bandwidth")
    bandwidth = {"numpy": copy_bandwidth("numpy"), **{d: copy_bandwidth(d) for d in devices}}
    print(f"{'implementation':>26} {'device':>6} {'image':>11} {'batch':>5} {'ms/batch':>9} "
          f"{'images/s':>9} {'copy GB/s':>9} {'of floor':>8} {'vs loop':>8}")
    for side in args.sizes:
        n = 256 if side <= 64 else 32
        rng = np.random.default_rng(0)
        x = rng.random((n, side, side, 3), dtype=np.float32)
        xt_cpu = torch.as_tensor(x.transpose(0, 3, 1, 2).copy())
        # (name, device, function, bandwidth of its device)
        rows = [("NumPy, per-image loop", "cpu",
                 lambda x=x, rng=rng: pipeline_numpy_loop(x, rng), bandwidth["numpy"])]
        compose = torchvision_pipeline(side, side)
        if compose is not None:
            torch.manual_seed(0)
            rows.append(("torchvision v2, per image", "cpu",
                         lambda c=compose, xs=xt_cpu: [c(img) for img in xs], bandwidth["cpu"]))
        for dev in devices:
            xt, gen = xt_cpu.to(dev), torch_generator(0, dev)
            rows.append(("our torch twins, batched", dev,
                         lambda xt=xt, gen=gen: pipeline_torch(xt, gen), bandwidth[dev]))
        seconds = interleaved_medians([(fn, dev) for _, dev, fn, _ in rows], args.repeats)
        base = seconds[0]
        bytes_per_batch = n * 2 * 4 * side * side * 3
        for (name, dev, _, bw), sec in zip(rows, seconds, strict=True):
            print(f"{name:>26} {dev:>6} {f'{side}x{side}x3':>11} {n:>5} {1e3 * sec:>9.2f} "
                  f"{n / sec:>9.0f} {bw / 1e9:>9.1f} {bytes_per_batch / bw / sec:>8.3f} "
                  f"{base / sec:>7.1f}x")


if __name__ == "__main__":
    main()
