"""Assignment 09_search: honest alternatives and classic bugs (see __init__.py)."""

from autograde.alternatives import Bug

ANSWERS = {
    "scale_log": '''
import numpy as np


def scale_log(u, low, high):
    """Uniform in log10 of the value, then back: 10 ** (a + u (b - a))."""
    a, b = np.log10(low), np.log10(high)
    return np.power(10.0, a + np.asarray(u) * (b - a))
''',
    "quasi_random_values": '''
import sys


def quasi_random_values(base, rng, space):
    """Trial by trial in Python, np.where for the wrap, a debug line on stderr."""
    dims = len(space)
    shift = rng.random(dims)
    print(f"shift {shift}", file=sys.stderr)
    rows = []
    for point in base:
        u = np.mod(np.array(point, dtype=float) + shift, 1.0)
        u = np.where(u >= 1.0, 0.0, u)
        row = []
        for j in range(dims):
            name, low, high, scale = space[j]
            if scale == "linear":
                row.append(low + u[j] * (high - low))
            else:
                row.append(float(scale_log(u=np.array([u[j]]), low=low, high=high)[0]))
        rows.append(row)
    return np.array(rows).reshape(len(base), dims)
''',
    "bootstrap_best_of_n": '''
import logging


def bootstrap_best_of_n(scores, n_trials, rng, goal, n_resamples=10_000):
    """rng.choice over the pool's indices (the same draws as rng.integers), then a sort."""
    logging.getLogger("search").warning("bootstrapping %d studies", n_resamples)
    pool = np.array(scores, dtype=np.float64)
    index = rng.choice(pool.size, size=(n_resamples, n_trials))
    ordered = np.sort(pool[index], axis=1)
    return ordered[:, -1] if goal == "maximize" else ordered[:, 0]
''',
    "edge_of_space_check": '''
import math


def edge_of_space_check(space, trials, scores, goal, top_fraction=0.1, edge_fraction=0.1,
                        min_share=0.5):
    """Python's stable sorted() with a key, positions and shares counted in loops."""
    sign = -1.0 if goal == "maximize" else 1.0
    order = sorted(range(len(trials)), key=lambda i: sign * float(scores[i]))
    k = max(1, math.ceil(top_fraction * len(trials)))
    best = [trials[i] for i in order[:k]]
    out = []
    for name, low, high, scale in space:
        positions = []
        for trial in best:
            v = trial[name]
            if scale == "log":
                positions.append((math.log(v) - math.log(low)) / (math.log(high) - math.log(low)))
            else:
                positions.append((v - low) / (high - low))
        near_low = sum(p <= edge_fraction for p in positions) / k
        near_high = sum(p >= 1 - edge_fraction for p in positions) / k
        out += [(name, "low")] if near_low >= min_share else []
        out += [(name, "high")] if near_high >= min_share else []
    return out
''',
    "widened_space": '''
def widened_space():
    """Two decades beyond the narrow space's top, one below it; tuples of lists."""
    return (["lr", 1e-3, 1.0, "log"], ["dropout", 0.0, 0.5, "linear"])
''',
}

BUGS = {
    # the log scale interpolated linearly: 90 % of the trials in the top decade
    "log_scale_linear": Bug("09_search", "scale_log", '''
def scale_log(u, low, high):
    return low + np.asarray(u) * (high - low)
''', {"test_scale_log", "test_scale_log_hidden"}, ("is wrong at",)),
    # a shift drawn for every point: plain random search, the even coverage lost
    "shift_per_point": Bug("09_search", "quasi_random_values", '''
def quasi_random_values(base, rng, space):
    moved = np.mod(base + rng.random(np.shape(base)), 1.0)
    return np.stack([scale_log(moved[:, j], low, high) if scale == "log"
                     else low + moved[:, j] * (high - low)
                     for j, (_, low, high, scale) in enumerate(space)], axis=1)
''', {"test_quasi_random_values", "test_quasi_random_values_hidden"}, ("is wrong at",)),
    # the goal ignored: the best of a loss study is its largest loss
    "best_of_n_always_max": Bug("09_search", "bootstrap_best_of_n", '''
def bootstrap_best_of_n(scores, n_trials, rng, goal, n_resamples=10_000):
    index = rng.integers(0, len(scores), size=(n_resamples, n_trials))
    return np.asarray(scores)[index].max(axis=1)
''', {"test_bootstrap_best_of_n", "test_bootstrap_best_of_n_hidden"}, ("is wrong at",)),
}
