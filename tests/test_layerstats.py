"""The shared per-layer probe (tnn.layerstats): NumPy vs its torch twin, and both against a
computation written out by hand for a small network."""

import numpy as np
import pytest
from conftest import assert_twins_agree

from tnn import layerstats
from tnn.activations import ACTIVATIONS

FIELDS = ("pre_mean", "pre_std", "mean", "std", "saturated", "dead", "grad_std",
          "weight_grad_norm", "weight_grad_std")


def _network(rng, widths=(12, 9, 7, 5), batch=6, scale=0.8):
    x = rng.standard_normal((batch, widths[0]))
    weights = [scale * rng.standard_normal((a, b)) / np.sqrt(a)
               for a, b in zip(widths[:-1], widths[1:], strict=True)]
    dout = rng.standard_normal((batch, widths[-1]))
    return x, weights, dout


def _by_hand(x, weights, activation, dout, scales):
    """Every statistic written out: forward, backward with dW formed explicitly."""
    f, df = {"tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
             "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
             "sigmoid": (lambda z: 1 / (1 + np.exp(-z)),
                         lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2)}[activation]
    peak = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25}[activation]
    hs, zs = [x], []
    for w, c in zip(weights, scales, strict=True):
        zs.append(hs[-1] @ (c * w))
        hs.append(f(zs[-1]))
    out = {name: [] for name in FIELDS}
    for z, h in zip(zs, hs[1:], strict=True):
        out["pre_mean"].append(z.mean())
        out["pre_std"].append(np.sqrt(np.mean((z - z.mean()) ** 2)))
        out["mean"].append(h.mean())
        out["std"].append(np.sqrt(np.mean((h - h.mean()) ** 2)))
        out["saturated"].append(np.mean(np.abs(df(z)) < 0.1 * peak))
        out["dead"].append(np.mean((z <= 0).all(axis=0)) if activation == "relu" else 0.0)
    grad, back = dout, {"grad_std": [], "weight_grad_norm": [], "weight_grad_std": []}
    for layer in reversed(range(len(weights))):
        dz = grad * df(zs[layer])
        dw = hs[layer].T @ dz  # (D_in, D_out), formed
        back["weight_grad_norm"].insert(0, np.sqrt(np.sum(dw ** 2)))
        back["weight_grad_std"].insert(0, dw.std())
        grad = dz @ (scales[layer] * weights[layer]).T
        back["grad_std"].insert(0, grad.std())
    out.update(back)
    return {k: np.array(v) for k, v in out.items()}, hs[1:]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_layer_stats_matches_a_hand_computation(activation, rng):
    x, weights, dout = _network(rng)
    scales = [1.0, 0.5, 2.0]
    stats = layerstats.layer_stats(x, weights, activation, dout=dout, scales=scales)
    expected, acts = _by_hand(x, weights, activation, dout, scales)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(stats, name), expected[name], rtol=1e-10,
                                   atol=1e-14, err_msg=name)
    for ours, theirs in zip(stats.activations, acts, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    np.testing.assert_allclose(stats.sq_mean, np.array([np.mean(h ** 2) for h in acts]),
                               rtol=1e-10)
    assert stats.depth == 3 and len(stats.input_grads) == 3
    assert stats.input_grads[0].shape == x.shape
    # histograms: counts over the activation's range, one per layer
    counts, edges = stats.hist[0]
    assert counts.sum() == acts[0].size and len(edges) == 51


def test_relu_dead_and_saturated_on_a_constructed_batch():
    # unit 0 is never active, unit 1 always, unit 2 on one example of two
    x = np.eye(2)
    w = np.array([[-1.0, 1.0, 1.0], [-1.0, 1.0, -1.0]])
    stats = layerstats.layer_stats(x, [w], "relu")
    assert stats.dead[0] == pytest.approx(1 / 3)
    assert stats.saturated[0] == pytest.approx(3 / 6)  # z <= 0 in 3 of the 6 entries
    assert stats.grad_std is None and stats.input_grads is None  # no dout: forward only


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_numpy_and_torch_twins_agree(activation, device, rng):
    x, weights, dout = _network(rng, widths=(32, 24, 24, 16), batch=10)
    scales = [1.3, 0.7, 1.0]
    results = []  # the whole LayerStats, NumPy's then torch's

    def compared(probe):  # every statistic and the input gradients; histograms below
        def run(**kwargs):
            results.append(probe(**kwargs))
            return {name: getattr(results[-1], name) for name in (*FIELDS, "input_grads")}
        return run

    assert_twins_agree(compared(layerstats.layer_stats), compared(layerstats.layer_stats_torch),
                       [{"x": x, "weights": weights, "activation": activation, "dout": dout,
                         "scales": scales, "bins": 20}], device, rtol=1e-9, atol=1e-12)
    ours, theirs = results
    for (c1, e1), (c2, e2) in zip(ours.hist, theirs.hist, strict=True):
        np.testing.assert_allclose(e1, e2, rtol=1e-12)
        assert np.abs(c1 - c2).sum() <= 2  # torch.histc bins in float32
    assert theirs.activations[0].device.type == device.type


def test_weight_grad_moments_match_the_formed_gradient(device, rng):
    h, dz = rng.standard_normal((7, 40)), rng.standard_normal((7, 30))
    dw = h.T @ dz
    norm, std = layerstats.weight_grad_moments(h, dz)
    assert norm == pytest.approx(np.linalg.norm(dw), rel=1e-12)
    assert std == pytest.approx(dw.std(), rel=1e-10)
    assert_twins_agree(layerstats.weight_grad_moments, layerstats.weight_grad_moments_torch,
                       [{"h": h, "dz": dz}], device, rtol=1e-12, atol=0)


def test_forward_only_and_no_histograms(rng):
    x, weights, _ = _network(rng)
    for probe in (layerstats.layer_stats, layerstats.layer_stats_torch):
        stats = probe(x, weights, "tanh", bins=None)
        assert stats.hist is None and stats.grad_std is None and stats.weight_grad_norm is None
        assert stats.mean.shape == (3,) and stats.mean.dtype == np.float64


@pytest.mark.parametrize("probe", [layerstats.layer_stats, layerstats.layer_stats_torch])
@pytest.mark.parametrize("kwargs, error, message", [
    ({"activation": "swish"}, ValueError, "activation must be one of"),
    ({"scales": [1.0]}, ValueError, r"scales must hold one number per weight matrix \(3\)"),
    ({"scales": [1.0, -1.0, 1.0]}, ValueError, r"scales\[1\] must be finite and > 0"),
    ({"dout": np.ones((2, 2))}, ValueError, "dout must have shape"),
    ({"bins": 0}, ValueError, "bins must be an int >= 1"),
])
def test_bad_arguments_say_what_was_expected(probe, kwargs, error, message, rng):
    x, weights, _ = _network(rng)
    kwargs = {"activation": "tanh", **kwargs}
    activation = kwargs.pop("activation")
    with pytest.raises(error, match=message):
        probe(x, weights, activation, **kwargs)


def test_topic_views_read_the_same_probe(rng):
    """probe_deep_network (topic 01) and init_experiment (topic 03) return the probe's numbers
    under their own keys."""
    from tnn import activations, initialization

    x, weights, dout = _network(rng)
    stats = layerstats.layer_stats(x, weights, "relu", dout=dout)
    probe = activations.probe_deep_network(x, weights, "relu", dout=dout)
    for key, field in (("act_mean", "mean"), ("act_std", "std"), ("grad_std", "grad_std"),
                       ("weight_grad_norm", "weight_grad_norm"), ("dead", "dead")):
        np.testing.assert_array_equal(probe[key], getattr(stats, field))
    unit = [w * np.sqrt(w.shape[0]) for w in weights]  # unit-normal: the scheme rescales
    scheme = initialization.InitScheme("relu", "xavier")
    res = initialization.init_experiment(x, unit, schemes=[scheme], backward=True, dout=dout)
    ref = layerstats.layer_stats(x, unit, "relu", dout=dout,
                                 scales=[scheme.std(u.shape[0]) for u in unit])
    for key in ("mean", "std", "pre_mean", "pre_std", "grad_std", "weight_grad_std"):
        np.testing.assert_array_equal(res[scheme.label][key], getattr(ref, key))
