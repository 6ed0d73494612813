"""Topic 07: the update rules against torch.optim (50 steps, float64, several parameters of
several shapes), a table of common bugs that must NOT match torch, the conventions (ε
placement, t from 1, momentum's v = lr * b, Nesterov's look-ahead point, Adam's efficient
form, decoupled decay), purity and error messages, the NumPy/torch twins on every device,
and the lecture's experiments with the margins their measurements support.

How the comparisons with torch.optim work: a deterministic gradient function of the current
parameters (so an error in one step feeds into the next) drives our rule and the torch
optimizer side by side; one parameter's gradients are 1000x smaller than the others', so
where ε sits matters (ε = 1e-6 against sqrt(v) ~ 1e-3).
"""

import copy

import numpy as np
import pytest
import torch
from conftest import to_numpy

from tnn import optim_experiments as E
from tnn import optimizers as O
from tnn.device import few_threads, median_seconds

STEPS = 50
SHAPES = {"W1": (4, 3), "W2": (4, 3), "b": (3,), "c": (2, 2, 2)}  # W1, W2 alike: shared-state bug
SMALL = "c"  # the parameter whose gradients are 1000x smaller


def _start(seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=shape) for name, shape in SHAPES.items()}


def _grads(params, k, seed=0):
    """A smooth, non-linear gradient of the current parameters plus fixed noise of step k."""
    out = {}
    for i, name in enumerate(sorted(params)):
        p = params[name]
        noise = np.random.default_rng([seed, k, i]).normal(size=p.shape)
        g = (1.0 + i) * (p - 0.3) + 0.5 * np.sin(3 * p) + 0.1 * noise
        out[name] = g * (1e-3 if name == SMALL else 1.0)
    return out


def _run_ours(step, seed=0, steps=STEPS, **hyper):
    """``step(params, grads, state, **hyper)`` repeated; returns the final params."""
    params, state = _start(seed), None
    for k in range(steps):
        params, state = step(params, _grads(params, k, seed), state, **hyper)
    return params


def _run_torch(make_opt, seed=0, steps=STEPS, on_step=None):
    tensors = {n: torch.tensor(v, requires_grad=True) for n, v in _start(seed).items()}
    optimizer = make_opt(list(tensors.values()))
    for k in range(steps):
        grads = _grads({n: to_numpy(t) for n, t in tensors.items()}, k, seed)
        for n, t in tensors.items():
            t.grad = torch.tensor(grads[n])
        if on_step is not None:
            on_step(optimizer, k + 1)
        optimizer.step()
    return {n: to_numpy(t) for n, t in tensors.items()}


def _rel_diff(a, b) -> float:
    """Largest entry-wise difference over the largest entry, across all parameters."""
    return max(float(np.max(np.abs(a[n] - b[n])) / np.max(np.abs(b[n]))) for n in b)


# Our hyperparameters and the same optimizer in torch.optim, none at its default where a
# default could hide a convention difference (lr_decay, initial_accumulator_value, AdaDelta's
# lr, RMSprop's decay, Adam's weight decay).
TORCH_CASES = {
    "sgd": ({"lr": 0.05}, lambda ps: torch.optim.SGD(ps, lr=0.05)),
    "momentum": ({"lr": 0.05, "gamma": 0.9},
                 lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "nesterov": ({"lr": 0.05, "gamma": 0.8},
                 lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True)),
    "adagrad": ({"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-6},
                lambda ps: torch.optim.Adagrad(ps, lr=0.1, lr_decay=0.01,
                                               initial_accumulator_value=0.1, eps=1e-6)),
    "adadelta": ({"lr": 0.5, "rho": 0.8, "eps": 1e-6},
                 lambda ps: torch.optim.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-6)),
    "rmsprop": ({"lr": 0.01, "decay": 0.9, "eps": 1e-6},
                lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-6)),
    "adam": ({"lr": 0.01, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1},
             lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.9, 0.99), eps=1e-6,
                                         weight_decay=0.1)),
    "adamw": ({"lr": 0.01, "eps": 1e-6, "weight_decay": 0.1},
              lambda ps: torch.optim.AdamW(ps, lr=0.01, eps=1e-6, weight_decay=0.1)),
    "nadam": ({"lr": 0.01, "eps": 1e-6},
              lambda ps: torch.optim.NAdam(ps, lr=0.01, eps=1e-6)),
}
TORCH_DEFAULTS = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad,
                  "adadelta": torch.optim.Adadelta, "rmsprop": torch.optim.RMSprop,
                  "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                  "nadam": torch.optim.NAdam}


@pytest.fixture
def float64_default():
    """torch.optim.NAdam keeps its running product of momenta in the default dtype (float32
    unless the default is float64): compare with float64 as the default."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


# ---------------------------------------------------------------------------- ground truth
@pytest.mark.parametrize("rule", sorted(TORCH_CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_rule_matches_torch_optim_over_50_steps(rule, seed, float64_default):
    hyper, make_opt = TORCH_CASES[rule]
    ours = _run_ours(O.RULES[rule][0], seed, **hyper)
    theirs = _run_torch(make_opt, seed)
    assert _rel_diff(_start(seed), theirs) > 0.01  # the parameters really moved
    for name in theirs:  # measured: <= 2e-14 relative (float64)
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-9, atol=1e-13,
                                   err_msg=f"{rule}: {name}")


@pytest.mark.parametrize("rule", sorted(TORCH_DEFAULTS))
def test_defaults_are_torch_optims(rule, float64_default):
    ours = _run_ours(O.RULES[rule][0], 3)
    theirs = _run_torch(TORCH_DEFAULTS[rule], 3)
    for name in theirs:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-9, atol=1e-13)


def test_momentum_ramp_matches_torch_with_the_same_schedule():
    """gamma following the lecture's ramp 0.5 -> 0.9; torch's momentum set before each step."""
    ramp = lambda t: O.momentum_ramp(t, ramp_steps=30)  # noqa: E731
    params, state = _start(), None
    for k in range(STEPS):
        params, state = O.momentum(params, _grads(params, k), state, lr=0.05, gamma=ramp(k + 1))

    def set_momentum(optimizer, t):
        optimizer.param_groups[0]["momentum"] = ramp(t)

    theirs = _run_torch(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.5),
                        on_step=set_momentum)
    for name in theirs:
        np.testing.assert_allclose(params[name], theirs[name], rtol=1e-9, atol=1e-13)
    assert [O.momentum_ramp(t, ramp_steps=30) for t in (1, 16, 31, 100)] == pytest.approx(
        [0.5, 0.7, 0.9, 0.9])


# ---------------------------------------------------------------------------- bugs that must not match
def _per_array(rule):
    """A dict-level step from a one-array rule (for the buggy variants below)."""
    def step(params, grads, state, **hyper):
        state = state or {"t": 0, "slots": {n: {} for n in params}}
        t, new, slots = state["t"] + 1, {}, {}
        for n in params:
            new[n], slots[n] = rule(params[n], grads[n], state["slots"][n], t, **hyper)
        return new, {"t": t, "slots": slots}
    return step


def _adam_variant(*, t_shift=0, corrected=True, eps_inside=False, coupled_decay=0.0):
    def rule(p, g, s, t, lr, eps=1e-6, weight_decay=0.0):
        g = g + coupled_decay * p
        p = p * (1 - lr * weight_decay)
        m = 0.9 * s.get("m", 0.0) + 0.1 * g
        v = 0.999 * s.get("v", 0.0) + 0.001 * g * g
        tt = t + t_shift
        m_hat = m / (1 - 0.9 ** tt) if corrected else m
        v_hat = v / (1 - 0.999 ** tt) if corrected else v
        denom = (v_hat + eps) ** 0.5 if eps_inside else v_hat ** 0.5 + eps
        return p - lr * m_hat / denom, {"m": m, "v": v}
    return _per_array(rule)


def _adam_shared_state(params, grads, state, lr, eps=1e-6):
    """One m and one v for every parameter of the same shape (W1 and W2 share them)."""
    state = state or {"t": 0}
    t, new = state["t"] + 1, {}
    state = dict(state, t=t)
    for n in params:
        key = SHAPES[n]
        m = 0.9 * state.get(("m", key), 0.0) + 0.1 * grads[n]
        v = 0.999 * state.get(("v", key), 0.0) + 0.001 * grads[n] ** 2
        state[("m", key)], state[("v", key)] = m, v
        new[n] = params[n] - lr * (m / (1 - 0.9 ** t)) / ((v / (1 - 0.999 ** t)) ** 0.5 + eps)
    return new, state


def _rmsprop_first_moment(p, g, s, t, lr, eps=1e-6):
    avg = 0.9 * s.get("avg", 0.0) + 0.1 * g  # the mean of g instead of the mean of g**2
    return p - lr * g / (np.abs(avg) + eps), {"avg": avg}


def _adadelta_scaled_accumulator(p, g, s, t, lr):
    sq = 0.8 * s.get("sq", 0.0) + 0.2 * g * g
    delta = lr * (s.get("acc", 0.0) + 1e-6) ** 0.5 / (sq + 1e-6) ** 0.5 * g  # lr inside
    return p - delta, {"sq": sq, "acc": 0.8 * s.get("acc", 0.0) + 0.2 * delta * delta}


def _momentum_lr_twice(p, g, s, t, lr, gamma):
    v = gamma * s.get("v", 0.0) + lr * g
    return p - lr * v, {"v": v}


ADAM = lambda ps: torch.optim.Adam(ps, lr=0.01, eps=1e-6)  # noqa: E731
ADAMW = lambda ps: torch.optim.AdamW(ps, lr=0.01, eps=1e-6, weight_decay=0.1)  # noqa: E731
# (name, our buggy step, its hyperparameters, the torch optimizer it imitates)
BUGS = [
    ("t counted from 0 (1 - beta**0 = 0 at the first update)", _adam_variant(t_shift=-1),
     {"lr": 0.01}, ADAM),
    ("t one ahead", _adam_variant(t_shift=1), {"lr": 0.01}, ADAM),
    ("no bias correction", _adam_variant(corrected=False), {"lr": 0.01}, ADAM),
    ("eps inside the square root", _adam_variant(eps_inside=True), {"lr": 0.01}, ADAM),
    ("AdamW with the decay coupled into the gradient", _adam_variant(coupled_decay=0.1),
     {"lr": 0.01}, ADAMW),
    ("state shared across parameters", _adam_shared_state, {"lr": 0.01}, ADAM),
    ("RMSprop dividing by the first moment", _per_array(_rmsprop_first_moment), {"lr": 0.01},
     lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-6)),
    ("AdaDelta accumulating lr * delta", _per_array(_adadelta_scaled_accumulator), {"lr": 0.5},
     lambda ps: torch.optim.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-6)),
    ("momentum with lr applied twice", _per_array(_momentum_lr_twice),
     {"lr": 0.05, "gamma": 0.9}, lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name,step,hyper,make_opt", BUGS, ids=[b[0] for b in BUGS])
def test_common_bugs_do_not_match_torch(name, step, hyper, make_opt, seed):
    """The comparison above can fail: each buggy variant ends > 1e-3 (relative) away from
    torch.optim, where the correct rules agree to 2e-14. Measured (seeds 0, 1): t one ahead
    6.4e-3, 3.7e-3; AdaDelta 0.064, 0.042; eps inside 0.082, 0.029; coupled decay 0.47, 0.15;
    shared state 0.73, 0.60; no bias correction 1.6, 1.2; RMSprop 7.3, 1.1; momentum 2.2,
    1.0; t from 0 gives nan (0/0 at the first update)."""
    with np.errstate(all="ignore"):
        ours = _run_ours(step, seed, **hyper)
    theirs = _run_torch(make_opt, seed)
    diff = _rel_diff(ours, theirs)
    assert not diff <= 1e-3, f"{name}: the bug matches torch (relative difference {diff:.2e})"


def test_the_correct_variant_of_the_bug_table_matches():
    """The hand-written variants are built right: without a bug they match torch."""
    for step, make_opt in ((_adam_variant(), ADAM), (_adam_variant(), ADAMW)):
        hyper = {"lr": 0.01, "weight_decay": 0.1 if make_opt is ADAMW else 0.0}
        assert _rel_diff(_run_ours(step, 0, **hyper), _run_torch(make_opt, 0)) < 1e-12


# ---------------------------------------------------------------------------- conventions
def test_momentum_velocity_is_lr_times_torchs_buffer():
    params, state = _start(), None
    tensors = {n: torch.tensor(v, requires_grad=True) for n, v in _start().items()}
    sgd = torch.optim.SGD(list(tensors.values()), lr=0.05, momentum=0.9)
    for k in range(10):
        params, state = O.momentum(params, _grads(params, k), state, lr=0.05, gamma=0.9)
        grads = _grads({n: to_numpy(t) for n, t in tensors.items()}, k)
        for n, t in tensors.items():
            t.grad = torch.tensor(grads[n])
        sgd.step()
    for n, t in tensors.items():
        np.testing.assert_allclose(state["v"][n], 0.05 * to_numpy(sgd.state[t]["momentum_buffer"]),
                                   rtol=1e-12)


def test_momentum_forms_part_when_lr_changes():
    """With an lr that changes, v = gamma v + lr g remembers the old rates; torch's b does not."""
    lrs = [0.05] * 5 + [0.01] * 5
    params, state = _start(), None
    for k, lr in enumerate(lrs):
        params, state = O.momentum(params, _grads(params, k), state, lr=lr, gamma=0.9)

    def set_lr(optimizer, t):
        optimizer.param_groups[0]["lr"] = lrs[t - 1]

    theirs = _run_torch(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), steps=10,
                        on_step=set_lr)
    assert _rel_diff(params, theirs) > 1e-3


def test_nesterov_keeps_the_lecture_lookahead_point():
    """Sutskever's form (gradient at theta - gamma v) on a quadratic: our parameters are its
    look-ahead point theta - gamma v at every step."""
    A = np.diag([1.0, 10.0, 30.0])
    theta, v = np.array([1.0, -2.0, 0.5]), np.zeros(3)
    params, state = {"x": theta.copy()}, None
    for _ in range(40):
        v = 0.9 * v + 0.02 * A @ (theta - 0.9 * v)
        theta = theta - v
        params, state = O.nesterov(params, {"x": A @ params["x"]}, state, lr=0.02, gamma=0.9)
        np.testing.assert_allclose(params["x"], theta - 0.9 * v, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(state["v"]["x"], v, rtol=1e-10, atol=1e-14)


def test_adam_efficient_form_equals_adam_up_to_eps_placement():
    g_all = [_grads(_start(), k) for k in range(30)]
    for eps_std, eps_hat in ((0.0, 0.0), (None, 1e-6)):
        a, b, sa, sb = _start(), _start(), None, None
        for t, grads in enumerate(g_all, start=1):
            eps = O.adam_equivalent_eps(eps_hat, 0.999, t) if eps_std is None else eps_std
            a, sa = O.adam(a, grads, sa, lr=0.01, eps=eps)
            b, sb = O.adam_efficient(b, grads, sb, lr=0.01, eps_hat=eps_hat)
            assert _rel_diff(a, b) < 1e-12
    # the same eps in both places is a different rule: visible where sqrt(v) ~ eps
    a, b, sa, sb = _start(), _start(), None, None
    for grads in g_all:
        a, sa = O.adam(a, grads, sa, lr=0.01, eps=1e-3)
        b, sb = O.adam_efficient(b, grads, sb, lr=0.01, eps_hat=1e-3)
    assert abs(a[SMALL] - b[SMALL]).max() > 1e-4


def test_adamw_decouples_the_decay():
    steps = [_grads(_start(), k) for k in range(20)]
    runs = {}
    for name, fn, hyper in (("adamw", O.adamw, {"weight_decay": 0.5}),
                            ("adam_l2", O.adam, {"weight_decay": 0.5}),
                            ("adamw0", O.adamw, {"weight_decay": 0.0}),
                            ("adam", O.adam, {})):
        p, s = _start(), None
        for grads in steps:
            p, s = fn(p, grads, s, lr=0.05, **hyper)
        runs[name] = (p, s)
    assert _rel_diff(runs["adamw0"][0], runs["adam"][0]) < 1e-15
    assert _rel_diff(runs["adamw"][0], runs["adam_l2"][0]) > 0.01
    # the decay never enters AdamW's moments: they are plain Adam's on the same gradients
    for n in SHAPES:
        np.testing.assert_array_equal(runs["adamw"][1]["v"][n], runs["adam"][1]["v"][n])


def test_t_counts_from_one_and_bias_correction_makes_the_first_step_lr():
    g = {"w": np.array([3.0, -0.2, 1e-3])}
    new, state = O.adam({"w": np.zeros(3)}, g, None, lr=0.1)
    assert state["t"] == 1
    np.testing.assert_allclose(new["w"], -0.1 * np.sign(g["w"]), rtol=1e-4)


def test_adagrad_rates_only_shrink_and_rmsprop_uses_the_second_moment():
    p, s = {"w": np.zeros(4)}, None
    rates = []
    for k in range(30):
        p, s = O.adagrad(p, {"w": np.cos(k + np.arange(4))}, s, lr=0.1)
        rates.append(0.1 / (np.sqrt(s["sum"]["w"]) + 1e-10))
    assert np.all(np.diff(rates, axis=0) <= 0)
    new, s = O.rmsprop({"w": np.zeros(2)}, {"w": np.array([2.0, -2.0])}, None, lr=0.1, decay=0.9)
    np.testing.assert_allclose(s["square_avg"]["w"], 0.1 * 4.0)
    np.testing.assert_allclose(new["w"], -0.1 * np.array([2, -2]) / (np.sqrt(0.4) + 1e-8))


def test_bias_correction_factor_is_sqrt_10_at_the_first_step():
    assert O.bias_correction_factor(1) == pytest.approx(np.sqrt(10), rel=1e-12)
    f = O.bias_correction_factor(np.arange(1, 5001))
    assert f.argmax() + 1 == 12 and f.max() == pytest.approx(6.5685, abs=1e-4)
    assert f[-1] == pytest.approx(1.0, abs=0.01)


# ---------------------------------------------------------------------------- purity, twins, errors
@pytest.mark.parametrize("rule", sorted(O.RULES))
def test_inputs_are_never_modified_and_outputs_never_alias(rule):
    fn = O.RULES[rule][0]
    params, state = _start(), None
    params, state = fn(params, _grads(params, 0), state)  # a state with arrays in it
    grads = _grads(params, 1)
    before = copy.deepcopy((params, grads, state))
    new, new_state = fn(params, grads, state)
    for n in SHAPES:
        np.testing.assert_array_equal(params[n], before[0][n])
        np.testing.assert_array_equal(grads[n], before[1][n])
        assert new[n] is not params[n] and not np.shares_memory(new[n], params[n])
        for key, per_name in state.items():
            if key != "t":
                np.testing.assert_array_equal(per_name[n], before[2][key][n])
                assert new_state[key][n] is not per_name[n]
    assert state["t"] == 1 and new_state["t"] == 2


@pytest.mark.parametrize("rule", sorted(O.RULES))
def test_twins_agree_on_every_device(rule, device):
    numpy_fn, torch_fn = O.RULES[rule]
    params, state = _start(), None
    tparams, tstate = {n: torch.tensor(v, device=device) for n, v in _start().items()}, None
    first = tparams  # the caller's tensors: never modified in place
    for k in range(30):
        params, state = numpy_fn(params, _grads(params, k), state)
        tgrads = {n: torch.tensor(g, device=device)
                  for n, g in _grads({n: to_numpy(t) for n, t in tparams.items()}, k).items()}
        tparams, tstate = torch_fn(tparams, tgrads, tstate)
    for n in SHAPES:
        assert tparams[n].device.type == device.type and tparams[n].dtype == torch.float64
        assert not tparams[n].requires_grad
        np.testing.assert_allclose(to_numpy(tparams[n]), params[n], rtol=1e-10, atol=1e-14)
    assert all(torch.equal(first[n], torch.tensor(_start()[n], device=device)) for n in SHAPES)


def test_float32_stays_float32():
    p = {"w": np.ones(3, dtype=np.float32)}
    g = {"w": np.full(3, 0.5)}  # float64 gradients are cast to the parameter's dtype
    for fn, _ in O.RULES.values():
        new, state = fn(p, g, None)
        assert new["w"].dtype == np.float32
    tp = {"w": torch.ones(3)}
    new, _ = O.adam_torch(tp, {"w": torch.full((3,), 0.5, dtype=torch.float64)}, None)
    assert new["w"].dtype == torch.float32


@pytest.mark.parametrize("call,exc,match", [
    (lambda: O.adam({"w": np.ones(2)}, {"w": np.ones(2)}, None, beta_1=0.9), TypeError,
     "unknown hyperparameter 'beta_1'; it takes lr, beta1"),
    (lambda: O.adam({"w": np.ones(2)}, {"w": np.ones(2)}, None, beta2=1.0), ValueError,
     r"beta2 must be in \[0, 1\)"),
    (lambda: O.momentum({"w": np.ones(2)}, {"w": np.ones(2)}, None, gamma=-0.1), ValueError,
     r"gamma must be in \[0, 1\)"),
    (lambda: O.sgd({"w": np.ones(2)}, {"w": np.ones(2)}, None, lr=0.0), ValueError,
     "lr must be finite and > 0"),
    (lambda: O.sgd({"w": np.ones(2)}, {"v": np.ones(2)}), ValueError, "same names"),
    (lambda: O.sgd({"w": np.ones(2)}, {"w": np.ones(3)}), ValueError,
     r"grads\['w'\] must have the shape of params\['w'\], \(2,\); got \(3,\)"),
    (lambda: O.sgd([np.ones(2)], [np.ones(2)]), TypeError, "dicts name -> array"),
    (lambda: O.sgd({"w": torch.ones(2)}, {"w": torch.ones(2)}), TypeError,
     "Use the \\*_torch twin"),
    (lambda: O.sgd({"w": "abc"}, {"w": np.ones(2)}), TypeError, r"params\['w'\]"),
    (lambda: O.adam({"w": np.ones(2)}, {"w": np.ones(2)}, {"m": 1}), TypeError,
     "the dict the previous call returned"),
    (lambda: O.adam({"w": np.ones(2)}, {"w": np.ones(2)},
                    {"t": 1, "m": {"x": np.ones(2)}, "v": {"x": np.ones(2)}}), ValueError,
     r"state\['m'\] must hold one entry per parameter \['w'\]"),
    (lambda: O.rmsprop({"w": np.ones(2)}, {"w": np.ones(2)},
                       O.adam({"w": np.ones(2)}, {"w": np.ones(2)})[1]), ValueError,
     "pass the state this rule returned"),
    (lambda: O.momentum_ramp(0), ValueError, "updates count from 1"),
    (lambda: E.trajectory("adamm"), ValueError, "rule must be one of 'sgd'"),
    (lambda: E.trajectory("adam", start=(1.0, 2.0, 3.0)), ValueError, "start must be a point"),
])
def test_errors_say_what_was_expected(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_signatures_show_the_hyperparameters_and_torchs_defaults():
    import inspect

    sig = inspect.signature(O.adam_torch)
    assert list(sig.parameters)[:3] == ["params", "grads", "state"]
    assert sig.parameters["beta2"].default == 0.999 and sig.parameters["lr"].default == 1e-3
    assert "Adam (Kingma & Ba" in O.adam.__doc__ and "Torch twin" in O.adam_torch.__doc__


# ---------------------------------------------------------------------------- (a) 2-D races
def test_quadratic_race_gd_zigzags_and_momentum_is_faster():
    """Best rate of 61 log-spaced ones for each racer, tolerance 1e-6 of f(start).
    Measured: GD 159 steps (lr 0.038 > 1/L = 0.02, zig-zag 1.0), momentum 0.9: 80 (0.17),
    Nesterov 0.9: 36, Adam: 84. Deterministic; the margins leave room for a finer grid."""
    race = E.best_lr_race("quadratic")
    gd, mom, nest = race["gd"], race["momentum"], race["nesterov"]
    assert gd["lr"] > 1 / 50 and gd["zigzag"] >= 0.9  # the best GD crosses the valley
    assert mom["steps"] < 0.7 * gd["steps"] and nest["steps"] < 0.7 * gd["steps"]
    assert race["adam"]["steps"] < gd["steps"]
    assert 140 <= gd["steps"] <= 175  # theory at lr = 2/51: log(1e-6) / (2 log 0.96) = 169
    # below 1/L_max = 0.02 GD creeps down the valley wall without crossing it
    assert E.zigzag_fraction(E.trajectory("sgd", "quadratic", 0.019, 60)) == 0.0
    assert E.zigzag_fraction(E.trajectory("sgd", "quadratic", 0.021, 60)) == 1.0


def test_rosenbrock_race_momentum_and_adam_reach_the_minimum_gd_does_not():
    """2000 steps at each racer's best of 26 rates in 1e-5..1. Measured distances to (1, 1):
    GD 0.33, momentum 7.5e-7, Nesterov 1.7e-4, Adam 8e-13."""
    race = E.best_lr_race("rosenbrock", steps=2000, lrs=np.logspace(-5, 0, 26))
    assert race["gd"]["distance"] > 0.1
    for racer in ("momentum", "nesterov", "adam"):
        assert race[racer]["distance"] < 0.01, racer


# ---------------------------------------------------------------------------- (b) convex rates
def test_nesterov_is_one_over_k_squared_gd_one_over_k():
    """Slopes fitted over k = 10..1000: measured GD -0.996, Nesterov -1.937 (deterministic)."""
    r = E.convex_rates()
    assert r["gd_slope"] == pytest.approx(-1.0, abs=0.1)
    assert r["nesterov_slope"] == pytest.approx(-2.0, abs=0.2)
    assert np.all(r["gd"] <= r["gd_bound"]) and np.all(r["nesterov"] <= r["nesterov_bound"])
    assert r["nesterov"][999] < 0.02 * r["gd"][999]  # measured 9.3e-7 vs 1.2e-4


# ---------------------------------------------------------------------------- (c) Adagrad stalls
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adagrad_rates_shrink_until_learning_stalls_rmsprop_does_not(seed):
    """1000 steps, lr 0.1, targets 20..50 away. Measured (seeds 0, 1, 2): Adagrad still has
    83%, 83%, 81% of the distance to go, its steps shrink as 0.1/sqrt(t) (3.2e-3 at t = 1000);
    RMSprop arrives (0% left); its rates rise again near the end (25x, 25x, 31x its lowest)."""
    r = E.adagrad_vs_rmsprop(seed=seed)
    ada, rms = r["adagrad"], r["rmsprop"]
    assert np.all(np.diff(ada["rates"], axis=0) <= 0)  # never grows, for every entry
    assert ada["step"][-1] == pytest.approx(0.1 / np.sqrt(1000), rel=0.05)
    assert ada["remaining"][-1] > 0.6 and rms["remaining"][-1] < 0.01
    assert np.any(np.diff(rms["rates"], axis=0) > 0)
    assert rms["rates"][-1].min() > 5 * rms["rates"].min()
    assert rms["step"][0] == pytest.approx(0.1 / np.sqrt(1 - 0.99), rel=1e-3)  # no correction


# ---------------------------------------------------------------------------- (d) Adam's bias
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adam_moments_are_biased_towards_zero_by_one_minus_beta_t(seed):
    """20000 streams, 1000 steps, g ~ N(0.5, 1): E[g^2] = 1.25. The largest |z| over the
    1000 steps was 3.1 (seed 0): the margin is 5 standard errors at every step."""
    b = E.adam_bias_check(seed=seed)
    assert np.all(np.abs(b["v_mean"] - b["v_expected"]) < 5 * b["v_se"])
    assert np.all(np.abs(b["m_mean"] - b["m_expected"]) < 5 * b["m_se"])
    assert b["v_mean"][9] < 0.011 * 1.25  # uncorrected v_10 is 1% of E[g^2]
    corrected_se = b["v_se"] / (1 - 0.999 ** b["t"])  # measured worst |error|: 1.8% of 1.25
    assert np.all(np.abs(b["v_hat_mean"] - 1.25) < 5 * corrected_se)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uncorrected_first_step_is_sqrt_10_times_too_large(seed):
    """g ~ N(1, 0.1^2). Measured step/lr at t = 1..3 (seed 0): uncorrected 3.1623, 4.239,
    4.935, corrected 1.000, 0.998, 0.997; |uncorrected / factor - 1| <= 0.5% over 20 steps."""
    f = E.adam_first_steps(seed=seed)
    np.testing.assert_allclose(f["corrected"][:5], 1.0, atol=0.02)
    np.testing.assert_allclose(f["uncorrected"], f["factor"], rtol=0.02)
    assert f["uncorrected"][0] == pytest.approx(np.sqrt(10), rel=1e-5)


# ---------------------------------------------------------------------------- (e) lr range, digits
LRS = 10.0 ** np.arange(-4, 0.51, 0.5)  # 1e-4 .. 3.16, half decades


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adam_tolerates_a_wider_range_of_learning_rates_than_sgd(seed):
    """64-64-10 MLP, 20 epochs, batches of 32, best validation loss over the epochs; width
    in decades of the rates within 3x the best loss. Measured (seeds 0..4): SGD 1.07, 1.38,
    1.20, 1.22, 1.08; Adam 2.01, 2.19, 1.89, 2.29, 2.09; difference >= 0.69."""
    split = E.digits_01(seed)
    with few_threads("cpu"):
        sgd = E.lr_sweep("sgd", LRS, split, seed=seed)
        adam = E.lr_sweep("adam", LRS, split, seed=seed)
    assert E.good_lr_width(LRS, adam, 3.0) > E.good_lr_width(LRS, sgd, 3.0) + 0.4
    assert min(adam.min(), sgd.min()) < 0.15  # both reach a good model somewhere
    assert not np.isfinite(sgd[-1]) or sgd[-1] > 2.0  # SGD at 3.16 diverges or learns nothing


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adam_at_3e_4_trains_well(seed):
    """30 epochs, batches of 16. Measured val loss (seeds 0..3): Adam 0.249, 0.219, 0.271,
    0.246; plain SGD at the same rate 2.27, 2.29, 2.28, 2.26 (it barely moves)."""
    split = E.digits_01(seed)
    with few_threads("cpu"):
        adam = E.train_mlp("adam", 3e-4, split, seed=seed, epochs=30, batch_size=16)
        sgd = E.train_mlp("sgd", 3e-4, split, seed=seed, epochs=30, batch_size=16)
    assert adam["val_loss"][-1] < 0.4 and adam["val_acc"][-1] > 0.9
    assert sgd["val_loss"][-1] > 2.0


def test_good_lr_width_interpolates_in_log_lr():
    lrs = np.array([1e-3, 1e-2, 1e-1, 1.0])
    assert E.good_lr_width(lrs, np.array([4.0, 1.0, 1.0, 4.0]), 2.0) == pytest.approx(
        1 + 2 / 3, abs=0.01)
    assert E.good_lr_width(lrs, np.array([1.0, np.inf, np.nan, 9.0]), 2.0) < 0.5


# ---------------------------------------------------------------------------- (f) the explorer
def test_trajectory_shape_and_divergence_is_held():
    pts = E.trajectory("momentum", "quadratic", lr=0.01, steps=50, gamma=0.5)
    assert pts.shape == (51, 2) and np.all(np.isfinite(pts))
    blown = E.trajectory("sgd", "quadratic", lr=0.1, steps=200)  # lr > 2/L: diverges
    assert np.all(np.isfinite(blown)) and np.all(blown[-1] == blown[-2])


def test_one_beta_slider_sets_each_rules_coefficient():
    for rule, name in E.BETA_NAME.items():
        hyper = {"lr": 0.01, name: 0.5}
        np.testing.assert_array_equal(E.trajectory(rule, lr=0.01, steps=20, beta=0.5),
                                      E.trajectory(rule, steps=20, **hyper), err_msg=rule)
    plain = E.trajectory("sgd", lr=0.01, steps=20)
    np.testing.assert_array_equal(E.trajectory("sgd", lr=0.01, steps=20, beta=0.3), plain)
    with pytest.raises(ValueError, match=r"beta1 must be in \[0, 1\)"):
        E.trajectory("adam", beta=1.0)
    X, Y, Z = E.surface_grid("rosenbrock", 50)
    assert X.shape == Y.shape == Z.shape == (50, 50) and Z.min() >= 0


@pytest.mark.timed
def test_trajectory_is_fast_enough_for_a_widget():
    """200 steps of Adam on Rosenbrock: measured 2.3 ms on the 2-core CPU; budget 100 ms
    including the redraw, so the computation gets 30 ms here."""
    seconds = median_seconds(lambda: E.trajectory("adam", "rosenbrock", 0.05, 200), repeats=7)
    assert seconds < 0.03


# ---------------------------------------------------------------------------- lecture 07's extras
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adam_at_3e_4_is_far_from_done_after_680_updates(seed):
    """The sweep's budget (20 epochs, batches of 32: 680 updates) is too short for 3e-4.
    Measured best val loss (seeds 0, 1, 2): 0.603, 0.589, 0.594; ~2000 updates reach < 0.4
    (test_adam_at_3e_4_trains_well)."""
    split = E.digits_01(seed)
    with few_threads("cpu"):
        short = E.train_mlp("adam", 3e-4, split, seed=seed, epochs=20, batch_size=32)
    assert short["val_loss"].min() > 0.45


def test_l2_inside_adam_ignores_the_decay_strength_adamw_does_not():
    """A weight with zero data gradient, 100 steps at lr 0.01 from 1. Measured: Adam + L2
    ends at 0.224446, 0.224447, 0.224453 for weight_decay 0.1, 0.01, 0.001 (the normalization
    removes the decay's size); AdamW at (1 - lr wd)^100 exactly."""
    ends = {}
    for wd in (0.1, 0.01, 0.001):
        for rule in ("adam", "adamw"):
            p, s = np.array([1.0]), {}
            for t in range(1, 101):
                p, s = getattr(O, f"{rule}_rule")(p, np.zeros(1), s, t, lr=0.01, weight_decay=wd)
            ends[rule, wd] = p[0]
        assert ends["adamw", wd] == pytest.approx((1 - 0.01 * wd) ** 100, rel=1e-12)
    l2 = [ends["adam", wd] for wd in (0.1, 0.01, 0.001)]
    assert max(l2) - min(l2) < 1e-4 and max(l2) < 0.5  # moved far, whatever the strength
    assert ends["adamw", 0.001] > ends["adamw", 0.1] + 0.09


def test_explorer_update_summarizes_the_path():
    from tnn.widgets.optimizers import explorer_update

    view = explorer_update("momentum", "quadratic", 0.0068, beta=0.9, steps=200)
    assert view["points"].shape == (201, 2) and view["steps_to_1e-6"] == 80  # the race's 80
    assert "gamma 0.9" in view["summary"] and "after 80 steps" in view["summary"]
    plain = explorer_update("sgd", "quadratic", 0.019, beta=0.5, steps=50)
    assert "gamma" not in plain["summary"] and plain["steps_to_1e-6"] == float("inf")
    with pytest.raises(ValueError, match="surface"):
        explorer_update("adam", "saddle", 0.01)


@pytest.mark.timed
def test_optimizer_explorer_update_and_redraw_within_100_ms():
    """200 Adam steps on Rosenbrock plus the in-place redraw rendered to PNG, as the widget
    does. Measured on the 2-core CPU: 30-37 ms (default dpi)."""
    import io

    import matplotlib.pyplot as plt

    from tnn.plots.optimizers import draw_surface
    from tnn.widgets.optimizers import explorer_update

    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    draw_surface(ax, "rosenbrock")
    line, = ax.plot([], [], ".-")
    state = {"lr": 0.05}

    def update():
        state["lr"] = 0.02 if state["lr"] == 0.05 else 0.05
        v = explorer_update("adam", "rosenbrock", state["lr"], 0.9, 200)
        line.set_data(v["points"][:, 0], v["points"][:, 1])
        ax.set_title(v["summary"][:40])
        fig.savefig(io.BytesIO(), format="png")

    seconds = median_seconds(update, repeats=15, warmup=1)
    plt.close(fig)
    assert seconds < 0.1, f"update + redraw took {1e3 * seconds:.0f} ms (budget 100 ms)"


def test_optimizer_widget_and_figures_build_headless():
    pytest.importorskip("ipywidgets")
    import matplotlib.pyplot as plt

    from tnn.plots import optimizers as plots
    from tnn.widgets.optimizers import trajectory_explorer

    box = trajectory_explorer("sgd", "quadratic", lr=0.019, beta=0.9)
    lr_slider, text = box.children[0].children[0], box.children[2]
    assert "sgd (lr 0.019)" in text.value
    lr_slider.value = 0.021
    assert "sgd (lr 0.021)" in text.value
    box.children[1].children[1].value = "rosenbrock"  # the surface menu: new contours
    assert "on rosenbrock" in text.value
    paths = {s: {"gd": E.trajectory("sgd", s, 1e-3, 5)} for s in ("quadratic", "rosenbrock")}
    rates = E.convex_rates(n=50, steps=20, fit=(2, 20))
    f = E.adam_first_steps(steps=5, streams=10)
    b = E.adam_bias_check(streams=10, steps=5)
    figs = [plots.plot_trajectories(paths), plots.plot_convex_rates(rates),
            plots.plot_adagrad_rmsprop(E.adagrad_vs_rmsprop(steps=20)),
            plots.plot_adam_bias(b, f, 1.25),
            plots.plot_lr_range(np.array([1e-3, 1e-2]),
                                {"SGD": np.array([[1.0, np.inf]]), "Adam": np.ones((1, 2))})]
    assert [len(fig.axes) for fig in figs] == [2, 1, 2, 2, 1]
    for fig in figs:
        plt.close(fig)
