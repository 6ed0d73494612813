"""Topic 09: search spaces and their scales, grid / random / quasi-random samplers checked
against scipy.stats.qmc, the grid-vs-random count of distinct values, the best-of-N
bootstrap against its exact distribution, and the edge-of-space check.
"""

import math
import re
import warnings

import numpy as np
import pytest
from scipy.stats import qmc

from tnn import search as S

SEEDS = range(8)


def _space():
    return S.SearchSpace((
        S.Axis("lr", 1e-4, 1e-1, "log"),
        S.Axis("width", 16, 256, "int_log"),
        S.Axis("activation", scale="categorical", choices=("relu", "tanh", "gelu")),
        S.Axis("dropout", 0.0, 0.5),
        S.Axis("layers", 1, 4, "int"),
    ))


# ------------------------------------------------------------------------- the search space
def test_axis_validation_messages():
    with pytest.raises(ValueError, match="needs low < high; got low=0.1, high=0.01"):
        S.Axis("lr", 0.1, 0.01, "log")
    with pytest.raises(ValueError, match="needs low > 0"):
        S.Axis("lr", 0.0, 0.1, "log")
    with pytest.raises(ValueError, match="needs low > 0"):
        S.Axis("width", 0, 8, "int_log")
    with pytest.raises(TypeError, match="must be an int; got float 2.5"):
        S.Axis("layers", 1, 2.5, "int")
    with pytest.raises(TypeError, match="finite real number; got None"):
        S.Axis("dropout", None, 0.5)
    with pytest.raises(TypeError, match="finite real number"):
        S.Axis("dropout", 0.0, math.inf)
    with pytest.raises(ValueError, match="scale of axis 'lr' must be one of"):
        S.Axis("lr", 1e-4, 1e-1, "logarithmic")
    with pytest.raises(ValueError, match="at least 2 distinct choices"):
        S.Axis("act", scale="categorical", choices=("relu", "relu"))
    with pytest.raises(ValueError, match="takes choices, not low/high"):
        S.Axis("act", 0, 1, "categorical", ("relu", "tanh"))
    with pytest.raises(TypeError, match="tuple of values"):
        S.Axis("act", scale="categorical", choices="relu")
    with pytest.raises(ValueError, match="Pass scale='categorical'"):
        S.Axis("act", 0, 1, choices=("relu", "tanh"))
    with pytest.raises(TypeError, match="non-empty str"):
        S.Axis("", 0, 1)
    with pytest.raises(ValueError, match="distinct"):
        S.SearchSpace((S.Axis("a", 0, 1), S.Axis("a", 1, 2)))
    with pytest.raises(TypeError, match="axes\\[1\\] must be an Axis"):
        S.SearchSpace((S.Axis("a", 0, 1), ("b", 0, 1)))
    with pytest.raises(TypeError, match="non-empty tuple of Axis"):
        S.SearchSpace(())
    axis = S.Axis("width", np.int64(16), 256, "int")  # NumPy ints become Python ints
    assert type(axis.low) is int and axis.low == 16
    assert S.Axis("act", scale="categorical", choices=["a", "b"]).choices == ("a", "b")
    assert _space().names == ("lr", "width", "activation", "dropout", "layers")


# ---------------------------------------------------------------------------- the scales
def test_scales_map_unit_points_exactly():
    u = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(S.scale_linear(u, 2.0, 4.0), [2, 2.5, 3, 3.5, 4])
    np.testing.assert_allclose(S.scale_log(u, 1e-4, 1.0), [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    np.testing.assert_array_equal(S.scale_int(u, 1, 4), [1, 2, 3, 4, 4])  # 4 equal bins
    # log integers on [1, 16): floor(16 ** u) = 1, 2, 4, 8 and u = 1 lands on high = 15
    np.testing.assert_array_equal(S.scale_int(u, 1, 15, log=True), [1, 2, 4, 8, 15])
    assert S.scale_categorical(u, ("a", "b", "c")) == ["a", "a", "b", "c", "c"]
    assert S.scale_categorical([0.3333, 0.3334, 0.6666, 0.6667], "xyz") == ["x", "y", "y", "z"]
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        S.scale_linear([0.5, 1.5], 0.0, 1.0)
    with pytest.raises(ValueError, match="and NaN"):
        S.scale_log([np.nan, 0.5], 1.0, 2.0)
    with pytest.raises(TypeError, match="real numbers"):
        S.scale_linear("0.5", 0.0, 1.0)
    with pytest.raises(ValueError, match="low < high; got low=2.0, high=1.0"):
        S.scale_linear(u, 2.0, 1.0)
    with pytest.raises(ValueError, match="log scale needs low > 0"):
        S.scale_log(u, 0.0, 1.0)
    with pytest.raises(ValueError, match="log scale needs low > 0"):
        S.scale_int(u, 0, 8, log=True)
    assert S.scale_int(u, 0, 3).tolist() == [0, 1, 2, 3, 3]  # low = 0 is fine on a linear scale


def test_log_and_int_scales_give_the_right_shares():
    """Log-uniform gives each decade the same share; integers are each equally likely, or
    with probability log((k + 1) / k) / log((high + 1) / low) on a log scale."""
    u = (np.arange(120_000) + 0.5) / 120_000  # an even grid: shares are exact up to 1 / n
    decades = np.floor(np.log10(S.scale_log(u, 1e-4, 1e-1)))
    np.testing.assert_allclose(np.bincount((decades + 4).astype(int)) / u.size, [1 / 3] * 3,
                               atol=1e-4)
    counts = np.bincount(S.scale_int(u, 3, 7))[3:]
    np.testing.assert_allclose(counts / u.size, [0.2] * 5, atol=1e-4)
    k = np.arange(2, 10)
    counts = np.bincount(S.scale_int(u, 2, 9, log=True))[2:]
    np.testing.assert_allclose(counts / u.size, np.log((k + 1) / k) / np.log(10 / 2), atol=1e-4)


def test_from_unit_dispatches_and_axis_position_inverts_continuous_scales():
    space = _space()
    u = np.array([0.0, 0.5, 1.0])
    assert S.from_unit(space.axes[0], u).tolist() == pytest.approx([1e-4, 10 ** -2.5, 1e-1])
    assert S.from_unit(space.axes[2], u) == ["relu", "tanh", "gelu"]
    assert S.from_unit(space.axes[4], u).dtype == np.int64
    for axis in (space.axes[0], space.axes[3]):
        np.testing.assert_allclose(S.axis_position(axis, S.from_unit(axis, u)), u, atol=1e-12)
    np.testing.assert_allclose(S.axis_position(space.axes[1], [16, 64, 256]), [0, 0.5, 1])
    with pytest.raises(ValueError, match="categorical"):
        S.axis_position(space.axes[2], ["relu"])
    with pytest.raises(ValueError, match="must be > 0"):
        S.axis_position(space.axes[0], [0.0])
    with pytest.raises(TypeError, match="must be an Axis"):
        S.from_unit("lr", u)


def test_unit_to_trials_gives_python_values_in_axis_order():
    trials = S.unit_to_trials(_space(), [[0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.5, 0.5, 0.5]])
    assert trials[0] == {"lr": pytest.approx(1e-4), "width": 16, "activation": "relu",
                         "dropout": 0.0, "layers": 1}
    assert trials[1] == {"lr": pytest.approx(0.1), "width": 256, "activation": "tanh",
                         "dropout": 0.25, "layers": 3}
    assert type(trials[1]["width"]) is int and type(trials[1]["dropout"]) is float
    with pytest.raises(ValueError, match="shape \\(N, 5\\)"):
        S.unit_to_trials(_space(), np.zeros((3, 2)))
    assert S.unit_to_trials([S.Axis("a", 0, 1)], [[0.5]]) == [{"a": 0.5}]  # a list of Axis


# ---------------------------------------------------------------------------- the samplers
def test_grid_values_and_grid_search():
    space = _space()
    assert S.grid_values(space.axes[0], 4) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert S.grid_values(space.axes[1], 5) == [16, 32, 64, 128, 256]
    assert S.grid_values(space.axes[2], 2) == ["relu", "tanh", "gelu"]  # all choices
    assert S.grid_values(space.axes[3], 3) == [0.0, 0.25, 0.5]
    assert S.grid_values(space.axes[4], 3) == [1, 2, 4]  # rint(2.5) = 2 (to even)
    assert S.grid_values(space.axes[4], 9) == [1, 2, 3, 4]  # repeats dropped
    grid = S.grid_search(space, 3)
    assert len(grid) == 3 * 3 * 3 * 3 * 3
    assert grid[0] == {"lr": 1e-4, "width": 16, "activation": "relu", "dropout": 0.0,
                       "layers": 1}
    assert grid[1]["layers"] == 2 and grid[-1]["lr"] == pytest.approx(0.1)  # last axis fastest
    assert len({tuple(t.values()) for t in grid}) == len(grid)
    with pytest.raises(ValueError, match="points_per_axis must be an int >= 2"):
        S.grid_search(space, 1)


def test_random_search_is_reproducible_and_stays_in_range():
    space = _space()
    a = S.random_search(space, 200, np.random.default_rng(5))
    assert a == S.random_search(space, 200, np.random.default_rng(5))
    assert a != S.random_search(space, 200, np.random.default_rng(6))
    lr = np.array([t["lr"] for t in a])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-1
    assert {t["activation"] for t in a} == {"relu", "tanh", "gelu"}
    assert {t["layers"] for t in a} == {1, 2, 3, 4}
    assert all(16 <= t["width"] <= 256 for t in a)
    with pytest.raises(TypeError, match="np.random.default_rng"):
        S.random_search(space, 5, 0)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        S.random_search(space, 0, np.random.default_rng(0))


@pytest.mark.parametrize("n", [1, 7, 16, 100])
@pytest.mark.parametrize("method", ["sobol", "halton"])
def test_scrambled_points_equal_scipys_and_the_shift_comes_next(n, method):
    """The unshifted points are scipy's for a generator in the same state; the shift is the
    next draw of that generator; no warning for sizes that are not powers of two."""
    engine = qmc.Sobol if method == "sobol" else qmc.Halton
    rng_kw = S._qmc_rng_keyword()
    for seed in (0, 1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = S.quasi_random_unit_points(n, 3, np.random.default_rng(seed), method)
            base = S.scrambled_unit_points(n, 3, np.random.default_rng(seed), method)
        rng = np.random.default_rng(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # scipy: n not a power of two
            expected = engine(3, scramble=True, **{rng_kw: rng}).random(n)
        np.testing.assert_array_equal(base, expected)
        shift = rng.random(3)
        np.testing.assert_allclose(ours, np.mod(expected + shift, 1.0), rtol=0, atol=1e-15)
        assert ours.shape == (n, 3) and ours.min() >= 0 and ours.max() < 1


def test_qmc_rng_keyword_follows_the_scipy_version():
    assert S._qmc_rng_keyword("1.11.4") == "seed"
    assert S._qmc_rng_keyword("1.14.1") == "seed"
    assert S._qmc_rng_keyword("1.15.0") == "rng"
    assert S._qmc_rng_keyword("1.17.1") == "rng"
    assert S._qmc_rng_keyword("2.0.0rc1") == "rng"


def test_cranley_patterson_shift_wraps_around():
    points = np.array([[0.1, 0.9], [0.5, 0.0]])
    np.testing.assert_allclose(S.cranley_patterson_shift(points, [0.5, 0.25]),
                               [[0.6, 0.15], [0.0, 0.25]])
    with pytest.raises(ValueError, match="shape \\(D,\\)"):
        S.cranley_patterson_shift(points, [0.5])


@pytest.mark.parametrize("method", ["sobol", "halton"])
def test_quasi_random_points_cover_the_square_more_evenly_than_random_ones(method):
    """Centered L2 discrepancy of 64 points in 2-D, 8 seeds: every shifted quasi-random set
    beats every random set, and their mean is at least 4 times lower (measured: 16x
    for Sobol', 10x for Halton)."""
    quasi = [qmc.discrepancy(S.quasi_random_unit_points(64, 2, np.random.default_rng(s),
                                                        method)) for s in SEEDS]
    rand = [qmc.discrepancy(S.random_unit_points(64, 2, np.random.default_rng(s)))
            for s in SEEDS]
    assert max(quasi) < min(rand)
    assert 4 * np.mean(quasi) < np.mean(rand)


def test_grid_tries_three_values_of_the_important_parameter_random_tries_nine():
    """The lecture's picture: one important and one unimportant parameter, 9 trials."""
    space = S.SearchSpace((S.Axis("important", 0.0, 1.0), S.Axis("unimportant", 0.0, 1.0)))
    grid = S.grid_search(space, 3)
    assert len(grid) == 9
    assert S.distinct_values(space, grid) == {"important": [0.0, 0.5, 1.0],
                                              "unimportant": [0.0, 0.5, 1.0]}
    for seed in SEEDS:
        for trials in (S.random_search(space, 9, np.random.default_rng(seed)),
                       S.quasi_random_search(space, 9, np.random.default_rng(seed))):
            counts = {k: len(v) for k, v in S.distinct_values(space, trials).items()}
            assert counts == {"important": 9, "unimportant": 9}
    # categorical values come back in the order of the axis's choices
    cat = S.SearchSpace((S.Axis("act", scale="categorical", choices=("relu", "tanh", "gelu")),))
    assert S.distinct_values(cat, [{"act": "gelu"}, {"act": "relu"}]) == {"act": ["relu", "gelu"]}
    with pytest.raises(ValueError, match="a value for each axis"):
        S.distinct_values(space, [{"important": 0.5}])
    with pytest.raises(TypeError, match="non-empty list of dicts"):
        S.distinct_values(space, {"important": 0.5, "unimportant": 0.5})


# ------------------------------------------------------------------ best-of-N bootstrap
def test_best_of_n_exact_cdf():
    values, cdf = S.best_of_n_exact_cdf([3.0, 1.0, 2.0, 4.0], 2, goal="maximize")
    np.testing.assert_array_equal(values, [1, 2, 3, 4])
    np.testing.assert_allclose(cdf, [1 / 16, 4 / 16, 9 / 16, 1])
    values, cdf = S.best_of_n_exact_cdf([3.0, 1.0, 2.0, 4.0], 2, goal="minimize")
    np.testing.assert_array_equal(values, [4, 3, 2, 1])  # worst first: the largest loss


@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_bootstrap_best_of_n_matches_one_minus_q_to_the_n(goal):
    """Pool 0..99: the best of N beats the pool's q-quantile with probability 1 - q ** N.
    20,000 resamples: each frequency within 5 standard errors of the exact value."""
    pool = np.arange(100.0)
    sign = 1 if goal == "maximize" else -1
    for n in (1, 6, 20):
        best = S.bootstrap_best_of_n(sign * pool, n, np.random.default_rng(n), goal=goal,
                                     n_resamples=20_000)
        assert best.shape == (20_000,) and set(np.unique(sign * best)) <= set(pool)
        for q in (0.5, 0.8, 0.9, 0.95):
            exact = 1 - q ** n
            freq = np.mean(sign * best >= 100 * q)  # beats pool values 0 .. 100q - 1
            assert abs(freq - exact) <= 5 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-12


def test_best_of_n_summary_six_versus_twenty():
    """Median and quartiles equal the exact distribution's to one pool step, and 20 trials
    give a better median and a narrower spread than 6."""
    pool = np.linspace(0.80, 0.99, 100)  # accuracies, 0.0019 apart
    step = pool[1] - pool[0]
    summary = S.best_of_n_summary(pool, np.random.default_rng(0), goal="maximize")
    assert set(summary) == {6, 20}
    for n, stats in summary.items():
        values, cdf = S.best_of_n_exact_cdf(pool, n, goal="maximize")
        for key, level in (("q25", 0.25), ("median", 0.5), ("q75", 0.75)):
            exact = values[np.searchsorted(cdf, level)]
            assert abs(stats[key] - exact) <= step + 1e-12, (n, key)
        assert stats["iqr"] == pytest.approx(stats["q75"] - stats["q25"])
    assert summary[20]["median"] > summary[6]["median"]
    assert summary[20]["iqr"] < summary[6]["iqr"]
    losses = S.best_of_n_summary(1 - pool, np.random.default_rng(0), goal="minimize",
                                 n_trials=6)
    assert losses[6]["median"] == pytest.approx(1 - summary[6]["median"], abs=2 * step)


def test_bootstrap_refuses_bad_scores_and_a_missing_goal():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="goal must be 'maximize'"):
        S.bootstrap_best_of_n([1.0, 2.0], 6, rng, goal="max")
    with pytest.raises(TypeError, match="goal"):
        S.bootstrap_best_of_n([1.0, 2.0], 6, rng)
    with pytest.raises(ValueError, match="1 NaN or inf.*worst score"):
        S.bootstrap_best_of_n([1.0, np.nan], 6, rng, goal="maximize")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        S.bootstrap_best_of_n(np.zeros((2, 2)), 6, rng, goal="maximize")
    with pytest.raises(ValueError, match="n_trials must be an int >= 1"):
        S.bootstrap_best_of_n([1.0, 2.0], 0, rng, goal="maximize")


# ------------------------------------------------------------------- edge-of-space check
def _edge_study(best_lr, seed=0, n=200):
    """Quasi-random trials whose score peaks at lr = best_lr (log scale) and ignores the
    dropout rate."""
    space = S.SearchSpace((S.Axis("lr", 1e-4, 1e-1, "log"), S.Axis("dropout", 0.0, 0.5),
                           S.Axis("act", scale="categorical", choices=("relu", "tanh"))))
    trials = S.quasi_random_search(space, n, np.random.default_rng(seed))
    loss = np.array([(math.log10(t["lr"]) - math.log10(best_lr)) ** 2 for t in trials])
    return space, trials, loss


def test_edge_check_flags_an_optimum_beyond_the_range_on_the_log_scale():
    for seed in range(5):
        space, trials, loss = _edge_study(best_lr=0.3, seed=seed)  # above high = 0.1
        messages = S.edge_of_space_check(space, trials, loss, goal="minimize")
        assert len(messages) == 1
        assert re.match(r"lr: \d+% of the best 20 trial\(s\) lie in the highest 10%",
                        messages[0])
        assert "widen the search space towards higher values (beyond 0.1)" in messages[0]
        # the same study scored as accuracy
        assert S.edge_of_space_check(space, trials, -loss, goal="maximize") == messages
        space, trials, loss = _edge_study(best_lr=3e-5, seed=seed)  # below low = 1e-4
        messages = S.edge_of_space_check(space, trials, loss, goal="minimize")
        assert len(messages) == 1 and "towards lower values (beyond 0.0001)" in messages[0]
        space, trials, loss = _edge_study(best_lr=3e-3, seed=seed)  # inside: nothing to say
        assert S.edge_of_space_check(space, trials, loss, goal="minimize") == []


def test_edge_check_uses_the_axis_scale_and_the_best_one():
    """lr = 2e-2 lies at 87 % of [1e-4, 1e-1] on the log scale (not flagged) though it is at
    20 % of the way on a linear reading; with top_fraction small only the best one counts."""
    axis = S.Axis("lr", 1e-4, 1e-1, "log")
    space = S.SearchSpace((axis, S.Axis("layers", 1, 11, "int")))
    trials = [{"lr": 2e-2, "layers": 11}, {"lr": 1.1e-4, "layers": 5}, {"lr": 1e-3, "layers": 6}]
    scores = np.array([0.9, 0.4, 0.5])
    assert S.axis_position(axis, [2e-2])[0] == pytest.approx(math.log10(200) / 3)
    messages = S.edge_of_space_check(space, trials, scores, goal="maximize",
                                     top_fraction=0.01)
    assert messages == ["layers: 100% of the best 1 trial(s) lie in the highest 10% of its "
                        "range [1, 11] (int scale); widen the search space towards higher "
                        "values (beyond 11)."]
    flipped = S.edge_of_space_check(space, trials, scores, goal="minimize", top_fraction=0.01)
    assert len(flipped) == 1 and flipped[0].startswith("lr: 100% of the best 1 trial(s) lie in "
                                                       "the lowest 10%")


def test_edge_check_validation():
    space, trials, loss = _edge_study(best_lr=0.3, n=10)
    with pytest.raises(ValueError, match="one score per trial; got 9 scores for 10 trials"):
        S.edge_of_space_check(space, trials, loss[:9], goal="minimize")
    with pytest.raises(ValueError, match="edge_fraction must be in \\(0, 1\\]"):
        S.edge_of_space_check(space, trials, loss, goal="minimize", edge_fraction=1.5)
    with pytest.raises(ValueError, match="top_fraction must be finite and > 0"):
        S.edge_of_space_check(space, trials, loss, goal="minimize", top_fraction=0.0)
