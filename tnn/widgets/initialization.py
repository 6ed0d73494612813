"""Lecture 03's explorer: activation x init scheme x scale x depth x width -> histograms.

:func:`explorer_update` is the plain function (numbers in, numbers out) that tests call and
benchmarks time; :func:`init_explorer` wraps it in ipywidgets and draws one row of per-layer
histograms. On a CPU the default size (width 384, batch 64) keeps an update well under
100 ms; on a GPU the explorer runs the lecture's full size (width 4096, batch 16) with the
torch twin.
"""

from __future__ import annotations

import numpy as np
import torch

from tnn import activations as A
from tnn import initialization as I
from tnn._validate import check_choice, check_positive

DEFAULTS = {"activation": "relu", "init": "kaiming", "scale": 1.0, "depth": 6, "seed": 0}
CPU_SIZE = {"width": 384, "batch": 64}  # ~10-40 ms per update on a busy 2-core CPU
GPU_SIZE = {"width": 4096, "batch": 16}  # the lecture's experiment, a few ms on a GPU
ACTIVATIONS = ("tanh", "relu", "leaky_relu", "sigmoid", "elu", "gelu", "selu")
INITS = ("fixed", "xavier", "kaiming")
BINS = 40


def default_size(device=None) -> dict:
    """Width and batch for ``device``: the lecture's full size on a GPU, smaller on a CPU."""
    if device is not None and torch.device(device).type == "cuda":
        return dict(GPU_SIZE)
    return dict(CPU_SIZE)


def explorer_update(activation: str = "relu", init: str = "kaiming", scale: float = 1.0,
                    depth: int = 6, width: int | None = None, batch: int | None = None,
                    seed: int = 0, device=None) -> dict:
    """Run the layer-statistics experiment for one setting and return what the explorer draws.

    Parameters
    ----------
    activation : str, one of :data:`ACTIVATIONS`
    init : {"fixed", "xavier", "kaiming"}
        See :class:`tnn.initialization.InitScheme`; ``scale`` is the std for "fixed" and a
        multiplier of the rule otherwise.
    scale : float > 0
    depth : int, number of weight matrices
    width, batch : int, optional
        Default to :func:`default_size` of ``device``.
    seed : int
    device : None, "cpu" or a torch device
        None or "cpu": the NumPy reference. Anything else: the torch twin on that device.

    Returns
    -------
    view : dict
        ``hist``: list of ``(counts, edges)`` per layer; ``mean``, ``std``, ``pre_std``:
        arrays of shape (depth,); ``width``, ``batch``; ``summary``: one line of text.
    """
    check_choice(activation, "activation", tuple(A.ELEMENTWISE))
    scheme = I.InitScheme(activation, init, check_positive(scale, "scale"))
    size = default_size(device)
    width = size["width"] if width is None else width
    batch = size["batch"] if batch is None else batch
    if device is None or torch.device(device).type == "cpu":
        x, unit = I.sample_experiment(np.random.default_rng(seed), depth, width, batch)
        stats = I.layer_statistics(x, unit, activation, bins=BINS,
                                   scales=[scheme.std(u.shape[0]) for u in unit])
    else:
        gen = torch.Generator(device=torch.device(device)).manual_seed(seed)
        x, unit = I.sample_experiment_torch(gen, depth, width, batch)
        stats = I.layer_statistics_torch(x, unit, activation, bins=BINS,
                                         scales=[scheme.std(u.shape[0]) for u in unit])
    std = stats["std"]
    summary = (f"{scheme.label} (weight std {scheme.std(width):.2g}), depth {depth}, width "
               f"{width}, batch {batch}: layer-1 std {std[0]:.3f}, last-layer std {std[-1]:.3f}"
               f" ({std[-1] / std[0]:.2f}x layer 1)")
    return {"hist": stats["hist"], "mean": stats["mean"], "std": std,
            "pre_std": stats["pre_std"], "width": width, "batch": batch, "summary": summary}


def init_explorer(device=None, max_depth: int = 10):
    """The ipywidgets explorer: dropdowns and sliders above one row of histograms."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from tnn.plots.activations import draw_layer_histograms

    size = default_size(device)
    activation = widgets.Dropdown(options=ACTIVATIONS, value=DEFAULTS["activation"],
                                  description="activation")
    init = widgets.Dropdown(options=INITS, value=DEFAULTS["init"], description="init")
    scale = widgets.FloatLogSlider(value=DEFAULTS["scale"], base=10, min=-2.5, max=1, step=0.05,
                                   description="scale")
    depth = widgets.IntSlider(value=DEFAULTS["depth"], min=1, max=max_depth, description="depth")
    widths = sorted({64, 128, 256, 512, 1024, 2048, 4096, size["width"]})
    width = widgets.Dropdown(options=widths, value=size["width"], description="width")
    text = widgets.Label()
    out = widgets.Output()
    with out:
        fig, axes = plt.subplots(1, max_depth, figsize=(1.5 * max_depth, 2.2))
        plt.close(fig)
    axes = np.atleast_1d(axes)

    def redraw(*_):
        view = explorer_update(activation.value, init.value, scale.value, depth.value,
                               width.value, size["batch"], device=device)
        draw_layer_histograms(axes, view["hist"], title_fmt="Layer {i}", extra=[
            f"mean={m:.2f}\nstd={s:.2f}" for m, s in zip(view["mean"], view["std"], strict=True)])
        fig.tight_layout()
        text.value = view["summary"]
        out.clear_output(wait=True)
        with out:
            display(fig)

    for control in (activation, init, scale, depth, width):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([activation, init, scale]), widgets.HBox([depth, width]),
                         text, out])
