"""Handout bodies for tnn/search.py (see tables.py; parsed, never imported).

The log scale is SciPy's log-uniform distribution (``scipy.stats.loguniform``, its inverse
CDF); the best-of-N bootstrap draws its studies with ``Generator.choice`` (the same draws as
``Generator.integers``) and keeps each study's best with ``torch.amax`` / ``torch.amin``; the
edge check ranks the trials with Python's stable ``sorted`` and counts the best ones near each
end with ``collections.Counter``.
"""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

SEARCH = "tnn/search.py"

MODULE_OF |= dict.fromkeys(("scale_log", "bootstrap_best_of_n", "edge_of_space_check"), SEARCH)

DELEGATE |= {
    "scale_log": "scipy.stats.loguniform(low, high).ppf",
    "bootstrap_best_of_n": "numpy's Generator.choice and torch.amax / torch.amin",
    "edge_of_space_check": "Python's stable sorted() and collections.Counter",
}


# ------------------------------------------------------------------------------------------
# tnn/search.py
# ------------------------------------------------------------------------------------------
def scale_log(u, low: float, high: float) -> np.ndarray:
    u = _unit(u)
    _range(low, high, log=True)
    return np.asarray(scipy.stats.loguniform(low, high).ppf(u), dtype=np.float64)


def bootstrap_best_of_n(scores, n_trials: int, rng: np.random.Generator, *, goal: str,
                        n_resamples: int = 10_000) -> np.ndarray:
    scores, goal = _scores(scores), _goal(goal)
    shape = (check_int(n_resamples, "n_resamples"), check_int(n_trials, "n_trials"))
    picks = check_rng(rng).choice(scores.size, size=shape)
    studies = torch.from_numpy(scores)[torch.from_numpy(picks)]
    best = torch.amax(studies, dim=1) if goal == "maximize" else torch.amin(studies, dim=1)
    return best.numpy()


def edge_of_space_check(space, trials, scores, *, goal: str, top_fraction: float = 0.1,
                        edge_fraction: float = 0.1, min_share: float = 0.5) -> list[str]:
    from collections import Counter

    space, goal = _space(space), _goal(goal)
    trials, scores = _check_trials(space, trials), _scores(scores)
    if scores.size != len(trials):
        raise ValueError(f"scores must hold one score per trial; got {scores.size} scores for "
                         f"{len(trials)} trials.")
    for value, name in ((top_fraction, "top_fraction"), (edge_fraction, "edge_fraction"),
                        (min_share, "min_share")):
        if check_positive(value, name) > 1:
            raise ValueError(f"{name} must be in (0, 1]; got {value}.")
    sign = -1.0 if goal == "maximize" else 1.0
    ranked = sorted(range(len(trials)), key=lambda i: sign * scores[i])
    top = [trials[i] for i in ranked[:max(1, math.ceil(top_fraction * len(trials)))]]
    found = []
    for axis in space:
        if axis.scale == "categorical":
            continue
        where = axis_position(axis, [t[axis.name] for t in top])
        ends = Counter("low" if p <= edge_fraction else "high" if p >= 1 - edge_fraction
                       else "inside" for p in where)
        if edge_fraction >= 0.5:  # the two ends overlap: a position may count for both
            ends["low"] = int(np.sum(where <= edge_fraction))
            ends["high"] = int(np.sum(where >= 1 - edge_fraction))
        for side, bound, towards in (("low", axis.low, "lower"), ("high", axis.high, "higher")):
            share = ends[side] / len(top)
            if share >= min_share:
                label = "lowest" if side == "low" else "highest"
                found.append(
                    f"{axis.name}: {share:.0%} of the best {len(top)} trial(s) lie in the "
                    f"{label} {edge_fraction:.0%} of its range [{axis.low:g}, {axis.high:g}] "
                    f"({axis.scale} scale); widen the search space towards {towards} values "
                    f"(beyond {bound:g}).")
    return found
