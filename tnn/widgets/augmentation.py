"""Lecture 06's explorer: pick an AutoAugment operation and its magnitude (0..10) and watch a
batch of digits and the two sample photographs change.

:func:`explorer_update` applies the operation to every image with a fixed sign per image
(alternating, so a shear or a rotation goes one way on half the batch and the other way on
the rest) through :func:`tnn.augmentation.apply_subpolicy` with replayed parameters, so the
same setting always shows the same pictures. The widget redraws by replacing the data of the
images already on the figure.
"""

from __future__ import annotations

import numbers

import numpy as np

from tnn import augmentation as aug
from tnn._validate import check_choice
from tnn.widgets import assemble, explorer_figure, show_figure

#: the operations the explorer offers (AutoAugment's names; see tnn.augmentation)
OPERATIONS = ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY", "Cutout",
              "Brightness", "Contrast", "Color", "Solarize", "Invert")


def explorer_update(batches: dict, operation: str, magnitude: float) -> dict:
    """Every batch of ``batches`` (name -> images (N, H, W, C) in [0, 1]) under
    ``operation`` at ``magnitude``.

    Parameters
    ----------
    batches : dict name -> ndarray of shape (N, H, W, C)
    operation : str, one of :data:`OPERATIONS`
    magnitude : float in [0, 10]

    Returns
    -------
    view : dict
        ``images`` (name -> the transformed batch, clipped to [0, 1]), ``value`` (the
        operation's value at this magnitude, before its sign), ``summary`` (one line).
    """
    operation = check_choice(operation, "operation", OPERATIONS)
    if isinstance(magnitude, bool) or not isinstance(magnitude, numbers.Real) \
            or not 0 <= magnitude <= 10:
        raise ValueError(f"magnitude must be a number in [0, 10]; got {magnitude!r}.")
    largest, signed, meaning = aug.POLICY_OPERATIONS[operation]
    images = {}
    for name, x in batches.items():
        n = len(x)
        replay = [{"apply": np.ones(n, bool), "sign": np.where(np.arange(n) % 2, -1.0, 1.0)}]
        out, _ = aug.apply_subpolicy(x, [(operation, 1.0, float(magnitude))], params=replay)
        images[name] = np.clip(out, 0, 1)
    value = largest * magnitude / 10
    sign = "±" if signed else ""
    shown = {"Rotate": f"{sign}{value:.3g} degrees",
             "ShearX": f"shear factor {sign}{value:.3g}",
             "ShearY": f"shear factor {sign}{value:.3g}",
             "TranslateX": f"a shift of {sign}{value:.3g} of the width",
             "TranslateY": f"a shift of {sign}{value:.3g} of the height",
             "Cutout": f"a centred square of side {value:.3g} of the height",
             "Solarize": f"pixels at or above {1 - value:.2f} inverted",
             "Invert": "1 - x, whatever the magnitude"}.get(
        operation, f"factor {1 + value:.2f} on even images, {1 - value:.2f} on odd ones")
    summary = f"{operation} at magnitude {magnitude:g}: {shown}   [{meaning}]"
    return {"images": images, "value": value, "summary": summary}


def montage(batch, gap: int = 1) -> np.ndarray:
    """A batch (N, H, W, C) in [0, 1] laid side by side as one image (H, N W + (N - 1) gap,
    C), separated by white columns ``gap`` pixels wide (one image to draw instead of N)."""
    batch = np.clip(np.asarray(batch, dtype=float), 0, 1)
    n, h, w, c = batch.shape
    out = np.ones((h, n * (w + gap) - gap, c))
    for i, image in enumerate(batch):
        out[:, i * (w + gap):i * (w + gap) + w] = image
    return out[..., 0] if c == 1 else out


def explorer_panel(batches: dict):
    """The explorer's figure: one axes per batch of ``batches``, showing the batch as a
    :func:`montage`, drawn as it is. Returns ``(fig, artists)``, ``artists[name]`` the
    AxesImage of that batch, for :func:`redraw_panel`."""
    widths = [montage(x).shape[1] / montage(x).shape[0] for x in batches.values()]
    fig, axes = explorer_figure(nrows=len(batches), ncols=1, squeeze=False,
                                figsize=(8.8, sum(8.8 / w for w in widths) + 0.2),
                                gridspec_kw={"height_ratios": [1 / w for w in widths]})
    artists = {}
    for ax, (name, x) in zip(axes[:, 0], batches.items(), strict=True):
        gray = x.shape[-1] == 1
        artists[name] = ax.imshow(montage(x), cmap="gray" if gray else None, vmin=0, vmax=1,
                                  interpolation="nearest")
        ax.set_axis_off()
    fig.tight_layout(pad=0.2)
    return fig, artists


def redraw_panel(artists: dict, view: dict) -> None:
    """Replace the picture of every batch of :func:`explorer_panel` with ``view["images"]``."""
    for name, artist in artists.items():
        artist.set_data(montage(view["images"][name]))


def augmentation_explorer(batches: dict):
    """The ipywidgets explorer: an operation menu and a magnitude slider above
    :func:`explorer_panel`'s rows of images (e.g. eight digits and the two photographs)."""
    import ipywidgets as widgets

    menu = widgets.Dropdown(options=OPERATIONS, value="Rotate", description="operation")
    slider = widgets.FloatSlider(value=5, min=0, max=10, step=1, description="magnitude")
    text, out = widgets.Label(), widgets.Output()
    fig, artists = explorer_panel(batches)

    def redraw(*_):
        view = explorer_update(batches, menu.value, slider.value)
        redraw_panel(artists, view)
        text.value = view["summary"]
        show_figure(out, fig)

    return assemble([[menu, slider]], redraw, text, out)
