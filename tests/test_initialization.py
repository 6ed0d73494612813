"""Topic 03: initializers vs torch.nn.init, the lecture's layer-statistics figures, the
backward view, constant-init symmetry, LSUV, conv shapes and receptive fields vs torch layers.
"""

import math

import numpy as np
import pytest
import torch
from conftest import assert_backward_matches_numerical, assert_twins_agree, to_numpy

from tnn import initialization
from tnn.device import median_seconds, torch_generator

LINEAR = (256, 128)  # (D_in, D_out)
CONV = (64, 32, 3, 3)  # (C_out, C_in, k, k): fan-in 32 * 9 = 288


# ------------------------------------------------------------------------------- fans and inits
def test_fan_in_and_fan_out_match_torch():
    assert initialization.fan_in(LINEAR) == 256 and initialization.fan_out(LINEAR) == 128
    assert initialization.fan_in(CONV) == 288 and initialization.fan_out(CONV) == 64 * 9
    assert initialization.fan_in((8, 3, 5)) == 15  # a 1-d convolution
    calc = torch.nn.init._calculate_fan_in_and_fan_out
    assert calc(torch.empty(CONV)) == (initialization.fan_in(CONV), initialization.fan_out(CONV))
    # torch's nn.Linear weight is our layout transposed
    assert calc(torch.empty(LINEAR[::-1])) == (initialization.fan_in(LINEAR), initialization.fan_out(LINEAR))


@pytest.mark.parametrize("activation, slope", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("selu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0.0),
])
def test_gain_matches_torch_calculate_gain(activation, slope):

    expected = torch.nn.init.calculate_gain(activation, slope)
    assert initialization.gain(activation, slope) == pytest.approx(expected, rel=1e-15)


def test_gain_refuses_unknown_activations():

    with pytest.raises(ValueError, match="activation must be one of 'linear'"):
        initialization.gain("swish")


@pytest.mark.parametrize("shape", [LINEAR, CONV])
def test_initializers_are_one_scaled_draw(shape):
    z = np.random.default_rng(5).standard_normal(shape)
    xav = initialization.xavier_normal(np.random.default_rng(5), shape)
    kai = initialization.kaiming_normal(np.random.default_rng(5), shape)
    leaky = initialization.kaiming_normal(np.random.default_rng(5), shape, negative_slope=0.2)
    n = initialization.fan_in(shape)
    np.testing.assert_allclose(xav, z / np.sqrt(n), rtol=1e-12)
    np.testing.assert_allclose(kai, z * np.sqrt(2 / n), rtol=1e-12)
    np.testing.assert_allclose(leaky, z * np.sqrt(2 / (1.04 * n)), rtol=1e-12)
    assert xav.shape == shape and xav.dtype == np.float64
    x32 = initialization.xavier_normal(np.random.default_rng(5), shape, dtype=np.float32)
    assert x32.dtype == np.float32
    # the lecture's conv rule: Din = filter_size^2 * input_channels
    big = initialization.kaiming_normal(np.random.default_rng(0), (256, 64, 3, 3))
    assert big.std() == pytest.approx(np.sqrt(2 / (9 * 64)), rel=0.01)


def test_torch_twins_sample_on_the_device_with_the_same_std(device):
    gen = torch_generator(0, device)
    w = initialization.xavier_normal_torch(gen, (512, 512))
    k = initialization.kaiming_normal_torch(gen, (128, 64, 3, 3))
    assert w.device.type == device.type and w.dtype == torch.float32
    assert float(w.std()) == pytest.approx(1 / math.sqrt(512), rel=0.01)
    assert float(k.std()) == pytest.approx(math.sqrt(2 / 576), rel=0.01)
    again = initialization.xavier_normal_torch(torch_generator(0, device), (512, 512))
    assert torch.equal(w, again)  # the generator makes it repeat
    c = initialization.constant_init_torch((3, 4), 0.5, device=device)
    assert c.device.type == device.type and torch.all(c == 0.5)


def test_reference_matches_torch_nn_init_statistically():
    state = torch.random.get_rng_state()
    rows = {r["name"]: r for r in initialization.torch_init_comparison(fan_in=512, fan_out=2048)}
    assert torch.equal(torch.random.get_rng_state(), state)  # torch's global RNG untouched
    for row in rows.values():
        assert row["std_sample"] == pytest.approx(row["std_formula"], rel=0.01), row["name"]
    assert rows["torch: xavier_normal_"]["std_formula"] == pytest.approx(math.sqrt(2 / 2560))
    assert rows["torch: nn.Linear default (kaiming_uniform_, a=sqrt(5))"][
        "std_formula"] == pytest.approx(1 / math.sqrt(3 * 512))
    # the lecture's "Xavier" is torch's kaiming_normal_ with the linear gain, and matches
    # torch's xavier_normal_ exactly when fan_in == fan_out
    square = {r["name"]: r["std_formula"] for r in initialization.torch_init_comparison(1024, 1024)}
    assert square["torch: xavier_normal_"] == pytest.approx(square["ours: xavier_normal"])
    # conv weights: the same fan-in convention as torch
    w = torch.empty(256, 64, 3, 3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")
    ours = initialization.kaiming_normal(np.random.default_rng(0), (256, 64, 3, 3))
    assert float(w.std()) == pytest.approx(float(ours.std()), rel=0.02)


def test_orthogonal_twins_give_orthonormal_rows_or_columns(device):
    for shape in [(64, 64), (32, 128), (128, 32), (16, 8, 3, 3)]:
        w = initialization.orthogonal(np.random.default_rng(0), shape, gain=2.0)
        wt = to_numpy(initialization.orthogonal_torch(torch_generator(0, device), shape, gain=2.0))
        for m in (w, wt):
            flat = m.reshape(shape[0], -1)
            gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
            np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)


@pytest.mark.parametrize(("call", "pattern"), [
    (lambda: initialization.xavier_normal(0, (3, 3)), "rng must be a np.random.Generator"),
    (lambda: initialization.kaiming_normal(np.random.default_rng(), 5), "shape must be a tuple of ints"),
    (lambda: initialization.xavier_normal(np.random.default_rng(), (5,)), "at least 2 entries"),
    (lambda: initialization.fan_in((3, 0)), r"shape\[1\] must be a positive int"),
    (lambda: initialization.xavier_normal(np.random.default_rng(), (3, 3), gain=-1), "gain must be finite"),
    (lambda: initialization.xavier_normal_torch(np.random.default_rng(), (3, 3)), "torch.Generator"),
    (lambda: initialization.InitScheme("relu", "he"), "init must be one of"),
    (lambda: initialization.layer_statistics(np.ones((2, 3)), [np.ones((4, 5))]), r"weights\[0\] must have shape \(3, D_out\)"),
    (lambda: initialization.conv_output_size(5, 7), "larger than the padded input"),
    (lambda: initialization.conv_output_size(5, 3, stride=0), "stride must be an int >= 1"),
    (lambda: initialization.receptive_field([3, 3]), r"layers\[0\] must be a \(kernel_size, stride\) pair"),
    (lambda: initialization.layer_backward(np.ones((2, 3)), np.ones((2, 4)), np.ones((5, 3))),
     r"w must have shape \(D_in, D_out\) = \(4, D_out\)"),
    (lambda: initialization.layer_backward(np.ones((2, 5)), np.ones((2, 4)), np.ones((4, 3))),
     r"dout is dL/dh_out and must have the output's shape \(N, D_out\) = \(2, 3\)"),
    (lambda: initialization.layer_forward(np.ones(4), np.ones((4, 3))), r"h_in must have shape \(N, D_in\)"),
    (lambda: initialization.layer_forward(np.ones((2, 4)), np.ones((4, 3)), "swish"), "activation must be one of"),
])
def test_bad_input_messages(call, pattern):
    with pytest.raises((TypeError, ValueError), match=pattern):
        call()


# ---------------------------------------------------------------- the lecture's experiment
@pytest.fixture(scope="module", params=[0, 1, 2], ids=lambda s: f"seed{s}")
def lecture_run(request):
    """The lecture's experiment at its exact size, forward and backward (a standard-normal
    upstream gradient, as in the lecture); one set of unit-normal weights per seed."""
    rng = np.random.default_rng(request.param)
    x, unit = initialization.sample_experiment(rng)
    assert x.shape == (16, 4096) and len(unit) == 6 and unit[0].shape == (4096, 4096)
    dout = rng.standard_normal((16, 4096), dtype=np.float32)
    return x, unit, dout, initialization.init_experiment(x, unit, backward=True, dout=dout)


@pytest.fixture(scope="module")
def lecture_results(lecture_run):
    return lecture_run[3]


@pytest.mark.parametrize("label", ["tanh, 0.01*randn", "tanh, 0.05*randn", "tanh, Xavier",
                                   "relu, Xavier"])
def test_lecture_figures_within_0_03(lecture_results, label):
    stats, expected = lecture_results[label], initialization.LECTURE_FIGURES[label]
    np.testing.assert_allclose(stats["std"], expected["std"], atol=0.03)
    np.testing.assert_allclose(stats["mean"], expected["mean"], atol=0.03)


def test_small_weights_collapse_and_kaiming_is_stable(lecture_results):
    small = lecture_results["tanh, 0.01*randn"]["std"]
    assert np.all(np.diff(small) < 0) and small[-1] < 0.06  # shrinks layer by layer
    kaiming = lecture_results["relu, Kaiming"]
    # fixed point of ReLU after N(0, 2/fan_in) weights: mean sqrt(1/pi), std sqrt(1 - 1/pi);
    # a batch of 16 lets it wander a little from layer to layer
    np.testing.assert_allclose(kaiming["mean"], initialization.LECTURE_FIGURES["relu, Kaiming"]["mean"],
                               atol=0.06)
    np.testing.assert_allclose(kaiming["std"], initialization.LECTURE_FIGURES["relu, Kaiming"]["std"],
                               atol=0.08)
    assert 0.85 < kaiming["std"][-1] / kaiming["std"][0] < 1.15
    # Xavier with ReLU loses about 1/sqrt(2) of the std per layer
    ratios = np.diff(np.log(lecture_results["relu, Xavier"]["std"]))
    np.testing.assert_allclose(np.exp(ratios), 1 / np.sqrt(2), atol=0.05)


def test_forward_claims_of_the_lecture_prose(lecture_results):
    """Lecture 03, sections 2a-2e: the figures its prose quotes, over three seeds."""
    small = lecture_results["tanh, 0.01*randn"]["std"]
    assert 0.60 < small[5] / small[4] < 0.68  # 2a: about 0.01 sqrt(4096) = 0.64 per layer
    assert small[5] < 0.06
    sat = lecture_results["tanh, 0.05*randn"]
    np.testing.assert_allclose(sat["pre_std"][0], 3.2, atol=0.1)  # 2b: 0.05 sqrt(4096)
    np.testing.assert_allclose(sat["pre_std"][1:], 2.7, atol=0.12)  # 3.2 x 0.85
    assert np.mean(np.abs(sat["activations"][-1]) > 0.9) > 0.5  # most outputs near -1 or +1
    # 2c: Var(z_l) = D Var(W) E[h_{l-1}^2] for every activation, zero-mean or not
    for label, stats in lecture_results.items():
        scheme = stats["scheme"]
        var_w = scheme.std(4096) ** 2
        second = np.concatenate([[1.0], stats["sq_mean"][:-1]])  # E[x^2] = 1 for the input
        np.testing.assert_allclose(stats["pre_std"] ** 2, 4096 * var_w * second, rtol=0.1,
                                   err_msg=label)
    # 2d: ReLU keeps half of the second moment: Xavier halves E[h^2] at every layer
    relu = lecture_results["relu, Xavier"]["sq_mean"]
    np.testing.assert_allclose(relu[1:] / relu[:-1], 0.5, atol=0.06)
    # 2e: with Kaiming, Var(z) = 2 (std 1.41) and E[h^2] = 1 in every layer
    kaiming = lecture_results["relu, Kaiming"]
    np.testing.assert_allclose(kaiming["pre_std"], math.sqrt(2), atol=0.12)
    np.testing.assert_allclose(kaiming["sq_mean"], 1.0, atol=0.2)


def test_abs_activation_keeps_the_second_moment_under_xavier(lecture_run):
    """Lecture 03, 2d: f(z) = |z| has a non-zero mean yet is stable under Xavier weights."""
    x, unit, _, results = lecture_run
    h = x
    for layer, u in enumerate(unit):
        h = np.abs((h @ u) * np.float32(1 / np.sqrt(u.shape[0])))
        assert h.mean() == pytest.approx(math.sqrt(2 / math.pi), abs=0.06), layer  # 0.80
        assert h.std() == pytest.approx(math.sqrt(1 - 2 / math.pi), abs=0.05), layer  # 0.60
        assert np.mean(h**2) == pytest.approx(1.0, abs=0.15), layer
    assert results["relu, Xavier"]["sq_mean"][-1] < 0.03  # ReLU's: halved six times


def test_backward_claims_of_the_lecture_prose(lecture_results):
    """Lecture 03, section 4: dL/dh at each layer's input and dL/dW per layer, at width 4096
    with a standard-normal upstream gradient, over three seeds."""
    dh = {k: v["grad_std"] for k, v in lecture_results.items()}
    dw = {k: v["weight_grad_std"] for k, v in lecture_results.items()}
    # 0.01*randn: dL/dh vanishes towards the input, dL/dW is the same in every layer
    assert dh["tanh, 0.01*randn"][0] == pytest.approx(0.05, abs=0.005)
    assert dh["tanh, 0.01*randn"][5] == pytest.approx(0.64, abs=0.03)
    assert dh["tanh, 0.01*randn"][5] > 10 * dh["tanh, 0.01*randn"][0]
    np.testing.assert_allclose(dw["tanh, 0.01*randn"], 0.29, atol=0.02)
    ratio = dw["tanh, Xavier"] / dw["tanh, 0.01*randn"]
    assert np.all((3.8 < ratio) & (ratio < 5.2)), ratio  # 4-5x at width 4096
    # 0.05*randn: saturated, yet the gradients grow towards the input (exploding)
    assert np.all(np.diff(dh["tanh, 0.05*randn"]) < 0) and np.all(np.diff(dw["tanh, 0.05*randn"]) < 0)
    assert dh["tanh, 0.05*randn"][0] == pytest.approx(6.9, abs=0.35)
    assert dh["tanh, 0.05*randn"][5] == pytest.approx(1.4, abs=0.05)
    assert dw["tanh, 0.05*randn"][0] == pytest.approx(8.5, abs=0.4)
    assert dw["tanh, 0.05*randn"][5] == pytest.approx(1.5, abs=0.05)
    assert 5.5 < dw["tanh, 0.05*randn"][0] / dw["tanh, Xavier"][0] < 7.0  # about 6x
    # tanh + Xavier: gentle
    assert dh["tanh, Xavier"][0] == pytest.approx(0.34, abs=0.02)
    assert dh["tanh, Xavier"][5] == pytest.approx(0.92, abs=0.03)
    assert np.all((1.1 < dw["tanh, Xavier"]) & (dw["tanh, Xavier"] < 1.4))
    # ReLU + Xavier: dL/dh loses 1/sqrt 2 per layer going down; equal weight gradients,
    # (1/sqrt 2)^5 of Kaiming's. Kaiming: dL/dh ~1 everywhere, weight gradients ~2.8
    np.testing.assert_allclose(dh["relu, Xavier"][:-1] / dh["relu, Xavier"][1:], 1 / np.sqrt(2),
                               atol=0.04)
    np.testing.assert_allclose(dw["relu, Xavier"], 0.5, atol=0.04)
    np.testing.assert_allclose(dw["relu, Kaiming"] / dw["relu, Xavier"], 2**2.5, rtol=0.09)
    np.testing.assert_allclose(dh["relu, Kaiming"], 1.0, atol=0.05)
    np.testing.assert_allclose(dw["relu, Kaiming"], 2.8, atol=0.2)


def test_small_weights_gradient_deficit_grows_as_the_width_shrinks(lecture_run):
    """Lecture 03, section 4: Xavier's weight gradients over 0.01*randn's, on the top-left
    corners of the same unit-normal matrices: about 100x at 1024, about 20x at 2048."""
    x, unit, dout, _ = lecture_run
    schemes = (initialization.LECTURE_SCHEMES[0], initialization.LECTURE_SCHEMES[2])
    for width, (lo, hi) in [(1024, (85, 125)), (2048, (17, 23))]:
        corners = [np.ascontiguousarray(u[:width, :width]) for u in unit]
        sub = initialization.init_experiment(np.ascontiguousarray(x[:, :width]), corners, schemes=schemes,
                                backward=True, dout=np.ascontiguousarray(dout[:, :width]))
        ratio = sub["tanh, Xavier"]["weight_grad_std"] / sub["tanh, 0.01*randn"]["weight_grad_std"]
        assert np.all((lo < ratio) & (ratio < hi)), (width, ratio)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assignment_experiment_figures(seed):
    """Assignment 03, section 5 (width 1024, batch 16, the draws of its experiment cell): the
    figures its model answer quotes hold for the notebook's seed 0 and two others."""
    r = np.random.default_rng(seed)
    x = r.standard_normal((16, 1024))
    unit = [r.standard_normal((1024, 1024)) for _ in range(6)]
    dout = r.standard_normal((16, 1024))

    def run(activation, std):
        return initialization.layer_statistics(x, [std * u for u in unit], activation, dout=dout)

    mid, xavier = run("tanh", 0.03), run("tanh", 1 / 32)
    small, big = run("tanh", 0.01), run("tanh", 0.05)
    assert mid["std"][5] == pytest.approx(0.26, abs=0.015)  # just below Xavier's 0.29-0.30
    assert 0.015 < xavier["std"][5] - mid["std"][5] < 0.05
    assert xavier["std"][5] == pytest.approx(0.295, abs=0.01)
    assert small["grad_std"][5] == pytest.approx(0.32, abs=0.01) and small["grad_std"][0] < 0.0015
    np.testing.assert_allclose(small["weight_grad_std"], 0.012, atol=0.0006)
    ratio = xavier["weight_grad_std"] / small["weight_grad_std"]
    assert np.all((85 < ratio) & (ratio < 125))  # about 100x
    assert np.all(np.diff(big["weight_grad_std"]) < 0)  # largest in layer 1
    assert big["weight_grad_std"][0] == pytest.approx(2.95, abs=0.15)
    assert big["weight_grad_std"][5] == pytest.approx(1.7, abs=0.05)
    assert np.all((1.05 < big["grad_std"]) & (big["grad_std"] < 1.4))
    assert np.all((1.1 < xavier["weight_grad_std"]) & (xavier["weight_grad_std"] < 1.4))
    if seed == 0:  # the numbers printed in the solution notebook and quoted in its answer
        np.testing.assert_allclose(mid["std"], [0.62, 0.47, 0.39, 0.33, 0.29, 0.26], atol=0.005)
        assert f"{big['weight_grad_std'][0] / xavier['weight_grad_std'][0]:.1f}" == "2.2"
        assert f"{big['weight_grad_std'][5] / xavier['weight_grad_std'][5]:.1f}" == "1.5"


def test_histograms_cover_every_activation(lecture_results):
    for label, stats in lecture_results.items():
        assert len(stats["hist"]) == 6
        for counts, edges in stats["hist"]:
            assert counts.sum() == 16 * 4096 and len(edges) == len(counts) + 1, label
    counts, edges = lecture_results["tanh, 0.05*randn"]["hist"][-1]
    assert edges[0] == -1 and edges[-1] == 1
    assert counts[0] + counts[-1] > 0.3 * counts.sum()  # saturated: piled up at -1 and +1


def test_backward_view_gradient_std_per_layer():
    rng = np.random.default_rng(3)
    x, unit = initialization.sample_experiment(rng, width=1024, batch=64)
    dout = rng.standard_normal((64, 1024), dtype=np.float32)
    res = initialization.init_experiment(x, unit, backward=True, dout=dout)
    g = {k: v["grad_std"] for k, v in res.items()}
    np.testing.assert_allclose(g["relu, Kaiming"], 1.0, atol=0.1)  # preserved through depth
    np.testing.assert_allclose(g["relu, Xavier"][:-1] / g["relu, Xavier"][1:], 1 / np.sqrt(2),
                               atol=0.05)  # halves the variance at every layer
    assert g["tanh, 0.01*randn"][0] < 0.01 * g["tanh, 0.01*randn"][-1]  # vanishes


# --------------------------------------------------------------- one layer, forward and backward
@pytest.mark.parametrize("activation", ["tanh", "relu", "leaky_relu", "sigmoid"])
def test_layer_backward_matches_autograd_and_numerical_gradient(activation, device):
    rng = np.random.default_rng(21)
    h_in, w, dout = rng.standard_normal((5, 7)), 0.6 * rng.standard_normal((7, 4)), rng.standard_normal((5, 4))
    dh, dw = initialization.layer_backward(dout, h_in, w, activation)
    assert dh.shape == h_in.shape and dw.shape == w.shape and dh.dtype == dw.dtype == np.float64
    # numerical: centred differences of the forward pass (inputs sit far from ReLU's kink)
    assert np.abs(h_in @ w).min() > 1e-3
    assert_backward_matches_numerical(  # dL/dh_in
        lambda h: initialization.layer_forward(h, w, activation),
        lambda h, d: initialization.layer_backward(d, h, w, activation)[0], h_in, dout,
        tolerance=1e-8)
    assert_backward_matches_numerical(  # dL/dW
        lambda v: initialization.layer_forward(h_in, v, activation),
        lambda v, d: initialization.layer_backward(d, h_in, v, activation)[1], w, dout,
        tolerance=1e-8)
    # the torch twins, forward and backward by hand (no autograd), on the device
    case = {"h_in": h_in, "w": w, "activation": activation}
    assert_twins_agree(initialization.layer_forward, initialization.layer_forward_torch, [case],
                       device, rtol=1e-12, atol=0)
    assert_twins_agree(initialization.layer_backward, initialization.layer_backward_torch,
                       [dict(case, dout=dout)], device, rtol=1e-10, atol=1e-12)
    # autograd, on the device, float64
    ht = torch.tensor(h_in, device=device, requires_grad=True)
    wt = torch.tensor(w, device=device, requires_grad=True)
    initialization.layer_forward_torch(ht, wt, activation).backward(torch.tensor(dout, device=device))
    np.testing.assert_allclose(to_numpy(ht.grad), dh, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(wt.grad), dw, rtol=1e-10, atol=1e-12)
    tdh, _ = initialization.layer_backward_torch(dout, torch.tensor(h_in, device=device), w, activation)
    assert tdh.dtype == torch.float64  # NumPy dout and w move to h_in's device


def test_layer_backward_keeps_float32_and_feeds_layer_statistics():
    rng = np.random.default_rng(22)
    x, unit = initialization.sample_experiment(rng, depth=3, width=32, batch=8, dtype=np.float32)
    weights = [0.2 * u for u in unit]
    dout = rng.standard_normal((8, 32)).astype(np.float32)
    dh, dw = initialization.layer_backward(dout, x, weights[0], "tanh")
    assert dh.dtype == dw.dtype == np.float32
    # layer_statistics' backward is layer_backward applied from the top down
    stats = initialization.layer_statistics(x.astype(np.float64), [w.astype(np.float64) for w in weights],
                               "relu", dout=dout.astype(np.float64))
    hs = [x.astype(np.float64)]
    for w in weights:
        hs.append(initialization.layer_forward(hs[-1], w.astype(np.float64), "relu"))
    grad, dh_std, dw_std = dout.astype(np.float64), [], []
    for layer in reversed(range(3)):
        grad, dw = initialization.layer_backward(grad, hs[layer], weights[layer].astype(np.float64), "relu")
        dh_std.append(grad.std())
        dw_std.append(dw.std())
    np.testing.assert_allclose(stats["grad_std"], dh_std[::-1], rtol=1e-10)
    np.testing.assert_allclose(stats["weight_grad_std"], dw_std[::-1], rtol=1e-9)
    np.testing.assert_allclose(stats["sq_mean"], [np.mean(h**2) for h in hs[1:]], rtol=1e-10)


def test_experiment_twins_agree(device):
    rng = np.random.default_rng(7)
    x, unit = initialization.sample_experiment(rng, depth=4, width=128, batch=32, dtype=np.float64)
    dout = rng.standard_normal((32, 128))
    keys = ("mean", "std", "sq_mean", "pre_mean", "pre_std", "grad_std", "weight_grad_std",
            "activations")
    results = []  # the whole results, NumPy's then torch's

    def figures(experiment):
        def run(**kwargs):
            results.append(experiment(**kwargs))
            return {label: {key: stats[key] for key in keys}
                    for label, stats in results[-1].items()}
        return run

    assert_twins_agree(figures(initialization.init_experiment),
                       figures(initialization.init_experiment_torch),
                       [{"x": x, "unit_weights": unit, "backward": True, "dout": dout}], device,
                       rtol=1e-9, atol=1e-12)
    ours, theirs = results
    for label in ours:
        for (c1, _), (c2, _) in zip(ours[label]["hist"], theirs[label]["hist"], strict=True):
            assert c1.sum() == c2.sum() == 32 * 128


def test_torch_experiment_on_device_reproduces_the_figures(device):
    gen = torch_generator(0, device)
    x, unit = initialization.sample_experiment_torch(gen)
    res = initialization.init_experiment_torch(x, unit, schemes=initialization.LECTURE_SCHEMES[1:4])
    for label, stats in res.items():
        np.testing.assert_allclose(stats["std"], initialization.LECTURE_FIGURES[label]["std"], atol=0.03)


# ------------------------------------------------------------------------- constant init
def test_constant_init_never_breaks_symmetry(device):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 5)), rng.standard_normal((32, 3))
    const = initialization.train_two_layer_sgd(x, y, initialization.constant_init((5, 8), 0.3),
                                  initialization.constant_init((8, 3), 0.3), lr=0.2, steps=30)
    # all 8 hidden units stay copies (up to float rounding: BLAS may sum columns in any order)
    assert const["spread"].max() < 1e-12
    np.testing.assert_allclose(const["w2"], np.broadcast_to(const["w2"][:1], (8, 3)), atol=1e-12)
    assert const["loss"][-1] < const["loss"][0]  # it learns, but as a 1-unit network
    rand = initialization.train_two_layer_sgd(x, y, initialization.xavier_normal(rng, (5, 8)), initialization.xavier_normal(rng, (8, 3)),
                                 lr=0.2, steps=30)
    assert rand["spread"].min() > 0.1 and rand["loss"][-1] < const["loss"][-1]
    runs = []  # the whole results, NumPy's then torch's

    def loss_and_w1(train):
        def run(**kwargs):
            runs.append(train(**kwargs))
            return {key: runs[-1][key] for key in ("loss", "w1")}
        return run

    case = {"x": x, "y": y, "w1": initialization.constant_init((5, 8), 0.3),
            "w2": initialization.constant_init((8, 3), 0.3), "lr": 0.2, "steps": 30}
    assert_twins_agree(loss_and_w1(initialization.train_two_layer_sgd),
                       loss_and_w1(initialization.train_two_layer_sgd_torch), [case], device,
                       rtol=1e-10, atol=0)
    assert runs[1]["spread"].max() < 1e-12


# ----------------------------------------------------------------------------------- LSUV
def _entry(fn, key):
    """``fn`` returning only ``fn(...)[key]``."""
    return lambda **kwargs: fn(**kwargs)[key]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_lsuv_restores_unit_variance_layer_by_layer(activation, device):
    rng = np.random.default_rng(1)
    x, unit = initialization.sample_experiment(rng, depth=6, width=512, batch=256, dtype=np.float64)
    start = [0.01 * u for u in unit]
    before = initialization.layer_statistics(x, start, activation)["pre_std"]
    assert before[-1] < 0.05
    out = initialization.lsuv_init(x, start, activation)
    np.testing.assert_allclose(out["std_after"], 1.0, atol=0.01)
    np.testing.assert_array_equal(out["iterations"], 1)  # one batch: one rescale per layer
    fresh = rng.standard_normal((256, 512))  # held-out batch
    np.testing.assert_allclose(initialization.layer_statistics(fresh, out["weights"], activation)["pre_std"],
                               1.0, atol=0.08)
    case = {"x": x, "weights": start, "activation": activation}
    for key, atol in (("std_before", 0), ("weights", 1e-14)):
        assert_twins_agree(_entry(initialization.lsuv_init, key),
                           _entry(initialization.lsuv_init_torch, key), [case], device,
                           rtol=1e-9, atol=atol)


# ------------------------------------------------------------------------- conv geometry
def test_conv_output_size_matches_torch_layers():
    rng = np.random.default_rng(0)
    checked = 0
    while checked < 40:
        size, k, s, p, d = (int(rng.integers(5, 40)), int(rng.integers(1, 8)),
                            int(rng.integers(1, 5)), int(rng.integers(0, 4)),
                            int(rng.integers(1, 4)))
        if size + 2 * p < d * (k - 1) + 1 or p > (k // 2):  # torch requires pad <= k/2 to pool
            continue
        x = torch.zeros(1, 1, size, size)
        conv = torch.nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
        pool = torch.nn.MaxPool2d(k, stride=s, padding=p, dilation=d)
        expected = initialization.conv_output_size(size, k, s, p, d)
        assert conv(x).shape[-1] == expected and pool(x).shape[-1] == expected
        checked += 1
    assert initialization.conv_output_size(227, 11, 4) == 55  # AlexNet conv1: (227 - 11)/4 + 1
    assert initialization.conv_output_size(224, 11, 4, 2) == 55  # torchvision: floor(55.25)


def test_receptive_field_formula_and_by_backprop():
    assert initialization.receptive_field([(3, 1), (3, 1)]) == 5
    assert initialization.receptive_field([(3, 1)] * 3) == 7
    assert initialization.receptive_field([(2, 2)] * 3) == 8
    assert initialization.receptive_field([]) == 1
    assert initialization.receptive_fields([(3, 1, 2), (3, 1)]) == [5, 7]  # dilated 3x3 spans 5
    # ground truth: which input pixels one output pixel depends on (all-ones weights, no ReLU)
    layers = [(5, 2), (3, 1), (3, 2), (3, 1)]
    x = torch.zeros(1, 1, 64, 64, requires_grad=True)
    h = x
    for k, s in layers:
        conv = torch.nn.Conv2d(1, 1, k, stride=s, bias=False)
        torch.nn.init.ones_(conv.weight)
        h = conv(h)
    h[0, 0, h.shape[-2] // 2, h.shape[-1] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    assert int(rows.max() - rows.min() + 1) == initialization.receptive_field(layers)


# Caffe's bvlc_alexnet: conv -> ReLU -> norm -> pool in blocks 1 and 2 (LRN reads conv1)
CAFFE_SHAPES = {"conv1": (96, 55, 55), "norm1": (96, 55, 55), "pool1": (96, 27, 27),
                "conv2": (256, 27, 27), "norm2": (256, 27, 27), "pool2": (256, 13, 13),
                "conv3": (384, 13, 13), "conv4": (384, 13, 13), "conv5": (256, 13, 13),
                "pool5": (256, 6, 6), "fc6": (4096,), "fc7": (4096,), "fc8": (1000,)}
RECEPTIVE = {"conv1": 11, "pool1": 19, "conv2": 51, "pool2": 67, "conv3": 99, "conv4": 131,
             "conv5": 163, "pool5": 195}


@pytest.mark.parametrize(("spec", "size", "params"), [
    (initialization.ALEXNET_CAFFE, 227, 62_378_344), (initialization.ALEXNET_TORCHVISION, 224, 61_100_840)],
    ids=["caffe", "torchvision"])
def test_alexnet_tables_match_torch_layers(spec, size, params):
    table = initialization.alexnet_shape_table(spec, size)
    model = initialization.alexnet_torch(spec, size)
    shapes = initialization.torch_output_shapes(model, size)
    for row in table:
        assert shapes[row["name"]] == row["shape"], row["name"]
        if row["name"] in RECEPTIVE:
            assert row["receptive_field"] == RECEPTIVE[row["name"]], row["name"]
        if row["type"] == "fc":
            assert row["receptive_field"] == size  # a fully connected unit sees everything
    assert sum(r["params"] for r in table) == params == sum(p.numel() for p in model.parameters())
    if spec is initialization.ALEXNET_CAFFE:
        assert {r["name"]: r["shape"] for r in table} == CAFFE_SHAPES
        assert [r["name"] for r in table][:6] == ["conv1", "norm1", "pool1", "conv2", "norm2",
                                                  "pool2"]
        names = [name for name, _ in model.named_children()]
        assert names[:4] == ["conv1", "relu1", "norm1", "pool1"]
    else:
        names = [name for name, _ in model.named_children()]
        assert names.index("drop6") < names.index("fc6") and names.index("drop7") < names.index("fc7")
        assert model.drop6.p == 0.5 and isinstance(model.avgpool, torch.nn.AdaptiveAvgPool2d)
        assert [r["shape"][0] for r in table if r["type"] == "conv"] == [64, 192, 384, 256, 256]


def test_alexnet_grouped_parameter_count_is_the_papers_60_million():
    """Lecture 03: conv2, conv4, conv5 in two groups give 60,965,224 parameters; the fully
    connected layers hold 58,631,144 of them (94.0 % of the one-group 62,378,344)."""
    table = initialization.alexnet_shape_table(initialization.ALEXNET_CAFFE, 227, grouped=True)
    model = initialization.alexnet_torch(initialization.ALEXNET_CAFFE, 227, grouped=True)
    grouped = sum(r["params"] for r in table)
    assert grouped == 60_965_224 == sum(p.numel() for p in model.parameters())
    assert model.conv2.groups == model.conv4.groups == model.conv5.groups == 2
    assert model.conv3.groups == model.conv1.groups == 1
    shapes = initialization.torch_output_shapes(model, 227)
    assert all(shapes[r["name"]] == r["shape"] for r in table)  # groups change no shape
    fc = sum(r["params"] for r in table if r["type"] == "fc")
    assert fc == 58_631_144
    assert f"{fc / 62_378_344:.1%}" == "94.0%" and f"{fc / grouped:.1%}" == "96.2%"
    with pytest.raises(ValueError, match="groups must divide"):
        initialization.alexnet_shape_table([{"type": "conv", "out_channels": 4, "kernel_size": 3,
                                "groups": 2}], 8, in_channels=3, grouped=True)


# -------------------------------------------------------------------------------- widget
def test_explorer_update_is_plain_and_informative():
    from tnn.widgets.initialization import CPU_SIZE, explorer_update

    view = explorer_update()
    assert len(view["hist"]) == 6 and view["width"] == CPU_SIZE["width"]
    counts, _ = view["hist"][0]
    assert counts.sum() == CPU_SIZE["width"] * CPU_SIZE["batch"]
    assert 0.7 < view["std"][-1] < 1.0  # ReLU + Kaiming: stable
    assert explorer_update("tanh", "fixed", 0.01)["std"][-1] < 1e-3  # collapses
    assert explorer_update("relu", "xavier", depth=10)["std"][-1] < 0.1
    assert "relu, Kaiming" in view["summary"]
    with pytest.raises(ValueError, match="init must be one of"):
        explorer_update("relu", "he")


@pytest.mark.timed
def test_explorer_update_within_100_ms():
    """Median of 15 updates at the widget's default CPU size, measured alone (marker ``timed``)."""
    from tnn.widgets.initialization import explorer_update

    seconds = median_seconds(explorer_update, repeats=15, warmup=1)
    assert seconds < 0.1, f"explorer_update took {1e3 * seconds:.0f} ms (budget 100 ms)"


def test_explorer_update_on_device(device):
    from tnn.widgets.initialization import default_size, explorer_update

    view = explorer_update("tanh", "xavier", device=device)
    assert view["width"] == default_size(device)["width"]
    assert view["std"][0] == pytest.approx(0.63, abs=0.05)


def test_figures_draw_headless():
    import matplotlib.pyplot as plt

    from tnn.plots import initialization as plots

    rng = np.random.default_rng(0)
    x, unit = initialization.sample_experiment(rng, depth=3, width=32, batch=8)
    res = initialization.init_experiment(x, unit, backward=True)
    runs = {"c": initialization.train_two_layer_sgd(np.ones((4, 2)), np.ones((4, 1)), initialization.constant_init((2, 3)),
                                       initialization.constant_init((3, 1)), steps=2)}
    figs = [plots.plot_experiment(res), plots.plot_layer_profiles(res), plots.plot_symmetry(runs),
            plots.plot_lsuv({"a": res["tanh, Xavier"]}, {"a": res["relu, Kaiming"]})]
    assert len(figs[0].axes) == 5 * 3
    for fig in figs:
        plt.close(fig)


def test_explorer_widget_builds_headless():
    pytest.importorskip("ipywidgets")
    from tnn.widgets.initialization import init_explorer

    box = init_explorer(max_depth=4)
    box.children[0].children[1].value = "xavier"  # triggers a redraw
    assert "Xavier" in box.children[2].value
