"""Lecture 01's explorer: activation x input scale x depth -> per-layer histograms.

:func:`explorer_update` is the plain function (numbers in, numbers out) that tests call and
benchmarks time; :func:`activation_explorer` wraps it in ipywidgets and draws the result.
"""

from __future__ import annotations

import numpy as np

from tnn import activations as A
from tnn._validate import check_choice, check_positive

DEFAULTS = {"activation": "tanh", "input_scale": 1.0, "depth": 6, "width": 256, "batch": 128,
            "seed": 0, "gain": 1.0}
BINS = 30


def explorer_update(activation: str = "tanh", input_scale: float = 1.0, depth: int = 6,
                    width: int = 256, batch: int = 128, seed: int = 0,
                    gain: float = 1.0) -> dict:
    """Run the deep-network probe and return what the explorer draws.

    A ``depth``-layer MLP of ``width`` units with weights ``N(0, gain^2/width)`` (gain 1:
    Xavier/LeCun; ``sqrt(2)``: Kaiming, for ReLU) gets a batch of ``batch`` inputs
    ``input_scale * N(0, 1)``.

    Returns
    -------
    view : dict
        ``act_hist`` and ``grad_hist``: lists of ``(counts, edges)`` per layer;
        ``act_mean``, ``act_std``, ``grad_std``, ``saturated``, ``dead``: arrays of shape
        (depth,); ``summary``: one line of text.
    """
    check_choice(activation, "activation", tuple(A.ELEMENTWISE))
    input_scale = check_positive(input_scale, "input_scale")
    gain = check_positive(gain, "gain")
    rng = np.random.default_rng(seed)
    weights = A.sample_mlp_weights(rng, depth, width, gain=gain)
    x = rng.standard_normal((batch, width), dtype=np.float32) * np.float32(input_scale)
    stats = A.probe_deep_network(x, weights, activation)
    act_hist = [np.histogram(h, bins=BINS) for h in stats["activations"]]
    grad_hist = [np.histogram(g, bins=BINS) for g in stats["input_grads"]]
    summary = (f"{activation}, input scale {input_scale:g}, depth {depth}, gain {gain:.2f}: "
               f"last-layer std "
               f"{stats['act_std'][-1]:.3f}, saturated {100 * stats['saturated'].mean():.0f}%, "
               f"dead {100 * stats['dead'].mean():.0f}%, input-gradient std "
               f"{stats['grad_std'][0]:.2e} vs last layer {stats['grad_std'][-1]:.2e}")
    keys = ("act_mean", "act_std", "grad_std", "saturated", "dead")
    return {"act_hist": act_hist, "grad_hist": grad_hist, "summary": summary,
            **{k: stats[k] for k in keys}}


def activation_explorer(max_depth: int = 10):
    """The ipywidgets explorer: dropdown and sliders above two rows of histograms."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from tnn.plots.activations import draw_layer_histograms

    activation = widgets.Dropdown(options=list(A.ELEMENTWISE), value=DEFAULTS["activation"],
                                  description="activation")
    scale = widgets.FloatLogSlider(value=DEFAULTS["input_scale"], base=10, min=-2, max=1.5,
                                   step=0.1, description="input scale")
    depth = widgets.IntSlider(value=DEFAULTS["depth"], min=1, max=max_depth,
                              description="depth")
    gain = widgets.FloatSlider(value=DEFAULTS["gain"], min=0.5, max=2.0, step=0.01,
                               description="weight gain")
    text = widgets.Label()
    out = widgets.Output()
    with out:
        fig, axes = plt.subplots(2, max_depth, figsize=(1.6 * max_depth, 3.6))
        plt.close(fig)

    def redraw(*_):
        view = explorer_update(activation.value, scale.value, depth.value, gain=gain.value)
        draw_layer_histograms(axes[0], view["act_hist"], extra=[
            f"s={s:.2f} sat {100 * a:.0f}%\ndead {100 * d:.0f}%"
            for s, a, d in zip(view["act_std"], view["saturated"], view["dead"], strict=True)])
        draw_layer_histograms(axes[1], view["grad_hist"], title_fmt="grad in {i}",
                              extra=[f"std {g:.1e}" for g in view["grad_std"]])
        fig.tight_layout()
        text.value = view["summary"]
        out.clear_output(wait=True)
        with out:
            display(fig)

    for control in (activation, scale, depth, gain):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([activation, scale, depth, gain]), text, out])
