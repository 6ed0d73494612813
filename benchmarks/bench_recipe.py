"""Lecture 10's recipe on digits: its two searches (step 4: 32 trials x 3 epochs; step 5: 16
trials x 15 epochs, AdamW, 64-64-10 MLPs) trained one by one against one batched population
each, side by side in one run on the CPU (and on CUDA when present); plus the whole recipe
(steps 1-7) and the latency of the lecture's explorer.

    python benchmarks/bench_recipe.py [--repeats 3] [--threads 1]

The implementations take turns, one pair of searches each per round, after one warm-up;
times are medians. "vs one by one" = the one-by-one time / this time.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from bench_optimizers import interleaved_medians

from tnn import recipe_experiments as experiments
from tnn.device import describe_device, few_threads, median_seconds
from tnn.optim_experiments import digits_01
from tnn.population import train_population, train_trial
from tnn.search import quasi_random_search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    split = digits_01(0)
    lecture = experiments.LECTURE
    rng = np.random.default_rng(0)
    space = experiments.coarse_space({"lrs": np.array([0.1, 0.01]),
                                      "significant": np.array([True, True])})
    coarse = quasi_random_search(space, lecture["coarse_trials"], rng)
    fine = quasi_random_search(experiments.fine_space(coarse[0]), lecture["fine_trials"], rng)
    searches = [(coarse, lecture["coarse_epochs"]), (fine, lecture["fine_epochs"])]
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}; "
          + ", ".join(describe_device(d) for d in devices))
    print(f"# steps 4 + 5: {len(coarse)} trials x {lecture['coarse_epochs']} epochs, then "
          f"{len(fine)} x {lecture['fine_epochs']}; median of {args.repeats}; torch on "
          f"{args.threads} CPU thread(s)")
    names, fns, devs = [], [], []
    for dev in devices:
        names += ["one by one (torch.optim.AdamW)", "batched populations"]
        fns += [lambda d=dev: [train_trial(t, split, epochs=e, device=d)
                               for trials, e in searches for t in trials],
                lambda d=dev: [train_population(trials, split, epochs=e, device=d)
                               for trials, e in searches]]
        devs += [dev, dev]
    with few_threads("cpu", args.threads):
        seconds = interleaved_medians(fns, devs, args.repeats, warmup=1)
        print(f"{'searches of steps 4-5':>31} {'device':>6} {'s':>7} {'vs one by one':>13}")
        for i, (name, dev, sec) in enumerate(zip(names, devs, seconds, strict=True)):
            print(f"{name:>31} {dev:>6} {sec:7.2f} {seconds[2 * (i // 2)] / sec:13.1f}")
        for dev in devices:
            start = time.perf_counter()
            report = experiments.run_recipe(0, device=dev)
            print(f"the whole recipe (steps 1-7) on {dev}: "
                  f"{time.perf_counter() - start:.1f} s, validation accuracy "
                  f"{report['final']['val_acc']:.3f}")
        from tnn.widgets.recipe import diagnosis_update

        runs = experiments.explorer_runs(0)
        ms = 1e3 * median_seconds(lambda: diagnosis_update(runs, 3, 20), repeats=15)
        print(f"explorer update (a run's curves and their diagnosis): {ms:.2f} ms")


if __name__ == "__main__":
    main()
