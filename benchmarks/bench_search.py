"""A hyperparameter sweep on digits (lecture 09's trials: 64-64-10 MLPs, AdamW, batches of
64): trials one by one against the batched population, side by side in one run on the CPU
(and on CUDA when present).

    python benchmarks/bench_search.py [--trials 64] [--epochs 2] [--repeats 3] [--threads 1]

Three ways to train the same ``--trials`` quasi-random trials (lr, weight decay, dropout):

- one by one with ``torch.optim.AdamW`` (:func:`tnn.population.train_trial`, the reference);
- one by one as populations of one trial (:func:`tnn.population.train_population`);
- all at once, one batched population.

They take turns, one sweep each per round, after one warm-up sweep; times are medians.
"trials/min" counts finished trials; "vs one by one" = the AdamW loop's time / this time.
"GFLOP/s" counts the matrix products of training (forward 2·B·(64·H + H·10) per update and
twice that backward) and of the per-epoch validation pass. Torch runs on ``--threads`` CPU
threads (1 by default: the fastest for matrices this small).
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch
from bench_optimizers import interleaved_medians

from tnn import population
from tnn.device import describe_device, few_threads
from tnn.optim_experiments import digits_01
from tnn.search import quasi_random_search
from tnn.search_experiments import POOL_SPACE


def sweep_flops(n_trials: int, n_train: int, n_val: int, epochs: int, batch_size: int,
                hidden: int = 64, d_in: int = 64, classes: int = 10) -> float:
    """Floating-point operations of the sweep's matrix products (3x forward for an update)."""
    steps = n_train // batch_size
    per_example = 2 * (d_in * hidden + hidden * classes)
    train = 3 * per_example * batch_size * steps
    val = per_example * n_val
    return float(n_trials * epochs * (train + val))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    split = digits_01(0)
    trials = quasi_random_search(POOL_SPACE, args.trials, np.random.default_rng(0))
    flops = sweep_flops(args.trials, len(split["train"].y), len(split["val"].y), args.epochs, 64)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}; "
          + ", ".join(describe_device(d) for d in devices))
    print(f"# {args.trials} trials x {args.epochs} epochs (16 updates each), float32; median "
          f"of {args.repeats}; torch on {args.threads} CPU thread(s)")
    kw = {"epochs": args.epochs}
    names, fns, devs = [], [], []
    for dev in devices:
        names += ["one by one (torch.optim.AdamW)", "one by one (population of 1)",
                  "batched population"]
        fns += [lambda d=dev: [population.train_trial(t, split, device=d, **kw) for t in trials],
                lambda d=dev: [population.train_population([t], split, device=d, **kw)
                               for t in trials],
                lambda d=dev: population.train_population(trials, split, device=d, **kw)]
        devs += [dev] * 3
    with few_threads("cpu", args.threads):
        seconds = interleaved_medians(fns, devs, args.repeats, warmup=1)
    print(f"{'implementation':>31} {'device':>6} {'s/sweep':>8} {'trials/min':>11} "
          f"{'vs one by one':>13} {'GFLOP/s':>8}")
    for i, (name, dev, sec) in enumerate(zip(names, devs, seconds, strict=True)):
        base = seconds[3 * (i // 3)]
        print(f"{name:>31} {dev:>6} {sec:8.2f} {60 * args.trials / sec:11.0f} "
              f"{base / sec:13.1f} {flops / sec / 1e9:8.2f}")


if __name__ == "__main__":
    main()
