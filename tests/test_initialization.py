"""Topic 03: initializers vs torch.nn.init, the lecture's layer-statistics figures, the
backward view, constant-init symmetry, LSUV, conv shapes and receptive fields vs torch layers.
"""

import math

import numpy as np
import pytest
import torch
from conftest import to_numpy

from tnn import initialization as I
from tnn.device import median_seconds, torch_generator

LINEAR = (256, 128)  # (D_in, D_out)
CONV = (64, 32, 3, 3)  # (C_out, C_in, k, k): fan-in 32 * 9 = 288


# ------------------------------------------------------------------------------- fans and inits
def test_fan_in_and_fan_out_match_torch():
    assert I.fan_in(LINEAR) == 256 and I.fan_out(LINEAR) == 128
    assert I.fan_in(CONV) == 288 and I.fan_out(CONV) == 64 * 9
    assert I.fan_in((8, 3, 5)) == 15  # a 1-d convolution
    calc = torch.nn.init._calculate_fan_in_and_fan_out
    assert calc(torch.empty(CONV)) == (I.fan_in(CONV), I.fan_out(CONV))
    # torch's nn.Linear weight is our layout transposed
    assert calc(torch.empty(LINEAR[::-1])) == (I.fan_in(LINEAR), I.fan_out(LINEAR))


@pytest.mark.parametrize("shape", [LINEAR, CONV])
def test_initializers_are_one_scaled_draw(shape):
    z = np.random.default_rng(5).standard_normal(shape)
    xav = I.xavier_normal(np.random.default_rng(5), shape)
    kai = I.kaiming_normal(np.random.default_rng(5), shape)
    leaky = I.kaiming_normal(np.random.default_rng(5), shape, negative_slope=0.2)
    n = I.fan_in(shape)
    np.testing.assert_allclose(xav, z / np.sqrt(n), rtol=1e-12)
    np.testing.assert_allclose(kai, z * np.sqrt(2 / n), rtol=1e-12)
    np.testing.assert_allclose(leaky, z * np.sqrt(2 / (1.04 * n)), rtol=1e-12)
    assert xav.shape == shape and xav.dtype == np.float64
    x32 = I.xavier_normal(np.random.default_rng(5), shape, dtype=np.float32)
    assert x32.dtype == np.float32
    # the lecture's conv rule: Din = filter_size^2 * input_channels
    big = I.kaiming_normal(np.random.default_rng(0), (256, 64, 3, 3))
    assert big.std() == pytest.approx(np.sqrt(2 / (9 * 64)), rel=0.01)


def test_torch_twins_sample_on_the_device_with_the_same_std(device):
    gen = torch_generator(0, device)
    w = I.xavier_normal_torch(gen, (512, 512))
    k = I.kaiming_normal_torch(gen, (128, 64, 3, 3))
    assert w.device.type == device.type and w.dtype == torch.float32
    assert float(w.std()) == pytest.approx(1 / math.sqrt(512), rel=0.01)
    assert float(k.std()) == pytest.approx(math.sqrt(2 / 576), rel=0.01)
    again = I.xavier_normal_torch(torch_generator(0, device), (512, 512))
    assert torch.equal(w, again)  # the generator makes it repeat
    c = I.constant_init_torch((3, 4), 0.5, device=device)
    assert c.device.type == device.type and torch.all(c == 0.5)


def test_reference_matches_torch_nn_init_statistically():
    state = torch.random.get_rng_state()
    rows = {r["name"]: r for r in I.torch_init_comparison(fan_in=512, fan_out=2048)}
    assert torch.equal(torch.random.get_rng_state(), state)  # torch's global RNG untouched
    for row in rows.values():
        assert row["std_sample"] == pytest.approx(row["std_formula"], rel=0.01), row["name"]
    assert rows["torch: xavier_normal_"]["std_formula"] == pytest.approx(math.sqrt(2 / 2560))
    assert rows["torch: nn.Linear default (kaiming_uniform_, a=sqrt(5))"][
        "std_formula"] == pytest.approx(1 / math.sqrt(3 * 512))
    # the lecture's "Xavier" is torch's kaiming_normal_ with the linear gain, and matches
    # torch's xavier_normal_ exactly when fan_in == fan_out
    square = {r["name"]: r["std_formula"] for r in I.torch_init_comparison(1024, 1024)}
    assert square["torch: xavier_normal_"] == pytest.approx(square["ours: xavier_normal"])
    # conv weights: the same fan-in convention as torch
    w = torch.empty(256, 64, 3, 3)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")
    ours = I.kaiming_normal(np.random.default_rng(0), (256, 64, 3, 3))
    assert float(w.std()) == pytest.approx(float(ours.std()), rel=0.02)


def test_orthogonal_twins_give_orthonormal_rows_or_columns(device):
    for shape in [(64, 64), (32, 128), (128, 32), (16, 8, 3, 3)]:
        w = I.orthogonal(np.random.default_rng(0), shape, gain=2.0)
        wt = to_numpy(I.orthogonal_torch(torch_generator(0, device), shape, gain=2.0))
        for m in (w, wt):
            flat = m.reshape(shape[0], -1)
            gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
            np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)


@pytest.mark.parametrize(("call", "pattern"), [
    (lambda: I.xavier_normal(0, (3, 3)), "rng must be a np.random.Generator"),
    (lambda: I.kaiming_normal(np.random.default_rng(), 5), "shape must be a tuple of ints"),
    (lambda: I.xavier_normal(np.random.default_rng(), (5,)), "at least 2 entries"),
    (lambda: I.fan_in((3, 0)), r"shape\[1\] must be a positive int"),
    (lambda: I.xavier_normal(np.random.default_rng(), (3, 3), gain=-1), "gain must be finite"),
    (lambda: I.xavier_normal_torch(np.random.default_rng(), (3, 3)), "torch.Generator"),
    (lambda: I.InitScheme("relu", "he"), "init must be one of"),
    (lambda: I.layer_statistics(np.ones((2, 3)), [np.ones((4, 5))]), r"weights\[0\] must have shape \(3, D_out\)"),
    (lambda: I.conv_output_size(5, 7), "larger than the padded input"),
    (lambda: I.conv_output_size(5, 3, stride=0), "stride must be an int >= 1"),
    (lambda: I.receptive_field([3, 3]), r"layers\[0\] must be a \(kernel_size, stride\) pair"),
])
def test_bad_input_messages(call, pattern):
    with pytest.raises((TypeError, ValueError), match=pattern):
        call()


# ---------------------------------------------------------------- the lecture's experiment
@pytest.fixture(scope="module", params=[0, 1, 2], ids=lambda s: f"seed{s}")
def lecture_results(request):
    """The lecture's experiment at its exact size; one set of unit-normal weights per seed."""
    x, unit = I.sample_experiment(np.random.default_rng(request.param))
    assert x.shape == (16, 4096) and len(unit) == 6 and unit[0].shape == (4096, 4096)
    return I.init_experiment(x, unit)


@pytest.mark.parametrize("label", ["tanh, 0.01*randn", "tanh, 0.05*randn", "tanh, Xavier",
                                   "relu, Xavier"])
def test_lecture_figures_within_0_03(lecture_results, label):
    stats, expected = lecture_results[label], I.LECTURE_FIGURES[label]
    np.testing.assert_allclose(stats["std"], expected["std"], atol=0.03)
    np.testing.assert_allclose(stats["mean"], expected["mean"], atol=0.03)


def test_small_weights_collapse_and_kaiming_is_stable(lecture_results):
    small = lecture_results["tanh, 0.01*randn"]["std"]
    assert np.all(np.diff(small) < 0) and small[-1] < 0.06  # shrinks layer by layer
    kaiming = lecture_results["relu, Kaiming"]
    # fixed point of ReLU after N(0, 2/fan_in) weights: mean sqrt(1/pi), std sqrt(1 - 1/pi);
    # a batch of 16 lets it wander a little from layer to layer
    np.testing.assert_allclose(kaiming["mean"], I.LECTURE_FIGURES["relu, Kaiming"]["mean"],
                               atol=0.06)
    np.testing.assert_allclose(kaiming["std"], I.LECTURE_FIGURES["relu, Kaiming"]["std"],
                               atol=0.08)
    assert 0.85 < kaiming["std"][-1] / kaiming["std"][0] < 1.15
    # Xavier with ReLU loses about 1/sqrt(2) of the std per layer
    ratios = np.diff(np.log(lecture_results["relu, Xavier"]["std"]))
    np.testing.assert_allclose(np.exp(ratios), 1 / np.sqrt(2), atol=0.05)


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
    x, unit = I.sample_experiment(rng, width=1024, batch=64)
    dout = rng.standard_normal((64, 1024), dtype=np.float32)
    res = I.init_experiment(x, unit, backward=True, dout=dout)
    g = {k: v["grad_std"] for k, v in res.items()}
    np.testing.assert_allclose(g["relu, Kaiming"], 1.0, atol=0.1)  # preserved through depth
    np.testing.assert_allclose(g["relu, Xavier"][:-1] / g["relu, Xavier"][1:], 1 / np.sqrt(2),
                               atol=0.05)  # halves the variance at every layer
    assert g["tanh, 0.01*randn"][0] < 0.01 * g["tanh, 0.01*randn"][-1]  # vanishes


def test_backward_pass_matches_the_activations_probe():
    rng = np.random.default_rng(11)
    x, unit = I.sample_experiment(rng, depth=3, width=64, batch=8, dtype=np.float64)
    dout = rng.standard_normal((8, 64))
    for activation in ("tanh", "relu"):
        weights = [0.2 * u for u in unit]
        ours = I.layer_statistics(x, unit, activation, scales=[0.2] * 3, dout=dout)
        probe = I.A.probe_deep_network(x, weights, activation, dout=dout)
        np.testing.assert_allclose(ours["grad_std"], probe["grad_std"], rtol=1e-12)
        np.testing.assert_allclose(ours["std"], probe["act_std"], rtol=1e-12)


def test_experiment_twins_agree(device):
    rng = np.random.default_rng(7)
    x, unit = I.sample_experiment(rng, depth=4, width=128, batch=32, dtype=np.float64)
    dout = rng.standard_normal((32, 128))
    ours = I.init_experiment(x, unit, backward=True, dout=dout)
    theirs = I.init_experiment_torch(torch.tensor(x, device=device), unit, backward=True,
                                     dout=dout)
    for label in ours:
        for key in ("mean", "std", "pre_mean", "pre_std", "grad_std"):
            np.testing.assert_allclose(theirs[label][key], ours[label][key], rtol=1e-9,
                                       atol=1e-12, err_msg=f"{label} {key}")
        assert theirs[label]["activations"][0].device.type == device.type
        for (c1, _), (c2, _) in zip(ours[label]["hist"], theirs[label]["hist"], strict=True):
            assert c1.sum() == c2.sum() == 32 * 128


def test_torch_experiment_on_device_reproduces_the_figures(device):
    gen = torch_generator(0, device)
    x, unit = I.sample_experiment_torch(gen)
    res = I.init_experiment_torch(x, unit, schemes=I.LECTURE_SCHEMES[1:4])
    for label, stats in res.items():
        np.testing.assert_allclose(stats["std"], I.LECTURE_FIGURES[label]["std"], atol=0.03)


# ------------------------------------------------------------------------- constant init
def test_constant_init_never_breaks_symmetry(device):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 5)), rng.standard_normal((32, 3))
    const = I.train_two_layer_sgd(x, y, I.constant_init((5, 8), 0.3),
                                  I.constant_init((8, 3), 0.3), lr=0.2, steps=30)
    # all 8 hidden units stay copies (up to float rounding: BLAS may sum columns in any order)
    assert const["spread"].max() < 1e-12
    np.testing.assert_allclose(const["w2"], np.broadcast_to(const["w2"][:1], (8, 3)), atol=1e-12)
    assert const["loss"][-1] < const["loss"][0]  # it learns, but as a 1-unit network
    rand = I.train_two_layer_sgd(x, y, I.xavier_normal(rng, (5, 8)), I.xavier_normal(rng, (8, 3)),
                                 lr=0.2, steps=30)
    assert rand["spread"].min() > 0.1 and rand["loss"][-1] < const["loss"][-1]
    twin = I.train_two_layer_sgd_torch(torch.tensor(x, device=device), y,
                                       I.constant_init((5, 8), 0.3), I.constant_init((8, 3), 0.3),
                                       lr=0.2, steps=30)
    np.testing.assert_allclose(twin["loss"], const["loss"], rtol=1e-10)
    np.testing.assert_allclose(to_numpy(twin["w1"]), const["w1"], rtol=1e-10)
    assert twin["spread"].max() < 1e-12


# ----------------------------------------------------------------------------------- LSUV
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_lsuv_restores_unit_variance_layer_by_layer(activation, device):
    rng = np.random.default_rng(1)
    x, unit = I.sample_experiment(rng, depth=6, width=512, batch=256, dtype=np.float64)
    start = [0.01 * u for u in unit]
    before = I.layer_statistics(x, start, activation)["pre_std"]
    assert before[-1] < 0.05
    out = I.lsuv_init(x, start, activation)
    np.testing.assert_allclose(out["std_after"], 1.0, atol=0.01)
    np.testing.assert_array_equal(out["iterations"], 1)  # one batch: one rescale per layer
    fresh = rng.standard_normal((256, 512))  # held-out batch
    np.testing.assert_allclose(I.layer_statistics(fresh, out["weights"], activation)["pre_std"],
                               1.0, atol=0.08)
    twin = I.lsuv_init_torch(torch.tensor(x, device=device), start, activation)
    np.testing.assert_allclose(twin["std_before"], out["std_before"], rtol=1e-9)
    for a, b in zip(twin["weights"], out["weights"], strict=True):
        np.testing.assert_allclose(to_numpy(a), b, rtol=1e-9, atol=1e-14)


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
        expected = I.conv_output_size(size, k, s, p, d)
        assert conv(x).shape[-1] == expected and pool(x).shape[-1] == expected
        checked += 1
    assert I.conv_output_size(227, 11, 4) == 55  # AlexNet conv1: (227 - 11)/4 + 1
    assert I.conv_output_size(224, 11, 4, 2) == 55  # torchvision: floor(55.25)


def test_receptive_field_formula_and_by_backprop():
    assert I.receptive_field([(3, 1), (3, 1)]) == 5
    assert I.receptive_field([(3, 1)] * 3) == 7
    assert I.receptive_field([(2, 2)] * 3) == 8
    assert I.receptive_field([]) == 1
    assert I.receptive_fields([(3, 1, 2), (3, 1)]) == [5, 7]  # dilated 3x3 spans 5
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
    assert int(rows.max() - rows.min() + 1) == I.receptive_field(layers)


CAFFE_SHAPES = {"conv1": (96, 55, 55), "pool1": (96, 27, 27), "norm1": (96, 27, 27),
                "conv2": (256, 27, 27), "pool2": (256, 13, 13), "norm2": (256, 13, 13),
                "conv3": (384, 13, 13), "conv4": (384, 13, 13), "conv5": (256, 13, 13),
                "pool5": (256, 6, 6), "fc6": (4096,), "fc7": (4096,), "fc8": (1000,)}
RECEPTIVE = {"conv1": 11, "pool1": 19, "conv2": 51, "pool2": 67, "conv3": 99, "conv4": 131,
             "conv5": 163, "pool5": 195}


@pytest.mark.parametrize(("spec", "size", "params"), [
    (I.ALEXNET_CAFFE, 227, 62_378_344), (I.ALEXNET_TORCHVISION, 224, 61_100_840)],
    ids=["caffe", "torchvision"])
def test_alexnet_tables_match_torch_layers(spec, size, params):
    table = I.alexnet_shape_table(spec, size)
    model = I.alexnet_torch(spec, size)
    shapes = I.torch_output_shapes(model, size)
    for row in table:
        assert shapes[row["name"]] == row["shape"], row["name"]
        if row["name"] in RECEPTIVE:
            assert row["receptive_field"] == RECEPTIVE[row["name"]], row["name"]
        if row["type"] == "fc":
            assert row["receptive_field"] == size  # a fully connected unit sees everything
    assert sum(r["params"] for r in table) == params == sum(p.numel() for p in model.parameters())
    if spec is I.ALEXNET_CAFFE:
        assert {r["name"]: r["shape"] for r in table} == CAFFE_SHAPES
    else:
        names = [name for name, _ in model.named_children()]
        assert names.index("drop6") < names.index("fc6") and names.index("drop7") < names.index("fc7")
        assert model.drop6.p == 0.5 and isinstance(model.avgpool, torch.nn.AdaptiveAvgPool2d)
        assert [r["shape"][0] for r in table if r["type"] == "conv"] == [64, 192, 384, 256, 256]


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

    from tnn.plots import initialization as P

    rng = np.random.default_rng(0)
    x, unit = I.sample_experiment(rng, depth=3, width=32, batch=8)
    res = I.init_experiment(x, unit, backward=True)
    runs = {"c": I.train_two_layer_sgd(np.ones((4, 2)), np.ones((4, 1)), I.constant_init((2, 3)),
                                       I.constant_init((3, 1)), steps=2)}
    figs = [P.plot_experiment(res), P.plot_layer_profiles(res), P.plot_symmetry(runs),
            P.plot_lsuv({"a": res["tanh, Xavier"]}, {"a": res["relu, Kaiming"]})]
    assert len(figs[0].axes) == 5 * 3
    for fig in figs:
        plt.close(fig)


def test_explorer_widget_builds_headless():
    pytest.importorskip("ipywidgets")
    from tnn.widgets.initialization import init_explorer

    box = init_explorer(max_depth=4)
    box.children[0].children[1].value = "xavier"  # triggers a redraw
    assert "Xavier" in box.children[2].value
