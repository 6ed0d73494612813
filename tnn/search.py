"""Topic 09: hyperparameter search: search spaces, grid / random / quasi-random samplers,
the best-of-N bootstrap and the edge-of-space check.

A search space is data: an ordered tuple of :class:`Axis`, each with a name, a range and a
scale. Every sampler first draws points ``u`` in the unit cube ``[0, 1)^D`` (one column per
axis) and then maps each column onto its axis with :func:`from_unit`, the one place where
scales are written:

- ``"linear"``: ``low + u * (high - low)``
- ``"log"`` (log-uniform): ``low * (high / low) ** u``, so each decade gets the same share
- ``"int"``: ``floor(low + u * (high - low + 1))``, every integer ``low .. high`` equally likely
- ``"int_log"``: ``floor(low * ((high + 1) / low) ** u)``, integers ``low .. high``,
  log-uniform (small values are tried as often per decade as large ones)
- ``"categorical"``: ``choices[floor(u * k)]`` for ``k`` choices

A trial is a dict ``{axis name: value}``; a sampler returns a list of trials.

Quasi-random points are scrambled Sobol' (or Halton) points from ``scipy.stats.qmc``,
shifted by one uniform random vector and wrapped mod 1 (a Cranley-Patterson rotation):
the points keep their even coverage while every point is uniform on the cube.

Scores: each function that ranks trials takes ``goal="maximize"`` (accuracy) or
``goal="minimize"`` (loss, error); there is no default, so a call always says which.
"""

from __future__ import annotations

import importlib
import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy
from scipy.stats import qmc

from tnn._validate import (
    _describe,
    as_float_array,
    check_choice,
    check_int,
    check_positive,
    check_rng,
)

__all__ = [
    "SCALES", "Axis", "SearchSpace", "scale_linear", "scale_log", "scale_int",
    "scale_categorical", "from_unit", "axis_position", "unit_to_trials", "grid_values",
    "grid_search", "random_unit_points", "scrambled_unit_points", "cranley_patterson_shift",
    "quasi_random_unit_points", "random_search", "quasi_random_search", "distinct_values",
    "bootstrap_best_of_n", "best_of_n_exact_cdf", "best_of_n_summary", "edge_of_space_check",
]

SCALES = ("linear", "log", "int", "int_log", "categorical")
GOALS = ("maximize", "minimize")
QMC_METHODS = ("sobol", "halton")


# --------------------------------------------------------------------------------------------
# the search space
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """One hyperparameter: its name, its range and the scale it is sampled on, e.g.
    ``Axis("lr", 1e-4, 1e-1, "log")``, ``Axis("width", 16, 256, "int_log")``,
    ``Axis("activation", scale="categorical", choices=("relu", "tanh"))``.

    Parameters
    ----------
    name : str
        The key of this hyperparameter in every trial dict.
    low, high : float or int
        The range, ``low < high``, both included (a continuous sample reaches ``high`` only
        at ``u = 1``). ``"log"`` and ``"int_log"`` need ``low > 0``; ``"int"`` and
        ``"int_log"`` need ints. Leave both ``None`` for a categorical axis.
    scale : {"linear", "log", "int", "int_log", "categorical"}
        How a unit-cube coordinate becomes a value (see the module's docstring).
    choices : tuple
        The values of a categorical axis (at least 2, no repeats); empty otherwise.
    """

    name: str
    low: float | int | None = None
    high: float | int | None = None
    scale: str = "linear"
    choices: tuple = ()

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"Axis name must be a non-empty str; got {_describe(self.name)}.")
        check_choice(self.scale, f"scale of axis {self.name!r}", SCALES)
        if self.scale == "categorical":
            self._check_categorical()
        else:
            self._check_range()

    def _check_categorical(self):
        if self.low is not None or self.high is not None:
            raise ValueError(f"categorical axis {self.name!r} takes choices, not low/high; got "
                             f"low={self.low!r}, high={self.high!r}. Drop low and high.")
        if isinstance(self.choices, str) or not isinstance(self.choices, Sequence):
            raise TypeError(f"choices of axis {self.name!r} must be a tuple of values; got "
                            f"{_describe(self.choices)}. Write e.g. choices=('relu', 'tanh').")
        choices = tuple(self.choices)
        if len(choices) < 2 or len(set(map(repr, choices))) != len(choices):
            raise ValueError(f"categorical axis {self.name!r} needs at least 2 distinct choices; "
                             f"got {choices!r}. A value that never changes is a fixed "
                             f"hyperparameter: leave it out of the search space.")
        object.__setattr__(self, "choices", choices)

    def _check_range(self):
        name, is_int = self.name, self.scale in ("int", "int_log")
        if self.choices:
            raise ValueError(f"axis {name!r} has scale {self.scale!r} but was given choices "
                             f"{self.choices!r}. Pass scale='categorical' for a list of values.")
        for side in ("low", "high"):
            value = getattr(self, side)
            if is_int and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
                raise TypeError(f"{side} of integer axis {name!r} must be an int; got "
                                f"{_describe(value)}. Use scale='linear' or 'log' for floats.")
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
                    not math.isfinite(value):
                raise TypeError(f"{side} of axis {name!r} must be a finite real number; got "
                                f"{_describe(value)}.")
            object.__setattr__(self, side, int(value) if is_int else float(value))
        if not self.low < self.high:
            raise ValueError(f"axis {name!r} needs low < high; got low={self.low}, "
                             f"high={self.high}. Swap them, or leave a fixed value out of the "
                             f"search space.")
        if self.scale in ("log", "int_log") and self.low <= 0:
            raise ValueError(f"log axis {name!r} needs low > 0 (log(0) is -inf); got "
                             f"low={self.low}. Start at a small positive value, e.g. 1e-5, or "
                             f"use scale='linear'.")


@dataclass(frozen=True)
class SearchSpace:
    """An ordered tuple of :class:`Axis` with distinct names: column ``j`` of a unit-cube
    point belongs to ``axes[j]``."""

    axes: tuple

    def __post_init__(self):
        axes = self.axes
        if isinstance(axes, Axis) or not isinstance(axes, Sequence) or len(axes) == 0:
            raise TypeError(f"axes must be a non-empty tuple of Axis; got {_describe(axes)}. "
                            f"Write e.g. SearchSpace((Axis('lr', 1e-4, 1e-1, 'log'),)).")
        for i, axis in enumerate(axes):
            if not isinstance(axis, Axis):
                raise TypeError(f"axes[{i}] must be an Axis; got {_describe(axis)}.")
        names = [a.name for a in axes]
        if len(set(names)) != len(names):
            raise ValueError(f"axis names must be distinct (they are the trials' keys); got "
                             f"{names}.")
        object.__setattr__(self, "axes", tuple(axes))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.axes)

    def __len__(self) -> int:
        return len(self.axes)

    def __iter__(self):
        return iter(self.axes)


def _space(space) -> SearchSpace:
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, Axis):
        return SearchSpace((space,))
    if isinstance(space, Sequence) and not isinstance(space, str):
        return SearchSpace(tuple(space))
    raise TypeError(f"space must be a SearchSpace (or a list of Axis); got {_describe(space)}.")


def _goal(goal) -> str:
    if goal not in GOALS:
        raise ValueError(f"goal must be 'maximize' (accuracy) or 'minimize' (loss, error); got "
                         f"{_describe(goal)}. Say which way is better, e.g. goal='maximize'.")
    return goal


# --------------------------------------------------------------------------------------------
# from the unit interval to an axis
# --------------------------------------------------------------------------------------------
def _unit(u, name: str = "u") -> np.ndarray:
    u = as_float_array(u, name)
    if u.size and not (np.all(u >= 0) and np.all(u <= 1)):
        raise ValueError(f"{name} must lie in [0, 1] (points of the unit cube); got values in "
                         f"[{np.nanmin(u):.4g}, {np.nanmax(u):.4g}]"
                         f"{' and NaN' if np.isnan(u).any() else ''}.")
    return u


def _range(low, high, *, log: bool = False) -> None:
    if not (isinstance(low, numbers.Real) and isinstance(high, numbers.Real) and low < high):
        raise ValueError(f"the range needs low < high; got low={low!r}, high={high!r}.")
    if log and not low > 0:
        raise ValueError(f"a log scale needs low > 0 (log(0) is -inf); got low={low!r}.")


def scale_linear(u, low: float, high: float) -> np.ndarray:
    """``low + u * (high - low)``: uniform on ``[low, high]``.

    ``u : ndarray of shape (N,)`` in ``[0, 1]``; returns ``ndarray of shape (N,)``.
    """
    u = _unit(u)
    _range(low, high)
    return low + u * (high - low)


def scale_log(u, low: float, high: float) -> np.ndarray:
    """``low * (high / low) ** u``: log-uniform on ``[low, high]`` (``low > 0``).

    Uniform in ``log(value)``: ``[1e-4, 1e-1]`` gives each of its three decades a third of the
    samples. ``u : ndarray of shape (N,)`` in ``[0, 1]``; returns ``ndarray of shape (N,)``.
    """
    u = _unit(u)
    _range(low, high, log=True)
    return low * (high / low) ** u


def scale_int(u, low: int, high: int, *, log: bool = False) -> np.ndarray:
    """Integers ``low .. high`` (both included), uniform or (``log=True``) log-uniform.

    Linear: ``floor(low + u * (high - low + 1))``, each integer with probability
    ``1 / (high - low + 1)``. Log: ``floor(low * ((high + 1) / low) ** u)``, integer ``k``
    with probability ``log((k + 1) / k) / log((high + 1) / low)``. ``u = 1`` gives ``high``.

    ``u : ndarray of shape (N,)`` in ``[0, 1]``; returns ``ndarray of shape (N,)``, int64.
    """
    u = _unit(u)
    _range(low, high, log=log)
    top = high + 1  # 1. the half-open range [low, high + 1) covers every integer once
    x = low * (top / low) ** u if log else low + u * (top - low)
    return np.minimum(np.floor(x), high).astype(np.int64)  # 2. u = 1 lands on high


def scale_categorical(u, choices: Sequence) -> list:
    """``choices[floor(u * k)]`` for ``k = len(choices)``: each choice on ``1 / k`` of [0, 1).

    ``u : ndarray of shape (N,)`` in ``[0, 1]``; returns a list of ``N`` choices.
    """
    u = _unit(u)
    k = len(choices)
    index = np.minimum(np.floor(u * k), k - 1).astype(np.int64)  # u = 1 -> the last choice
    return [choices[i] for i in index.ravel()]


def from_unit(axis: Axis, u) -> np.ndarray | list:
    """Map unit coordinates ``u`` (ndarray of shape (N,), in [0, 1]) onto ``axis``'s scale.

    Returns ndarray of shape (N,) (float, or int64 for integer axes), or a list of ``N``
    choices for a categorical axis.
    """
    if not isinstance(axis, Axis):
        raise TypeError(f"axis must be an Axis; got {_describe(axis)}.")
    if axis.scale == "linear":
        return scale_linear(u, axis.low, axis.high)
    if axis.scale == "log":
        return scale_log(u, axis.low, axis.high)
    if axis.scale in ("int", "int_log"):
        return scale_int(u, axis.low, axis.high, log=axis.scale == "int_log")
    return scale_categorical(u, axis.choices)


def axis_position(axis: Axis, values) -> np.ndarray:
    """Where ``values`` lie on ``axis``'s own scale: 0 at ``low``, 1 at ``high``.

    Linear and int axes: ``(v - low) / (high - low)``; log axes:
    ``log(v / low) / log(high / low)``. Categorical axes have no order and are refused.
    ``values : ndarray of shape (N,)``; returns ``ndarray of shape (N,)``.
    """
    if axis.scale == "categorical":
        raise ValueError(f"axis {axis.name!r} is categorical: its choices have no order, so "
                         f"they have no position between low and high.")
    v = as_float_array(values, f"values of axis {axis.name!r}").astype(np.float64)
    if axis.scale in ("log", "int_log"):
        if np.any(v <= 0):
            raise ValueError(f"values of log axis {axis.name!r} must be > 0; got "
                             f"min {v.min():.4g}.")
        return np.log(v / axis.low) / np.log(axis.high / axis.low)
    return (v - axis.low) / (axis.high - axis.low)


def unit_to_trials(space, points) -> list[dict]:
    """Map unit-cube points onto ``space``: column ``j`` onto ``space.axes[j]``.

    ``points : ndarray of shape (N, D)`` in ``[0, 1]``, ``D = len(space)``. Returns a list of
    ``N`` trials ``{name: value}`` holding Python numbers (or the categorical choices).
    """
    space = _space(space)
    points = _unit(points, "points")
    if points.ndim != 2 or points.shape[1] != len(space):
        raise ValueError(f"points must have shape (N, {len(space)}), one column per axis of "
                         f"{list(space.names)}; got shape {points.shape}.")
    columns = []
    for j, axis in enumerate(space):
        values = from_unit(axis, points[:, j])
        columns.append(values if isinstance(values, list) else values.tolist())
    return [dict(zip(space.names, row, strict=True)) for row in zip(*columns, strict=True)]


# --------------------------------------------------------------------------------------------
# samplers
# --------------------------------------------------------------------------------------------
def grid_values(axis: Axis, points_per_axis: int) -> list:
    """The grid's values on one axis: ``points_per_axis`` evenly spaced on its own scale,
    both ends included (``np.linspace`` / ``np.geomspace``).

    Integer axes round to the nearest integer and drop repeats (so they may hold fewer
    values); a categorical axis always gives all its choices.
    """
    m = check_int(points_per_axis, "points_per_axis", minimum=2)
    if not isinstance(axis, Axis):
        raise TypeError(f"axis must be an Axis; got {_describe(axis)}.")
    if axis.scale == "categorical":
        return list(axis.choices)
    spaced = (np.geomspace if axis.scale in ("log", "int_log") else np.linspace)
    values = spaced(axis.low, axis.high, m)  # (m,)
    if axis.scale in ("int", "int_log"):
        values = np.unique(np.rint(values).astype(np.int64))
    return values.tolist()


def grid_search(space, points_per_axis: int) -> list[dict]:
    """Every combination of :func:`grid_values` over the axes (the first axis varies slowest).

    A grid of ``m`` points per axis over ``D`` numeric axes costs ``m ** D`` trials and tries
    only ``m`` distinct values of each hyperparameter.
    """
    space = _space(space)
    per_axis = [grid_values(axis, points_per_axis) for axis in space]
    return [dict(zip(space.names, combo, strict=True)) for combo in itertools.product(*per_axis)]


def random_unit_points(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` independent uniform points in ``[0, 1)^dim``: ndarray of shape (n, dim)."""
    n, dim = check_int(n, "n"), check_int(dim, "dim")
    return check_rng(rng).random((n, dim))


def _qmc_rng_keyword(version: str = scipy.__version__) -> str:
    """SciPy >= 1.15 names the random source of ``scipy.stats.qmc`` engines ``rng``; before
    it was ``seed`` (the project supports SciPy >= 1.11)."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return "rng" if (major, minor) >= (1, 15) else "seed"


def scrambled_unit_points(n: int, dim: int, rng: np.random.Generator,
                          method: str = "sobol") -> np.ndarray:
    """The first ``n`` scrambled Sobol' (or Halton) points in ``[0, 1)^dim``, shape (n, dim).

    The scrambling draws from ``rng``, so the result equals
    ``scipy.stats.qmc.Sobol(dim, rng=rng).random(n)`` for a generator in the same state.
    Sobol' points are drawn in a block of the next power of two and cut to ``n`` (the same
    points, without SciPy's warning about the balance of sizes that are not powers of two).
    """
    n, dim = check_int(n, "n"), check_int(dim, "dim")
    check_choice(method, "method", QMC_METHODS)
    kwargs = {_qmc_rng_keyword(): check_rng(rng)}
    if method == "halton":
        return qmc.Halton(dim, scramble=True, **kwargs).random(n)
    engine = qmc.Sobol(dim, scramble=True, **kwargs)
    return engine.random_base2(max(0, math.ceil(math.log2(n))))[:n]  # (n, dim)


def cranley_patterson_shift(points, shift) -> np.ndarray:
    """``(points + shift) mod 1``: move every point by the same vector and wrap around.

    ``points : ndarray of shape (N, D)`` in ``[0, 1)``, ``shift : ndarray of shape (D,)``;
    returns ``ndarray of shape (N, D)`` in ``[0, 1)``. Gaps and clusters move together, so
    the even coverage is kept.
    """
    points = _unit(points, "points")
    shift = as_float_array(shift, "shift")
    if points.ndim != 2 or shift.shape != (points.shape[1],):
        raise ValueError(f"shift must have shape (D,) for points of shape (N, D); got points "
                         f"{points.shape} and shift {shift.shape}.")
    shifted = np.mod(points + shift, 1.0)
    return np.where(shifted >= 1.0, 0.0, shifted)  # -1e-17 % 1 rounds to 1.0


def quasi_random_unit_points(n: int, dim: int, rng: np.random.Generator,
                             method: str = "sobol") -> np.ndarray:
    """Randomly shifted scrambled Sobol' (or Halton) points: shape (n, dim), in [0, 1).

    1. :func:`scrambled_unit_points` draws the scrambling from ``rng``; 2. one uniform shift
    of shape (dim,) is drawn from ``rng`` next; 3. :func:`cranley_patterson_shift` applies it.
    """
    base = scrambled_unit_points(n, dim, rng, method)  # 1. (n, dim)
    shift = rng.random(base.shape[1])  # 2. (dim,)
    return cranley_patterson_shift(base, shift)  # 3. (n, dim)


def random_search(space, n: int, rng: np.random.Generator) -> list[dict]:
    """``n`` trials drawn independently and uniformly on each axis's scale."""
    space = _space(space)
    return unit_to_trials(space, random_unit_points(n, len(space), rng))


def quasi_random_search(space, n: int, rng: np.random.Generator,
                        method: str = "sobol") -> list[dict]:
    """``n`` trials from :func:`quasi_random_unit_points` mapped onto ``space``."""
    space = _space(space)
    return unit_to_trials(space, quasi_random_unit_points(n, len(space), rng, method))


def _check_trials(space: SearchSpace, trials) -> list:
    if isinstance(trials, Mapping) or not isinstance(trials, Sequence) or len(trials) == 0:
        raise TypeError(f"trials must be a non-empty list of dicts {{name: value}}; got "
                        f"{_describe(trials)}.")
    for i, trial in enumerate(trials):
        if not isinstance(trial, Mapping) or not set(space.names) <= set(trial):
            raise ValueError(f"trials[{i}] must be a dict with a value for each axis "
                             f"{list(space.names)}; got {_describe(trial)}.")
    return list(trials)


def distinct_values(space, trials) -> dict[str, list]:
    """The distinct values each axis was tried at: ``{name: sorted list of values}``.

    Categorical values come in the order of the axis's choices. With one important
    hyperparameter, ``len(distinct_values(...)[name])`` is how many settings of it a search
    really tried: 3 for a 3 x 3 grid, 9 for 9 random trials.
    """
    space = _space(space)
    trials = _check_trials(space, trials)
    result = {}
    for axis in space:
        seen = {trial[axis.name] for trial in trials}
        result[axis.name] = ([c for c in axis.choices if c in seen]
                             if axis.scale == "categorical" else sorted(seen))
    return result


# --------------------------------------------------------------------------------------------
# the trial budget: bootstrap best-of-N
# --------------------------------------------------------------------------------------------
def _scores(scores) -> np.ndarray:
    scores = as_float_array(scores, "scores").astype(np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty 1-D array, one score per trial; got shape "
                         f"{scores.shape}.")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"scores must be finite; got {int((~np.isfinite(scores)).sum())} NaN "
                         f"or inf. A diverged trial still used up its budget: give it the "
                         f"worst score, e.g. np.nan_to_num(scores, nan=worst).")
    return scores


def bootstrap_best_of_n(scores, n_trials: int, rng: np.random.Generator, *, goal: str,
                        n_resamples: int = 10_000) -> np.ndarray:
    """The best score of ``n_trials`` trials, for many studies resampled from a pool.

    Each resample draws ``n_trials`` scores with replacement from ``scores`` (a pool of
    finished trials) and keeps its best: the max for ``goal="maximize"``, the min for
    ``goal="minimize"``. Its spread shows how much a study of that size depends on luck.

    Parameters
    ----------
    scores : ndarray of shape (M,)
        One score per trial of the pool.
    n_trials : int
        The size ``N`` of each simulated study.
    rng : np.random.Generator
    goal : {"maximize", "minimize"}
    n_resamples : int
        How many studies to simulate.

    Returns
    -------
    best : ndarray of shape (n_resamples,)
    """
    scores, goal = _scores(scores), _goal(goal)
    n_trials = check_int(n_trials, "n_trials")
    n_resamples = check_int(n_resamples, "n_resamples")
    index = check_rng(rng).integers(0, scores.size, size=(n_resamples, n_trials))
    drawn = scores[index]  # (n_resamples, n_trials)
    return drawn.max(axis=1) if goal == "maximize" else drawn.min(axis=1)


def best_of_n_exact_cdf(scores, n_trials: int, *, goal: str) -> tuple[np.ndarray, np.ndarray]:
    """The exact distribution of :func:`bootstrap_best_of_n` (infinitely many resamples).

    With the pool sorted from worst to best, ``s_1, ..., s_M``, the best of ``N`` draws is at
    most as good as ``s_k`` with probability ``(k / M) ** N``: all ``N`` draws fall among the
    ``k`` worst. So the best trial beats the pool's ``q``-quantile with probability
    ``1 - q ** N``.

    Returns
    -------
    values : ndarray of shape (M,)
        The pool sorted from worst to best.
    cdf : ndarray of shape (M,)
        ``P(best is no better than values[k - 1]) = (k / M) ** N``.
    """
    scores, goal = _scores(scores), _goal(goal)
    n_trials = check_int(n_trials, "n_trials")
    values = np.sort(scores) if goal == "maximize" else np.sort(scores)[::-1]
    k = np.arange(1, values.size + 1)
    return values, (k / values.size) ** n_trials


def best_of_n_summary(scores, rng: np.random.Generator, *, goal: str,
                      n_trials: Sequence[int] = (6, 20),
                      n_resamples: int = 10_000) -> dict[int, dict[str, float]]:
    """Median and interquartile range of the best score for each study size in ``n_trials``.

    Returns ``{N: {"median", "q25", "q75", "iqr"}}`` (the playbook's figure: 6 trials vs
    20). ``q25`` and ``q75`` are the 25th and 75th percentiles of the best score and
    ``iqr = q75 - q25``: a larger study has a better median and a narrower spread.
    """
    if isinstance(n_trials, numbers.Integral):
        n_trials = (n_trials,)
    summary = {}
    for n in n_trials:
        best = bootstrap_best_of_n(scores, n, rng, goal=goal, n_resamples=n_resamples)
        q25, median, q75 = np.percentile(best, [25, 50, 75])
        summary[int(n)] = {"median": float(median), "q25": float(q25), "q75": float(q75),
                           "iqr": float(q75 - q25)}
    return summary


# --------------------------------------------------------------------------------------------
# the edge-of-space check
# --------------------------------------------------------------------------------------------
def edge_of_space_check(space, trials, scores, *, goal: str, top_fraction: float = 0.1,
                        edge_fraction: float = 0.1, min_share: float = 0.5) -> list[str]:
    """Say which axes to widen: the best trials crowd against an end of the range.

    The best ``k = max(1, ceil(top_fraction * N))`` trials are placed on each numeric axis
    with :func:`axis_position` (log axes in log space). An end is flagged when at least
    ``min_share`` of them lie within ``edge_fraction`` of it: the optimum may lie outside the
    range. Categorical axes are skipped (their choices have no ends).

    Parameters
    ----------
    space : SearchSpace
    trials : list of N dicts
    scores : ndarray of shape (N,)
        The score of each trial.
    goal : {"maximize", "minimize"}
    top_fraction, edge_fraction, min_share : float in (0, 1]

    Returns
    -------
    messages : list of str
        One message per flagged end, each containing "widen the search space towards ...";
        empty when no best trial presses against an edge.
    """
    space, goal = _space(space), _goal(goal)
    trials, scores = _check_trials(space, trials), _scores(scores)
    if scores.size != len(trials):
        raise ValueError(f"scores must hold one score per trial; got {scores.size} scores for "
                         f"{len(trials)} trials.")
    for value, name in ((top_fraction, "top_fraction"), (edge_fraction, "edge_fraction"),
                        (min_share, "min_share")):
        if check_positive(value, name) > 1:
            raise ValueError(f"{name} must be in (0, 1]; got {value}.")
    k = max(1, math.ceil(top_fraction * len(trials)))
    order = np.argsort(-scores if goal == "maximize" else scores, kind="stable")
    best = [trials[i] for i in order[:k]]  # the k best trials, best first
    messages = []
    for axis in space:
        if axis.scale == "categorical":
            continue
        pos = axis_position(axis, [trial[axis.name] for trial in best])  # (k,)
        for side, near, bound, towards in (
                ("lowest", pos <= edge_fraction, axis.low, "lower"),
                ("highest", pos >= 1 - edge_fraction, axis.high, "higher")):
            share = float(near.mean())
            if share >= min_share:
                messages.append(
                    f"{axis.name}: {share:.0%} of the best {k} trial(s) lie in the {side} "
                    f"{edge_fraction:.0%} of its range [{axis.low:g}, {axis.high:g}] "
                    f"({axis.scale} scale); widen the search space towards {towards} values "
                    f"(beyond {bound:g}).")
    return messages


_PARTS = ("tnn.population", "tnn.search_experiments")  # they import this module


def __getattr__(name: str):
    """:mod:`tnn.population` and :mod:`tnn.search_experiments`, loaded on first use."""
    if not name.startswith("__"):  # the import system asks for __path__ and the like
        for part in map(importlib.import_module, _PARTS):
            if name in part.__all__:
                return getattr(part, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()).union(*(importlib.import_module(p).__all__ for p in _PARTS)))
