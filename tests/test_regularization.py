"""Topic 04: penalties and their gradients (NumPy vs torch twin vs autograd vs torch.optim),
L2 = weight decay in SGD but not in Adam, early stopping, batch norm against
torch.nn.BatchNorm1d, and the lecture's experiments asserted over several seeds.
"""

import numpy as np
import pytest
import torch
from conftest import assert_backward_matches_numerical, assert_twins_agree, to_numpy

from tnn import regularization
from tnn.data import small_digits
from tnn.device import few_threads, median_seconds

SEEDS = (0, 1, 2)


def _w(seed=0, shape=(5, 4), dtype=np.float64):
    w = np.random.default_rng(seed).normal(size=shape).astype(dtype)
    w.flat[::3] = 0.0  # exact zeros: where L1's subgradient is 0
    return w


# ---------------------------------------------------------------------------- penalties
@pytest.mark.parametrize("kind", ["l2", "l1", "elastic_net"])
def test_penalty_values_follow_the_convention(kind):
    w = _w()
    value, grad = regularization.penalty(w, 0.3, kind, beta=2.0)
    l2, l1 = 0.5 * 0.3 * np.sum(w ** 2), 0.3 * np.sum(np.abs(w))
    expected = {"l2": l2, "l1": l1, "elastic_net": 2.0 * l2 + l1}[kind]
    assert value == pytest.approx(expected, rel=1e-12)
    g_expected = {"l2": 0.3 * w, "l1": 0.3 * np.sign(w),
                  "elastic_net": 0.3 * (2.0 * w + np.sign(w))}[kind]
    np.testing.assert_allclose(grad, g_expected, rtol=1e-12)


def test_l1_subgradient_is_zero_at_zero():
    w = np.array([-2.0, 0.0, 3.0, -0.0])
    _, g = regularization.l1_penalty(w, 0.5)
    np.testing.assert_array_equal(g, [-0.5, 0.0, 0.5, 0.0])
    _, g_t = regularization.l1_penalty_torch(torch.as_tensor(w), 0.5)
    np.testing.assert_array_equal(g_t.numpy(), [-0.5, 0.0, 0.5, 0.0])


@pytest.mark.parametrize("kind", ["l2", "elastic_net"])
def test_smooth_penalty_gradients_match_numerical(kind):
    w = np.random.default_rng(3).normal(size=(6, 3)) + 0.5  # away from 0: |w| is smooth there
    w[np.abs(w) < 0.1] = 0.3
    assert_backward_matches_numerical(
        lambda v: np.array(regularization.penalty(v, 0.7, kind, beta=1.5)[0]),
        lambda v, dout: regularization.penalty(v, 0.7, kind, beta=1.5)[1] * dout,
        w, np.array(1.0), tolerance=1e-7)


def _named(fn, *names):
    """``fn`` with its tuple result as a dict, so each output is compared under its name."""
    return lambda **kwargs: dict(zip(names, fn(**kwargs), strict=True))


@pytest.mark.parametrize("kind", ["l2", "l1", "elastic_net"])
def test_twins_agree_and_match_autograd(kind, device):
    w = _w(4, (7, 5))
    assert_twins_agree(_named(regularization.penalty, "value", "grad"),
                       _named(regularization.penalty_torch, "value", "grad"),
                       [{"w": w, "lam": 0.2, "kind": kind, "beta": 0.5}], device,
                       rtol=1e-12, atol=0)
    _, grad = regularization.penalty(w, 0.2, kind, beta=0.5)
    wt = torch.as_tensor(w, device=device).requires_grad_(True)
    vt, gt = regularization.penalty_torch(wt, 0.2, kind, beta=0.5)
    assert gt.dtype == torch.float64
    (auto,) = torch.autograd.grad(vt, wt)  # autograd's derivative of |w| at 0 is 0 too
    np.testing.assert_allclose(to_numpy(auto), grad, rtol=1e-12, atol=1e-15)


def test_weight_penalty_skips_biases_and_matches_the_reference():
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    weights = [net[0].weight.detach().numpy(), net[2].weight.detach().numpy()]
    for kind in ("l2", "l1", "elastic_net"):
        value = regularization.weight_penalty(0.1, kind, beta=2.0)(net)
        expected = sum(regularization.penalty(w, 0.1, kind, 2.0)[0] for w in weights)
        assert float(value.detach()) == pytest.approx(expected, rel=1e-5)
        net.zero_grad()
        value.backward()
        assert torch.all(net[0].bias.grad == 0) if net[0].bias.grad is not None else True


def test_penalties_keep_dtype_and_leave_input_alone():
    w = _w(dtype=np.float32)
    before = w.copy()
    for kind in ("l2", "l1", "elastic_net"):
        _, g = regularization.penalty(w, 0.1, kind)
        assert g.dtype == np.float32 and g.shape == w.shape
    np.testing.assert_array_equal(w, before)


def test_penalty_messages():
    with pytest.raises(ValueError, match="lam must be finite and >= 0"):
        regularization.l2_penalty(np.ones(3), -1.0)
    with pytest.raises(ValueError, match="kind must be one of 'l2'"):
        regularization.penalty(np.ones(3), 0.1, "l3")
    with pytest.raises(TypeError, match="w must be a real number or an array"):
        regularization.l1_penalty("abc", 0.1)


# ---------------------------------------------------------------------------- SGD step
def _params(dtype=np.float64):
    r = np.random.default_rng(9)
    params = {"W1": r.normal(size=(4, 3)), "b1": r.normal(size=3), "W2": r.normal(size=(3, 2)),
              "b2": r.normal(size=2)}
    grads = {k: r.normal(size=v.shape) for k, v in params.items()}
    cast = lambda d: {k: v.astype(dtype) for k, v in d.items()}  # noqa: E731
    return cast(params), cast(grads)


def test_sgd_step_penalizes_weights_not_biases():
    params, grads = _params()
    new = regularization.sgd_step(params, grads, lr=0.1, lam=0.5)
    for name in ("b1", "b2"):
        np.testing.assert_allclose(new[name], params[name] - 0.1 * grads[name], rtol=1e-14)
    for name in ("W1", "W2"):  # L2 in SGD is multiplicative decay by (1 - lr * lam)
        np.testing.assert_allclose(new[name], (1 - 0.05) * params[name] - 0.1 * grads[name],
                                   rtol=1e-13)
        np.testing.assert_allclose(new[name], regularization.weight_decay_step(params[name], grads[name],
                                                                  0.1, 0.5), rtol=1e-13)


def test_l1_step_moves_by_a_constant_amount():
    w = np.array([[3.0, -2.0, 0.5, 0.0]])
    new = regularization.sgd_step({"W": w}, {"W": np.zeros_like(w)}, lr=0.1, lam=0.2, kind="l1")["W"]
    np.testing.assert_allclose(w - new, [[0.02, -0.02, 0.02, 0.0]], rtol=1e-12)  # lr * lam
    new2 = regularization.sgd_step({"W": w}, {"W": np.zeros_like(w)}, lr=0.1, lam=0.2)["W"]
    np.testing.assert_allclose(new2 / np.where(w == 0, 1, w), [[0.98, 0.98, 0.98, 0.0]])


def test_sgd_step_matches_torch_optim_sgd_with_weight_decay():
    params, grads = _params()
    new = regularization.sgd_step(params, grads, lr=0.05, lam=0.3)
    for name in params:  # torch's weight_decay, given the weights only
        p = torch.tensor(params[name], requires_grad=True)
        p.grad = torch.tensor(grads[name])
        torch.optim.SGD([p], lr=0.05, weight_decay=0.0 if regularization.is_bias(name) else 0.3).step()
        np.testing.assert_allclose(p.detach().numpy(), new[name], rtol=1e-14)


def test_sgd_step_twin_agrees_and_copies(device):
    params, grads = _params(np.float32)
    before = {k: v.copy() for k, v in params.items()}
    sent = []  # the tensors the twin was given, to check it left them alone

    def twin(params, grads, **kwargs):  # dicts of float32 tensors on the device
        sent.append({k: torch.as_tensor(v, device=device) for k, v in params.items()})
        return regularization.sgd_step_torch(
            sent[-1], {k: torch.as_tensor(v, device=device) for k, v in grads.items()}, **kwargs)

    case = {"params": params, "grads": grads, "lr": 0.1, "lam": 0.2, "kind": "elastic_net",
            "beta": 3.0}
    assert_twins_agree(regularization.sgd_step, twin, [case], device, rtol=1e-6, atol=0)
    new = regularization.sgd_step(**case)
    for k in params:
        assert new[k].dtype == np.float32
        np.testing.assert_array_equal(params[k], before[k])
        np.testing.assert_array_equal(to_numpy(sent[0][k]), before[k])


def test_sgd_step_messages():
    params, grads = _params()
    with pytest.raises(ValueError, match="same names"):
        regularization.sgd_step(params, {"W1": grads["W1"]}, 0.1, 0.1)
    with pytest.raises(TypeError, match="must be dicts name -> array"):
        regularization.sgd_step([1.0], [1.0], 0.1, 0.1)
    bad = dict(grads, W1=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"grads\['W1'\] must have the shape"):
        regularization.sgd_step(params, bad, 0.1, 0.1)


def test_l2_is_weight_decay_with_sgd_but_not_with_adam():
    res = regularization.adam_vs_adamw()
    assert res["sgd_penalty_vs_weight_decay"] < 1e-12
    assert res["sgd_penalty_vs_multiplicative"] < 1e-12
    assert res["adam_penalty_vs_weight_decay"] < 1e-12  # Adam(weight_decay) = L2 in the loss
    assert res["adam_l2_vs_adamw"] > 0.1  # ... and AdamW is something else
    assert abs(res["norm_adam_l2"] - res["norm_adamw"]) > 0.1


# ---------------------------------------------------------------------------- early stopping
@pytest.mark.parametrize("curve, patience, expected", [
    ([0.5, 0.6, 0.7, 0.65, 0.66, 0.64, 0.7, 0.71], 3, (3, 6)),
    ([0.5, 0.6, 0.7, 0.65, 0.66, 0.64, 0.7, 0.71], 5, (8, 8)),
    ([0.9], 1, (1, 1)),
    ([0.3, 0.3, 0.3], 2, (1, 3)),  # a tie is no improvement
    ([0.1, 0.2, 0.3, 0.4], 1, (4, 4)),
    ([0.4, 0.3, 0.2, 0.1, 0.5], 2, (1, 3)),
])
def test_early_stopping_epoch(curve, patience, expected, device):
    assert regularization.early_stopping_epoch(curve, patience) == expected
    assert regularization.early_stopping_epoch_torch(torch.tensor(curve, device=device), patience) == expected


def test_early_stopping_twin_on_random_curves(device):
    r = np.random.default_rng(0)
    cases = []
    for _ in range(200):
        curve = np.round(r.uniform(size=int(r.integers(1, 40))), 1)  # many ties
        cases.append({"val_acc": curve, "patience": int(r.integers(1, 8))})
    assert_twins_agree(regularization.early_stopping_epoch,
                       regularization.early_stopping_epoch_torch, cases, device, rtol=0, atol=0)


def test_early_stopping_messages():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        regularization.early_stopping_epoch([], 3)
    with pytest.raises(ValueError, match="patience"):
        regularization.early_stopping_epoch([0.1, 0.2], 0)


# ---------------------------------------------------------------------------- batch norm
def _bn_inputs(n=6, d=4, dtype=np.float64, seed=0):
    r = np.random.default_rng(seed)
    return (r.normal(2.0, 3.0, size=(n, d)).astype(dtype), r.uniform(0.5, 2, d).astype(dtype),
            r.normal(size=d).astype(dtype), r.normal(size=d).astype(dtype),
            r.uniform(0.5, 2, d).astype(dtype))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("n, momentum", [(2, 0.1), (7, 0.3), (64, 1.0)])
def test_batchnorm_matches_torch_batchnorm1d(training, n, momentum, device):
    x, gamma, beta, rm, rv = _bn_inputs(n)
    bn = torch.nn.BatchNorm1d(4, momentum=momentum, eps=1e-5).double().to(device)
    with torch.no_grad():
        bn.weight.copy_(torch.as_tensor(gamma))
        bn.bias.copy_(torch.as_tensor(beta))
        bn.running_mean.copy_(torch.as_tensor(rm))
        bn.running_var.copy_(torch.as_tensor(rv))
    bn.train(training)
    with torch.no_grad():
        expected = bn(torch.as_tensor(x, device=device))
    before = [a.copy() for a in (x, gamma, beta, rm, rv)]
    out, new_rm, new_rv = regularization.batchnorm_forward(x, gamma, beta, rm, rv, training, momentum)
    for a, b in zip(before, (x, gamma, beta, rm, rv), strict=True):
        np.testing.assert_array_equal(a, b)  # nothing modified in place
    np.testing.assert_allclose(out, to_numpy(expected), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(new_rm, to_numpy(bn.running_mean), rtol=1e-12)
    np.testing.assert_allclose(new_rv, to_numpy(bn.running_var), rtol=1e-12)
    # the twin: the output to 1e-12 absolute, the running statistics to 1e-12 relative
    case = {"x": x, "gamma": gamma, "beta": beta, "running_mean": rm, "running_var": rv,
            "training": training, "momentum": momentum}
    out_of = lambda fn: lambda **kw: fn(**kw)[0]  # noqa: E731
    stats_of = lambda fn: lambda **kw: fn(**kw)[1:]  # noqa: E731
    assert_twins_agree(out_of(regularization.batchnorm_forward),
                       out_of(regularization.batchnorm_forward_torch), [case], device,
                       rtol=1e-12, atol=1e-12)
    assert_twins_agree(stats_of(regularization.batchnorm_forward),
                       stats_of(regularization.batchnorm_forward_torch), [case], device,
                       rtol=1e-12, atol=0)
    args = [torch.as_tensor(a, device=device) for a in (x, gamma, beta, rm, rv)]
    regularization.batchnorm_forward_torch(*args, training, momentum)
    np.testing.assert_array_equal(to_numpy(args[3]), rm)  # the caller's tensors unchanged
    if not training:
        np.testing.assert_array_equal(new_rm, rm)
        np.testing.assert_array_equal(new_rv, rv)


def test_batchnorm_float32_and_messages():
    x, gamma, beta, rm, rv = _bn_inputs(dtype=np.float32)
    out, _, _ = regularization.batchnorm_forward(x, gamma, beta, rm, rv, True)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="at least 2 examples"):
        regularization.batchnorm_forward(x[:1], gamma, beta, rm, rv, True)
    regularization.batchnorm_forward(x[:1], gamma, beta, rm, rv, False)  # one example is fine in eval
    with pytest.raises(ValueError, match=r"gamma must have shape \(4,\)"):
        regularization.batchnorm_forward(x, gamma[:3], beta, rm, rv, True)


def test_batchnorm_train_output_depends_on_the_batch_eval_does_not():
    x, gamma, beta, rm, rv = _bn_inputs(8)
    alone = regularization.batchnorm_forward(x[:2], gamma, beta, rm, rv, True)[0][0]
    together = regularization.batchnorm_forward(x, gamma, beta, rm, rv, True)[0][0]
    assert np.abs(alone - together).max() > 0.1
    e1 = regularization.batchnorm_forward(x[:2], gamma, beta, rm, rv, False)[0][0]
    e2 = regularization.batchnorm_forward(x, gamma, beta, rm, rv, False)[0][0]
    np.testing.assert_array_equal(e1, e2)


# ---------------------------------------------------------------------------- helpers
def test_sparsity_and_images():
    w = np.zeros((3, 64))
    w[0, :8] = 1.0
    assert regularization.small_weight_fraction(w) == pytest.approx(1 - 8 / 192)
    assert regularization.first_layer_images(w).shape == (3, 8, 8)
    with pytest.raises(ValueError, match="shape"):
        regularization.first_layer_images(np.zeros((3, 10)))


# ---------------------------------------------------------------------------- the lecture's figures
@pytest.fixture(scope="module")
def lecture_runs():
    """The lecture's experiments on three data splits (seeds 0, 1, 2), one thread each."""
    out = {}
    with few_threads("cpu", 1):
        for seed in SEEDS:
            split = regularization.lecture_split(seed)  # its train and val are small_digits(rng)'s
            out[seed] = {"split": split, "sweep": regularization.penalty_sweep(split, seed=seed),
                         "ensemble": regularization.ensemble_curve(split, seed=seed),
                         "bn": regularization.batchnorm_eval_bug(split, seed=seed)}
    return out


@pytest.mark.slow
def test_unpenalized_mlp_overfits(lecture_runs):
    for seed, runs in lecture_runs.items():
        base = runs["sweep"][("l2", 0.0)]
        assert base["train_acc"][-1] == 1.0, seed  # fits all 200 training digits
        assert base["train_loss"][-1] < 0.01
        assert base["val_acc"][-1] < 0.97  # ... while 3 to 9 % of the validation set is wrong
        assert base["val_loss"][-1] - base["train_loss"][-1] > 0.15


@pytest.mark.slow
def test_l2_sweep_narrows_the_gap_and_too_much_underfits(lecture_runs):
    lams = regularization.LECTURE["l2_lams"]
    for seed, runs in lecture_runs.items():
        gaps = [runs["sweep"][("l2", lam)]["val_loss"][-1] - runs["sweep"][("l2", lam)]
                ["train_loss"][-1] for lam in lams]
        assert all(a > b for a, b in zip(gaps[:4], gaps[1:4], strict=False)), (seed, gaps)
        weak = runs["sweep"][("l2", 3e-3)]
        strong = runs["sweep"][("l2", 3e-2)]
        base = runs["sweep"][("l2", 0.0)]
        assert weak["val_loss"][-1] < base["val_loss"][-1], seed  # better calibrated
        assert strong["train_acc"][-1] < 0.99, seed  # too strong: no longer fits the data
        assert strong["train_loss"][-1] > 0.2
    # accuracy: the mild penalty is no worse on average; the strong one is worse on average
    mean = lambda lam: np.mean([r["sweep"][("l2", lam)]["val_acc"][-1]  # noqa: E731
                                for r in lecture_runs.values()])
    assert mean(3e-3) >= mean(0.0) - 0.002
    gains = [r["sweep"][("l2", 3e-3)]["val_acc"][-1] - r["sweep"][("l2", 0.0)]["val_acc"][-1]
             for r in lecture_runs.values()]
    assert min(gains) >= -0.004 and max(gains) < 0.03, gains  # "between 0 and 2 points"
    assert mean(3e-2) < mean(3e-3) - 0.02


@pytest.mark.slow
def test_l1_is_sparse_at_comparable_accuracy(lecture_runs):
    small = regularization.LECTURE["small"]
    for seed, runs in lecture_runs.items():
        l1 = runs["sweep"][("l1", regularization.LECTURE["l1_lam"])]
        l2 = runs["sweep"][("l2", 3e-3)]
        assert abs(l1["val_acc"][-1] - l2["val_acc"][-1]) < 0.015, seed
        f1 = regularization.small_weight_fraction(l1["first_layer"], small)
        f2 = regularization.small_weight_fraction(l2["first_layer"], small)
        assert f1 > 0.25 and f2 < 0.03 and f1 > 10 * f2, (seed, f1, f2)
        blank = runs["split"]["train"].X.max(axis=0) == 0  # no data gradient reaches these
        near0 = np.abs(l1["first_layer"]) < small
        assert blank.any() and near0[:, blank].mean() > near0[:, ~blank].mean() + 0.05, seed


@pytest.mark.slow
def test_early_stopping_keeps_a_better_snapshot_and_stops_early(lecture_runs):
    for seed, runs in lecture_runs.items():
        curve = runs["sweep"][("l2", 0.0)]["val_acc"]
        best, stop = regularization.early_stopping_epoch(curve, regularization.LECTURE["patience"])
        assert stop < len(curve), seed
        assert curve[best - 1] >= curve[-1], seed
        assert len(runs["sweep"][("l2", 0.0)]["snapshots"]) == len(curve)


@pytest.mark.slow
def test_early_stopping_validation_gain_is_optimistic(lecture_runs):
    val_gain, test_gain = [], []
    for runs in lecture_runs.values():
        base, test = runs["sweep"][("l2", 0.0)], runs["split"]["test"]
        best, _ = regularization.early_stopping_epoch(base["val_acc"], regularization.LECTURE["patience"])
        end = len(base["val_acc"])
        val_gain.append(base["val_acc"][best - 1] - base["val_acc"][-1])
        test_gain.append(regularization.snapshot_accuracy(base, best, test.X, test.y)
                         - regularization.snapshot_accuracy(base, end, test.X, test.y))
    assert min(val_gain) >= 0
    assert np.mean(test_gain) < np.mean(val_gain) - 0.005, (val_gain, test_gain)
    assert test_gain[0] < 0  # split 0, quoted in the lecture: worse on the test digits


@pytest.mark.slow
def test_ensembles_beat_their_members_and_level_off(lecture_runs):
    gains = np.array([r["ensemble"]["gain"] for r in lecture_runs.values()])  # (seeds, 10)
    assert np.all(np.abs(gains[:, 0]) < 1e-6)  # n = 1 is the mean member
    assert np.all(gains[:, -1] > 0.005), gains[:, -1]  # more than 2 digits in 500, every split
    assert gains[0, -1] > 0.015 and np.all(gains[1:, -1] < gains[0, -1])  # as the lecture says
    mean = gains.mean(axis=0)
    assert mean[-1] > 0.005  # two and a half validation digits in 500, on average
    assert mean[4] > 0.7 * mean[-1]  # most of the gain is there by 5 members
    assert mean[-1] < 0.03  # one to two points here


@pytest.mark.slow
def test_forgetting_eval_mode_hurts_small_batches(lecture_runs):
    for seed, runs in lecture_runs.items():
        bn = runs["bn"]
        acc = bn["train_mode_acc"]
        assert acc[2] < bn["eval_acc"] - 0.2, seed
        assert acc[2] < acc[4] < acc[16], seed
        assert acc[64] > bn["eval_acc"] - 0.05, seed
        assert bn["running_mean_shift"][2] > 0.01  # train mode also moved the running stats


# ---------------------------------------------------------------------------- widget, plots
@pytest.mark.timed
def test_explorer_update_within_100_ms():
    from tnn.widgets.regularization import explorer_update

    explorer_update(lam=regularization.LECTURE["l2_lams"][1])  # trains the cached sweep once
    seconds = median_seconds(lambda: explorer_update(lam=regularization.LECTURE["l2_lams"][2]), repeats=15,
                             warmup=1)
    assert seconds < 0.1, f"explorer_update took {1e3 * seconds:.0f} ms (budget 100 ms)"


def test_figures_draw_headless():
    import matplotlib.pyplot as plt

    from tnn.plots import regularization as plots
    from tnn.reg_experiments import RegConfig

    split = small_digits(np.random.default_rng(0), n_train=40, n_val=40)
    cfg = RegConfig(hidden=(16,), epochs=3)
    runs = regularization.penalty_sweep(split, cfg, lams=(0.0, 1e-2))
    ens = regularization.ensemble_curve(split, cfg, members=3, orders=3)
    figs = [plots.plot_curves(runs), plots.plot_first_layer(runs, regularization.LECTURE["l1_lam"], 1e-2),
            plots.plot_weight_histograms(runs, regularization.LECTURE["l1_lam"], 1e-2),
            plots.plot_early_stopping(runs[("l2", 0.0)], 2), plots.plot_ensemble([ens])]
    for fig in figs:
        assert fig.axes
        plt.close(fig)


def test_explorer_views_and_figure():
    from tnn.widgets.regularization import GRID, explorer_figure, explorer_update

    none = explorer_update("l2", 0.0)
    assert none["lam"] == 0.0 and none["summary"].startswith("no penalty")
    view = explorer_update("l1", 2.5e-4)  # the nearest run of the grid: 3e-4
    assert view["lam"] == 3e-4 and view["images"].shape == (16, 8, 8)
    assert view["small"] > 0.25 and view["train_acc"][-1] == 1.0
    assert explorer_update("l2", 1.0)["lam"] == max(GRID["l2"])
    fig, draw = explorer_figure(view)
    draw(explorer_update("l2", 3e-3))
    assert len(fig.axes) == 3
    with pytest.raises(ValueError, match="kind must be one of"):
        explorer_update("l3", 0.1)
