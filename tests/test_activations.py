"""Topic 01: activations. NumPy references vs their torch twins, vs torch.nn.functional, vs
autograd and finite differences; stability at +-1000; input validation; the lecture's figures.
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_backward_matches_numerical, assert_twins_agree, to_numpy

from tnn import activations

X = np.concatenate([np.linspace(-6, 6, 41), [-1000.0, -50.0, -1e-4, 0.0, 1e-4, 50.0, 1000.0]])

# name -> (numpy f, numpy f', torch f, torch f', torch.nn.functional equivalent)
CASES = {
    "sigmoid": (activations.sigmoid, activations.sigmoid_grad, activations.sigmoid_torch, activations.sigmoid_grad_torch, torch.sigmoid),
    "tanh": (activations.tanh, activations.tanh_grad, activations.tanh_torch, activations.tanh_grad_torch, torch.tanh),
    "relu": (activations.relu, activations.relu_grad, activations.relu_torch, activations.relu_grad_torch, F.relu),
    "leaky_relu": (activations.leaky_relu, activations.leaky_relu_grad, activations.leaky_relu_torch,
                   activations.leaky_relu_grad_torch, F.leaky_relu),
    "leaky_relu_0.2": (
        lambda x: activations.leaky_relu(x, 0.2), lambda x: activations.leaky_relu_grad(x, 0.2),
        lambda x: activations.leaky_relu_torch(x, 0.2), lambda x: activations.leaky_relu_grad_torch(x, 0.2),
        lambda x: F.leaky_relu(x, 0.2)),
    "elu": (activations.elu, activations.elu_grad, activations.elu_torch, activations.elu_grad_torch, F.elu),
    "elu_0.5": (lambda x: activations.elu(x, 0.5), lambda x: activations.elu_grad(x, 0.5),
                lambda x: activations.elu_torch(x, 0.5), lambda x: activations.elu_grad_torch(x, 0.5),
                lambda x: F.elu(x, 0.5)),
    "selu": (activations.selu, activations.selu_grad, activations.selu_torch, activations.selu_grad_torch, F.selu),
    "gelu": (activations.gelu, activations.gelu_grad, activations.gelu_torch, activations.gelu_grad_torch, F.gelu),
    "gelu_tanh": (lambda x: activations.gelu(x, "tanh"), lambda x: activations.gelu_grad(x, "tanh"),
                  lambda x: activations.gelu_torch(x, "tanh"), lambda x: activations.gelu_grad_torch(x, "tanh"),
                  lambda x: F.gelu(x, approximate="tanh")),
}


@pytest.mark.parametrize("name", CASES)
def test_twins_agree_float64(name, device):
    f, df, ft, dft, _ = CASES[name]
    assert_twins_agree(f, ft, [{"x": X}], device, atol=1e-15)
    assert_twins_agree(df, dft, [{"x": X}], device, atol=1e-15)
    assert ft(torch.tensor(X, dtype=torch.float64, device=device)).dtype == torch.float64


@pytest.mark.parametrize("name", CASES)
def test_reference_matches_torch_functional(name):
    f, _, _, _, functional = CASES[name]
    expected = to_numpy(functional(torch.tensor(X, dtype=torch.float64)))
    np.testing.assert_allclose(f(X), expected, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("name", CASES)
def test_derivative_matches_autograd(name):
    _, df, _, _, functional = CASES[name]
    xt = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    functional(xt).sum().backward()
    np.testing.assert_allclose(df(X), to_numpy(xt.grad), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", CASES)
def test_derivative_matches_centred_differences(name, rng):
    f, df, _, _, _ = CASES[name]
    x = np.linspace(-5, 5, 101)
    x = x[np.abs(x) > 1e-3]  # away from the kinks at 0
    # centred differences have error O(h^2) ~ 1e-10 plus rounding ~ 1e-16/h = 1e-11
    assert_backward_matches_numerical(f, lambda x, dout: df(x) * dout, x,
                                      rng.standard_normal(x.shape), tolerance=1e-7)


@pytest.mark.parametrize("name", CASES)
def test_float32_in_float32_out(name):
    f, df, _, _, _ = CASES[name]
    x32 = X.astype(np.float32)
    assert f(x32).dtype == np.float32 and df(x32).dtype == np.float32
    np.testing.assert_allclose(f(x32), f(X), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_shapes_scalar_vector_matrix(name):
    f, df, _, _, _ = CASES[name]
    assert np.shape(f(0.5)) == () and np.shape(df(0.5)) == ()
    assert f(np.ones(4)).shape == (4,)
    assert df(np.ones((3, 4))).shape == (3, 4)
    assert f(3) == pytest.approx(f(3.0))  # ints are computed in float64


def test_sigmoid_stable_at_extremes_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = activations.sigmoid(np.array([-1000.0, 1000.0]))
            y32 = activations.sigmoid(np.array([-1000.0, 1000.0], dtype=np.float32))
            d = activations.sigmoid_grad(np.array([-1000.0, 1000.0]))
            e = activations.elu(np.array([-1000.0, 1000.0]))
    np.testing.assert_array_equal(y, [0.0, 1.0])
    np.testing.assert_array_equal(y32, [0.0, 1.0])
    np.testing.assert_array_equal(d, [0.0, 0.0])
    np.testing.assert_array_equal(e, [-1.0, 1000.0])
    # the tail keeps relative precision where 1 - s(x) would round to 0
    assert activations.sigmoid_grad(-40.0) == pytest.approx(np.exp(-40.0), rel=1e-12)


def test_saturation_table_from_the_lecture():
    """Sigmoid's gradient at -10, 0, 10 is about 4.5e-5, 0.25, 4.5e-5."""
    g = activations.sigmoid_grad(np.array([-10.0, 0.0, 10.0]))
    np.testing.assert_allclose(g, [4.5e-5, 0.25, 4.5e-5], rtol=0.01)
    assert g[0] == pytest.approx(4.5398e-5, rel=1e-4)


def test_selu_constants_exact():
    assert activations.SELU_ALPHA == 1.6732632423543772848170429916717
    assert activations.SELU_SCALE == 1.0507009873554804934193349852946
    # self-normalizing fixed point: N(0,1) in -> mean 0, variance 1 out (to sampling error)
    z = np.random.default_rng(0).standard_normal(2_000_000)
    y = activations.selu(z)
    assert abs(y.mean()) < 3e-3 and abs(y.var() - 1) < 3e-3


def test_gelu_tanh_approximation_is_close_to_exact():
    x = np.linspace(-6, 6, 1001)
    assert np.max(np.abs(activations.gelu(x) - activations.gelu(x, "tanh"))) < 1e-3
    # ~0 gradient for large negative x
    assert abs(activations.gelu_grad(-8.0)) < 1e-12


# --------------------------------------------------------------------------------- PReLU
@pytest.mark.parametrize("slope_shape", [(), (1,), (5,)])
def test_prelu_forward_backward_vs_torch(slope_shape, device, rng):
    x = rng.normal(size=(6, 5, 3))
    slope = rng.uniform(0.05, 0.5, size=slope_shape)
    dout = rng.normal(size=x.shape)
    y = activations.prelu(x, slope)
    dx, dslope = activations.prelu_backward(dout, x, slope)
    assert np.shape(dslope) == slope_shape
    xt = torch.tensor(x, requires_grad=True)
    weight = torch.tensor(np.reshape(slope, (-1,)), requires_grad=True)
    yt = F.prelu(xt, weight)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(y, to_numpy(yt), rtol=1e-12)
    np.testing.assert_allclose(dx, to_numpy(xt.grad), rtol=1e-12)
    np.testing.assert_allclose(np.reshape(dslope, (-1,)), to_numpy(weight.grad), rtol=1e-10)
    # the torch twin on the device
    dev = lambda a: torch.tensor(a, device=device)  # noqa: E731
    yt2 = activations.prelu_torch(dev(x), dev(slope))
    dx2, ds2 = activations.prelu_backward_torch(dev(dout), dev(x), dev(slope))
    assert yt2.device.type == device.type
    np.testing.assert_allclose(to_numpy(yt2), y, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(dx2), dx, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(ds2), dslope, rtol=1e-10)


def test_prelu_slope_gradient_by_finite_differences(rng):
    x, slope, dout = rng.normal(size=(7, 4)), np.array([0.1, 0.2, 0.3, 0.4]), rng.normal(size=(7, 4))
    _, dslope = activations.prelu_backward(dout, x, slope)
    h = 1e-6
    for c in range(4):
        e = np.zeros(4)
        e[c] = h
        numeric = ((activations.prelu(x, slope + e) - activations.prelu(x, slope - e)) * dout).sum() / (2 * h)
        assert dslope[c] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


# --------------------------------------------------------------------------------- Maxout
def _maxout_params(rng, n=8, d=5, h=3):
    return (rng.normal(size=(n, d)), rng.normal(size=(d, h)), rng.normal(size=h),
            rng.normal(size=(d, h)), rng.normal(size=h))


def test_maxout_forward_backward_vs_autograd(device, rng):
    params = _maxout_params(rng)
    dout = rng.normal(size=(8, 3))
    y = activations.maxout(*params)
    grads = activations.maxout_backward(dout, *params)
    tensors = [torch.tensor(p, requires_grad=True) for p in params]
    x, w1, b1, w2, b2 = tensors
    yt = torch.maximum(x @ w1 + b1, x @ w2 + b2)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(y, to_numpy(yt), rtol=1e-12)
    for ours, t in zip(grads, tensors, strict=True):
        np.testing.assert_allclose(ours, to_numpy(t.grad), rtol=1e-10, atol=1e-12)
    on_dev = [torch.tensor(p, device=device) for p in params]
    np.testing.assert_allclose(to_numpy(activations.maxout_torch(*on_dev)), y, rtol=1e-12)
    for ours, theirs in zip(grads, activations.maxout_backward_torch(torch.tensor(dout, device=device),
                                                           *on_dev), strict=True):
        assert theirs.device.type == device.type
        np.testing.assert_allclose(to_numpy(theirs), ours, rtol=1e-10, atol=1e-12)


def test_maxout_doubles_parameters_and_generalizes_relu(rng):
    x = rng.normal(size=(10, 4))
    w = rng.normal(size=(4, 6))
    b = rng.normal(size=6)
    # max(w.x + b, 0.x + 0) is ReLU(w.x + b)
    np.testing.assert_allclose(activations.maxout(x, w, b, np.zeros_like(w), np.zeros_like(b)),
                               activations.relu(x @ w + b))


@pytest.mark.parametrize(
    ("shapes", "argument"),
    [
        (((8, 5), (4, 3), (3,), (4, 3), (3,)), "w1"),
        (((8, 5), (5, 3), (3,), (5, 2), (3,)), "w2"),
        (((8, 5), (5, 3), (2,), (5, 3), (3,)), "b1"),
        (((8, 5), (5, 3), (3,), (5, 3), (3, 1)), "b2"),
        (((8,), (5, 3), (3,), (5, 3), (3,)), "x"),
    ],
)
def test_maxout_mismatched_shapes_name_the_argument(shapes, argument):
    params = [np.ones(s) for s in shapes]
    with pytest.raises(ValueError, match=rf"^{argument} must have"):
        activations.maxout(*params)
    with pytest.raises(ValueError, match=rf"^{argument} must have"):
        activations.maxout_torch(*[torch.tensor(p) for p in params])


# --------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("bad", "pattern"),
    [
        ("abc", r"x must be a real number .* got str 'abc'"),
        (None, r"x must be a real number .* got None"),
        (np.array([1.0, None]), r"x must hold real numbers .* dtype object"),
        (np.array(["a", "b"]), r"x must hold real numbers .*string values"),
        (np.array([1 + 2j]), r"x must hold real numbers .* complex"),
        (torch.ones(2), r"x must be a NumPy array here; .* \*_torch twin"),
    ],
)
@pytest.mark.parametrize("fn", [activations.sigmoid, activations.relu_grad, activations.gelu, activations.selu])
def test_bad_input_message_names_argument(fn, bad, pattern):
    with pytest.raises(TypeError, match=pattern):
        fn(bad)


@pytest.mark.parametrize("bad", ["abc", None, np.array([1.0, None])])
def test_torch_twins_refuse_bad_input(bad):
    with pytest.raises(TypeError, match=r"^x must"):
        activations.sigmoid_torch(bad)


def test_bad_parameters():
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        activations.elu(np.ones(2), alpha=-1.0)
    with pytest.raises(ValueError, match="approximate must be one of 'none', 'tanh'"):
        activations.gelu(np.ones(2), approximate="fast")
    with pytest.raises(TypeError, match="negative_slope must be a finite real number"):
        activations.leaky_relu(np.ones(2), negative_slope="0.1")
    with pytest.raises(ValueError, match=r"slope must be a scalar, shape \(1,\), or shape \(C,\)"):
        activations.prelu(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"z must have shape \(N, H\)"):
        activations.dead_unit_fraction(np.ones(3))


# --------------------------------------------------------------------------------- measures
def test_saturated_and_dead_fractions():
    assert activations.saturated_fraction(np.array([-10.0, 0.0, 10.0, 0.1]), "sigmoid") == 0.5
    assert activations.saturated_fraction(np.array([-3.0, 3.0, 0.0, 1.0]), "tanh") == 0.5
    assert activations.saturated_fraction(np.array([-1.0, 2.0]), "relu") == 0.5
    z = np.array([[-1.0, 2.0, 0.0], [-2.0, -1.0, 0.0]])
    assert activations.dead_unit_fraction(z) == pytest.approx(2 / 3)


def test_probe_twins_agree_and_show_vanishing_gradients(device, rng):
    x = rng.standard_normal((64, 128)).astype(np.float64)
    weights = [w.astype(np.float64) for w in activations.sample_mlp_weights(rng, 8, 128)]
    for act in ("sigmoid", "tanh", "relu"):
        ours = activations.probe_deep_network(x, weights, act)
        theirs = activations.probe_deep_network_torch(torch.tensor(x, device=device), weights, act)
        for key in ("act_mean", "act_std", "grad_std", "weight_grad_norm", "saturated", "dead"):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-9, atol=1e-12)
    # sigmoid: each layer multiplies the gradient by at most 0.25, so the input gradient is
    # orders of magnitude below the last layer's; ReLU with Kaiming gain keeps it level.
    sig = activations.probe_deep_network(x, weights, "sigmoid")
    assert sig["grad_std"][0] < 1e-3 * sig["grad_std"][-1]
    kaiming = [w * np.sqrt(2) for w in weights]
    rel = activations.probe_deep_network(x, kaiming, "relu")
    assert 0.2 < rel["grad_std"][0] / rel["grad_std"][-1] < 5


# --------------------------------------------------------------------------------- gradcheck
def test_prelu_backward_passes_the_shared_gradient_checker(rng):
    """The course's numerical checker (tnn.gradcheck) accepts the reference PReLU backward,
    per channel on (N, C, H, W) and with one shared slope, and rejects a wrong dslope."""
    from tnn.gradcheck import check_gradient, numerical_gradient_array

    x = rng.normal(size=(4, 3, 2, 2))
    x[np.abs(x) < 1e-3] = 0.5  # keep inputs away from the kink at 0
    dout = rng.normal(size=x.shape)
    for slope in (np.array([0.1, 0.25, 0.4]), np.array([0.2])):
        dx, dslope = activations.prelu_backward(dout, x, slope)
        assert check_gradient(dx, numerical_gradient_array(lambda t, a=slope: activations.prelu(t, a), x, dout),
                              "dx") < 1e-8
        assert check_gradient(dslope, numerical_gradient_array(lambda a: activations.prelu(x, a), slope,
                                                               dout), "dslope") < 1e-8
    # the classic slip: summing dslope over the batch axis only, not over every shared position
    wrong = np.where(x > 0, 0.0, x * dout).sum(axis=0).mean(axis=(1, 2))
    numeric = numerical_gradient_array(lambda a: activations.prelu(x, a), np.array([0.1, 0.25, 0.4]), dout)
    with pytest.raises(AssertionError, match="disagrees with the numerical gradient"):
        check_gradient(wrong, numeric, "dslope")


def test_maxout_backward_passes_the_shared_gradient_checker(rng):
    from tnn.gradcheck import check_gradient, numerical_gradient_array

    params = list(_maxout_params(rng))
    dout = rng.normal(size=(8, 3))
    grads = activations.maxout_backward(dout, *params)
    for i, name in enumerate(("dx", "dw1", "db1", "dw2", "db2")):
        def f(value, i=i):
            args = list(params)
            args[i] = value
            return activations.maxout(*args)

        assert check_gradient(grads[i], numerical_gradient_array(f, params[i], dout), name) < 1e-7


# --------------------------------------------------------------------------------- lecture claims
def test_elu_is_smooth_only_for_alpha_one_and_selu_jumps():
    """Lecture 01 section 1: f'(0-) and f'(0+) for ELU (alpha 1, 0.5) and SELU."""
    eps = 1e-12
    assert activations.elu_grad(-eps) == pytest.approx(1.0) and activations.elu_grad(eps) == 1.0
    assert activations.elu_grad(-eps, 0.5) == pytest.approx(0.5)
    assert activations.selu_grad(-eps) == pytest.approx(1.758, abs=5e-4)  # lambda * alpha
    assert activations.selu_grad(eps) == pytest.approx(1.051, abs=5e-4)  # lambda


def test_sigmoid_saturation_threshold_is_0_0257():
    """saturated_fraction's docstring: s(1 - s) < 0.025 <=> s < 0.0257 or s > 0.9743."""
    logit = lambda s: np.log(s / (1 - s))  # noqa: E731
    z = logit(np.array([0.0256, 0.0258, 0.9742, 0.9744]))
    assert activations.saturated_fraction(z[[0, 3]], "sigmoid") == 1.0
    assert activations.saturated_fraction(z[[1, 2]], "sigmoid") == 0.0
    assert activations.saturated_fraction(np.array([-3.65, 3.65]), "sigmoid") == 1.0
    assert activations.saturated_fraction(np.array([-3.63, 3.63]), "sigmoid") == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_vanishing_gradient_claims(seed):
    """Lecture 01 section 3 (10 layers, width 256, batch 256): sigmoid loses a factor ~4 per
    layer with no unit saturated; tanh keeps most; ReLU with gain 1 ends below tanh; ReLU
    with gain sqrt(2) keeps the gradient of the same order."""
    r = np.random.default_rng(seed)
    weights = activations.sample_mlp_weights(r, 10, 256)
    x = r.standard_normal((256, 256), dtype=np.float32)

    def ratio(act, gain=1.0):
        p = activations.probe_deep_network(x, [w * np.float32(gain) for w in weights], act)
        return p["grad_std"][0] / p["grad_std"][-1], p

    sig, p_sig = ratio("sigmoid")
    assert sig < 1e-5  # measured 1.7e-6 .. 2.3e-6 over seeds 0-4
    assert 3.5 < sig ** (-1 / 9) < 5.5  # about 4 per layer (measured 4.2 .. 4.4)
    assert p_sig["saturated"].max() < 0.01  # its saturated column reads about 0 %
    tanh, _ = ratio("tanh")
    assert 0.1 < tanh < 0.6  # measured 0.23 .. 0.31
    relu1, p_relu = ratio("relu")
    assert 0.03 < relu1 < 0.3 and relu1 < 0.7 * tanh  # measured 0.098 .. 0.114
    assert np.all(np.abs(p_relu["saturated"] - 0.5) < 0.06)  # its flat half
    kaiming, _ = ratio("relu", np.sqrt(2))
    assert 0.5 < kaiming < 5  # measured 2.2 .. 2.6


@pytest.mark.parametrize("seed", range(8))
def test_zero_centred_inputs_allow_a_larger_learning_rate(seed):
    """Lecture 01 section 5, over 8 data draws."""
    r = np.random.default_rng(seed)
    positive = r.uniform(0, 1, size=(400, 2))
    centred = positive - 0.5
    w_target, w0 = np.array([1.0, -1.0]), np.array([-1.0, 1.0])
    # batch size 1: every update of the all-positive run moves both weights the same way
    path = activations.linear_unit_sgd_path(positive, w_target, w0, lr=0.5)
    assert activations.same_sign_fraction(path) == 1.0
    assert activations.same_sign_fraction(activations.linear_unit_sgd_path(centred, w_target, w0, lr=0.5)) < 0.7
    # same learning rate: about the same number of steps (measured within 16%)
    for lr in (0.25, 0.5):
        a = activations.settle_step(activations.linear_unit_sgd_path(positive, w_target, w0, lr), w_target)
        b = activations.settle_step(activations.linear_unit_sgd_path(centred, w_target, w0, lr), w_target)
        assert abs(a - b) <= 0.25 * max(a, b), (lr, a, b)
    # curvature: E[xx^T] has eigenvalues 7/12, 1/12 vs 1/12, 1/12; E|x|^2 = 2/3 vs 1/6
    np.testing.assert_allclose(np.linalg.eigvalsh([[1 / 3, 1 / 4], [1 / 4, 1 / 3]]), [1 / 12, 7 / 12])
    np.testing.assert_allclose(np.linalg.eigvalsh(positive.T @ positive / 400), [1 / 12, 7 / 12],
                               atol=0.05)
    np.testing.assert_allclose(np.linalg.eigvalsh(centred.T @ centred / 400), [1 / 12, 1 / 12],
                               atol=0.02)
    assert np.mean(np.sum(positive ** 2, 1)) == pytest.approx(2 / 3, abs=0.05)
    assert np.mean(np.sum(centred ** 2, 1)) == pytest.approx(1 / 6, abs=0.02)
    # the sweep: largest lr that settles is 2 vs 8 on this grid; the centred best is faster
    lrs = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    sweeps = [activations.sgd_lr_sweep(X, w_target, w0, lrs) for X in (positive, centred)]
    largest = [max(lr for lr, s in sw.items() if s is not None) for sw in sweeps]
    assert largest == [2.0, 8.0]
    best = [min(s for s in sw.values() if s is not None) for sw in sweeps]
    assert best[1] < best[0]  # measured 3..17 vs 19..34 steps
    # mini-batches soften the shared sign
    fractions = [activations.same_sign_fraction(activations.linear_unit_sgd_path(positive, w_target, w0, 0.5, b))
                 for b in (1, 4, 16, 64)]
    assert fractions[0] == 1.0 and fractions[1] < 0.8 and fractions[3] <= fractions[2] < 0.5
    assert fractions == sorted(fractions, reverse=True)


def test_sgd_path_helpers():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
    w_target, w0 = np.array([1.0, -1.0]), np.zeros(2)
    path = activations.linear_unit_sgd_path(X, w_target, w0, lr=0.5, batch_size=2)
    assert path.shape == (3, 2)
    # first batch: residuals (0 - 1, 0 + 1) -> gradient mean((-1)(1, 0), (1)(0, 1)) = (-0.5, 0.5)
    np.testing.assert_allclose(path[1], [0.25, -0.25])
    assert activations.settle_step(np.array([[5.0, 5.0], [1.0, -1.0], [3.0, 3.0], [1.0, -1.05]]),
                         w_target) == 3
    assert activations.settle_step(np.array([[1.0, -1.0], [3.0, 3.0]]), w_target) is None
    assert activations.settle_step(np.array([[1.0, -1.0], [np.nan, np.nan]]), w_target) is None
    assert activations.same_sign_fraction(np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 2.0], [0.0, 2.0]])) == 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a diverging run is silent
        sweep = activations.sgd_lr_sweep(np.random.default_rng(0).uniform(0, 1, (50, 2)), w_target, w0,
                               [0.5, 100.0])
    assert sweep[100.0] is None
    with pytest.raises(ValueError, match="batch_size must be an int from 1 to T = 4"):
        activations.linear_unit_sgd_path(X, w_target, w0, batch_size=5)
    with pytest.raises(ValueError, match=r"path must have shape \(S \+ 1, D\)"):
        activations.same_sign_fraction(np.ones(3))


@pytest.fixture(scope="module")
def digits():
    from tnn.data import digits_splits

    splits = digits_splits(np.random.default_rng(0))
    mu, sd = splits["train"].X.mean(0), splits["train"].X.std(0) + 1e-8
    return ((splits["train"].X - mu) / sd, splits["train"].y, (splits["val"].X - mu) / sd,
            splits["val"].y)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "threads"), [(0, 1), (1, 1), (2, 1), (0, 2), (3, 2)])
def test_dead_relu_experiment(digits, seed, threads):
    """Lecture 01 section 4: a bias shift kills most of the first layer; ReLU leaves those
    units dead for good (exactly zero gradient), Leaky ReLU keeps them learning. Checked over
    seeds and under one and two CPU threads (the margins below are each at least 2x)."""
    from tnn.nets import dead_relu_experiment, make_mlp

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        r = dead_relu_experiment(make_mlp([64, 128, 128, 128, 10], "relu"), *digits,
                                 bias_shift=4.0, warm_epochs=10, epochs=20, lr=0.1, seed=seed)
    finally:
        torch.set_num_threads(old)
    assert max(r["dead_init"]) < 0.05  # measured <= 2.3 %
    assert r["dead_trained"][0] < 0.02 and r["val_acc_trained"] > 0.9  # measured 0 %, >= 0.93
    assert 4 < 4.0 / r["z_std"] < 6  # "about five times the std" (measured z_std 0.79-0.80)
    assert r["dead_shifted"][0] > 0.5  # measured 67-80 %
    assert r["val_acc_shifted"] < 0.2  # about chance (measured 0.117-0.12)
    relu, leaky = r["relu"], r["leaky_relu"]
    assert relu["moved"] == 0.0 and relu["still_dead"] == 1.0  # exact: zero gradient
    assert relu["dead"][0] >= r["dead_shifted"][0]
    assert relu["val_acc"] < r["val_acc_trained"] - 0.2  # recovers only partly (measured <= 0.49)
    assert leaky["moved"] > 1e-2  # measured 0.08-0.55
    assert leaky["still_dead"] < 1.0  # some fire again (measured 87-91 % still never active)
    assert leaky["val_acc"] > relu["val_acc"] + 0.15  # measured gap 0.29-0.49


def test_swap_activation_copies_the_weights():
    from tnn.nets import make_mlp, swap_activation

    model = make_mlp([4, 3, 2], "relu")
    leaky = swap_activation(model, "leaky_relu")
    assert isinstance(leaky[1], torch.nn.LeakyReLU)
    assert torch.equal(leaky[0].weight, model[0].weight)
    with torch.no_grad():
        leaky[0].weight += 1
    assert not torch.equal(leaky[0].weight, model[0].weight)  # a copy, not a view
    with pytest.raises(ValueError, match="activation must be one of"):
        swap_activation(model, "swish")


def test_explorer_update_is_plain_and_informative():
    from tnn.widgets.activations import explorer_update

    view = explorer_update()
    assert len(view["act_hist"]) == 6 and len(view["grad_hist"]) == 6
    counts, edges = view["act_hist"][0]
    assert counts.sum() == 128 * 256 and len(edges) == len(counts) + 1
    sig = explorer_update("sigmoid", 1.0, 10)
    assert sig["grad_std"][0] < 1e-4 * sig["grad_std"][-1]  # vanishing through 10 sigmoids
    assert explorer_update("tanh", 10.0, 3)["saturated"][0] > 0.5  # large inputs saturate
    assert explorer_update("relu", 1.0, 3)["dead"].shape == (3,)
    relu1, relu2 = explorer_update("relu", 1.0, 10), explorer_update("relu", 1.0, 10, gain=2 ** 0.5)
    assert relu1["act_std"][-1] < 0.5 * relu2["act_std"][-1]  # gain sqrt(2) keeps the signal
    assert "gain 1.41" in relu2["summary"]
    with pytest.raises(ValueError, match="activation must be one of"):
        explorer_update("swish")
    with pytest.raises(ValueError, match="input_scale must be finite and > 0"):
        explorer_update("tanh", -1.0)


@pytest.mark.timed
def test_explorer_update_within_100_ms():
    """Median of 15 updates at the widget's default size, measured alone (marker ``timed``)."""
    from tnn.device import median_seconds
    from tnn.widgets.activations import explorer_update

    seconds = median_seconds(explorer_update, repeats=15, warmup=1)
    assert seconds < 0.1, f"explorer_update took {1e3 * seconds:.0f} ms (budget 100 ms)"


def test_explorer_widget_builds_headless():
    pytest.importorskip("ipywidgets")
    from tnn.widgets.activations import activation_explorer

    box = activation_explorer(max_depth=4)
    dropdown = box.children[0].children[0]
    dropdown.value = "relu"  # triggers a redraw through the plain update function
    assert "relu" in box.children[1].value
