"""Lecture 04's explorer: penalty (L2 or L1) and strength λ -> train/val curves and the first
layer's weights.

The runs are trained once (a small grid of λ per penalty, on the lecture's split 0, one
thread; the lecture hands over those it trained already with :func:`use_runs`) and cached; :func:`explorer_update` is the plain function (numbers in, numbers out) that tests
call, and :func:`penalty_explorer` draws it, updating its artists in place.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from tnn._validate import check_choice

GRID = {"none": (0.0,), "l2": (1e-3, 3e-3, 1e-2, 3e-2), "l1": (1e-4, 3e-4, 1e-3)}


_CACHE: dict = {}  # (kind, lam) -> the arrays of one run on the lecture's split 0


def use_runs(runs: dict) -> None:
    """Put runs the lecture already trained (:func:`tnn.regularization.penalty_sweep` on
    split 0, seed 0, default settings) into the explorer's cache, so they are not trained
    twice."""
    for (kind, lam), run in runs.items():
        key = ("none", 0.0) if lam == 0 else (kind, float(lam))
        if key[0] in GRID and key[1] in GRID[key[0]]:
            _CACHE[key] = {k: run[k] for k in ("train_loss", "val_loss", "train_acc",
                                               "val_acc", "first_layer")}


def _run(kind: str, lam: float, device: str = "cpu") -> dict:
    if (kind, lam) not in _CACHE:
        from tnn import regularization as R
        from tnn.device import few_threads

        with few_threads(device):
            run = R.train_with_snapshots(_split(), seed=0, kind=kind, lam=lam, device=device)
        use_runs({(kind, lam): run})
    return _CACHE[(kind, lam)]


@lru_cache(maxsize=1)
def _split():
    from tnn.data import small_digits

    return small_digits(np.random.default_rng(0))


def precompute(device="cpu") -> None:
    """Train every run of the grid not yet in the cache (about 0.6 s each on one thread)."""
    for kind, lams in GRID.items():
        for lam in lams:
            _run(kind, lam, str(device))


def _nearest(kind: str, lam: float) -> float:
    grid = np.array(GRID[kind])
    lam = max(lam, 0.0)
    return float(grid[np.argmin(np.abs(np.log10(grid + 1e-6) - np.log10(lam + 1e-6)))])


def explorer_update(kind: str = "l2", lam: float = 3e-3, device="cpu") -> dict:
    """The run of the grid nearest to (``kind``, ``lam``): curves, sparsity, weight images.

    ``kind`` is ``"none"`` (no penalty; ``lam`` ignored), ``"l2"`` or ``"l1"``; λ = 0 with
    a penalty means no penalty too.

    Returns
    -------
    view : dict
        ``lam``: the grid value used; ``train_loss``, ``val_loss``, ``train_acc``,
        ``val_acc``: arrays (epochs,); ``images``: (16, 8, 8) first-layer weights;
        ``small``: share of first-layer weights with |w| < 1e-3; ``summary``: one line.
    """
    from tnn.reg_experiments import first_layer_images, small_weight_fraction

    kind = check_choice(kind, "kind", tuple(GRID))
    if float(lam) == 0:
        kind = "none"
    lam = _nearest(kind, float(lam))
    run = _run(kind, lam, str(device))
    small = small_weight_fraction(run["first_layer"])
    view = {k: run[k] for k in ("train_loss", "val_loss", "train_acc", "val_acc")}
    view.update(lam=lam, images=first_layer_images(run["first_layer"])[:16], small=small)
    label = "no penalty" if kind == "none" else f"{kind.upper()} λ={lam:g}"
    view["summary"] = (f"{label}: train acc {run['train_acc'][-1]:.3f}, "
                       f"val acc {run['val_acc'][-1]:.3f}, val - train loss "
                       f"{run['val_loss'][-1] - run['train_loss'][-1]:.3f}, "
                       f"|w| < 1e-3: {100 * small:.1f}% of first-layer weights")
    return view


def _mosaic(images: np.ndarray) -> np.ndarray:
    """(16, 8, 8) weight images tiled 2 x 8 with a blank line between them: (17, 71)."""
    rows = []
    for r in range(2):
        tiles = []
        for c in range(8):
            tiles += [images[8 * r + c], np.full((8, 1), np.nan)]
        rows += [np.hstack(tiles[:-1]), np.full((1, 71), np.nan)]
    return np.vstack(rows[:-1])


def explorer_figure(view: dict | None = None):
    """The explorer's figure (loss, accuracy, the 16 weight images as one picture) and a
    function ``draw(view)`` that updates its artists in place. Three axes and one image keep
    a redraw cheap (each update re-renders the whole figure as an inline PNG)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

    view = view if view is not None else explorer_update("l2", 3e-3)
    epochs = np.arange(1, len(view["val_acc"]) + 1)
    fig = plt.figure(figsize=(9, 3.6), dpi=72)
    grid = fig.add_gridspec(2, 2, height_ratios=(2.2, 1))
    ax_loss, ax_acc, ax_img = (fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]),
                               fig.add_subplot(grid[1, :]))
    lines = {k: (ax_loss if "loss" in k else ax_acc).plot(epochs, view[k], label=k)[0]
             for k in ("train_loss", "val_loss", "train_acc", "val_acc")}
    ax_loss.set_yscale("log")
    ax_loss.set_ylim(1e-3, 3)
    ax_acc.set_ylim(0.8, 1.005)
    ax_loss.legend(fontsize=7)
    ax_loss.set_title("loss", fontsize=8)
    ax_acc.set_title("accuracy (same colours: train, val)", fontsize=8)
    # few ticks and no minor ticks: their text layout is most of a redraw's time
    ax_loss.yaxis.set_major_locator(FixedLocator([1e-3, 1e-2, 1e-1, 1.0]))
    ax_loss.yaxis.set_minor_locator(NullLocator())
    ax_acc.yaxis.set_major_locator(MaxNLocator(4))
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(5))
    spread = float(np.abs(view["images"]).max())
    image = ax_img.imshow(_mosaic(view["images"]), cmap="RdBu_r", vmin=-spread, vmax=spread)
    ax_img.set_axis_off()
    ax_img.set_title("first-layer weights of 16 hidden units", fontsize=8)
    fig.tight_layout()
    plt.close(fig)

    def draw(v: dict) -> None:
        for k, line in lines.items():
            line.set_ydata(v[k])
        image.set_data(_mosaic(v["images"]))

    return fig, draw


def penalty_explorer():
    """ipywidgets: a penalty toggle and a λ slider (log scale; the nearest trained λ) above
    the curves and 16 first-layer weight images."""
    import ipywidgets as widgets
    from IPython.display import display

    kind = widgets.ToggleButtons(options=["none", "l2", "l1"], value="l2", description="penalty")
    lam = widgets.FloatLogSlider(value=3e-3, base=10, min=-4, max=-1.5, step=0.25,
                                 description="λ (nearest run)")
    text = widgets.Label()
    out = widgets.Output()
    fig, draw = explorer_figure()

    def redraw(*_):
        v = explorer_update(kind.value, lam.value)
        draw(v)
        text.value = v["summary"]
        out.clear_output(wait=True)
        with out:
            display(fig)

    kind.observe(redraw, names="value")
    lam.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([kind, lam]), text, out])
