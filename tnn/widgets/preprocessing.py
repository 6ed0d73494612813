"""Lecture 02's explorer: learning rate x epochs -> raw vs normalized training curves.

:func:`explorer_update` is the plain function (numbers in, numbers out) that tests call;
:func:`normalization_explorer` wraps it in ipywidgets and draws the result.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from tnn import preprocessing as P
from tnn._validate import check_positive, check_positive_int

DEFAULTS = {"lr": 0.3, "epochs": 20, "hidden": 64, "seed": 0}


@lru_cache(maxsize=1)
def _splits():
    from tnn.data import digits_splits

    return digits_splits(np.random.default_rng(0))


def explorer_update(lr: float = 0.3, epochs: int = 20, hidden: int = 64, seed: int = 0,
                    device="cpu") -> dict:
    """Train the digits MLP on raw and on normalized pixels at one learning rate.

    Both runs start from the same weights and batch order (see
    :func:`tnn.preprocessing.train_raw_vs_normalized`); the split is the lecture's. Results
    are cached per argument set, so moving a slider back to a value already seen is instant;
    treat the returned arrays as read-only.

    Returns
    -------
    view : dict
        ``"raw"`` and ``"normalized"``: dicts of arrays of shape (epochs,) with
        ``train_loss`` and ``val_acc``; ``summary``: one line of text.
    """
    lr = check_positive(lr, "lr")
    epochs = check_positive_int(epochs, "epochs")
    return _cached_update(lr, epochs, int(hidden), int(seed), str(device))


@lru_cache(maxsize=64)
def _cached_update(lr: float, epochs: int, hidden: int, seed: int, device: str) -> dict:
    runs = P.train_raw_vs_normalized(_splits(), [lr], epochs=epochs, hidden=hidden,
                                     seed=seed, device=device)
    view = {kind: {"train_loss": np.array(runs[(kind, lr)].train_loss),
                   "val_acc": np.array(runs[(kind, lr)].val_acc)}
            for kind in ("raw", "normalized")}
    view["summary"] = (f"lr {lr:.3g}, {epochs} epochs: validation accuracy raw "
                       f"{view['raw']['val_acc'][-1]:.3f}, normalized "
                       f"{view['normalized']['val_acc'][-1]:.3f}")
    return view


def normalization_explorer():
    """The ipywidgets explorer: a learning-rate slider and an epochs slider above the curves."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    lr = widgets.FloatLogSlider(value=DEFAULTS["lr"], base=10, min=-3, max=0.5, step=0.1,
                                description="lr")
    epochs = widgets.IntSlider(value=DEFAULTS["epochs"], min=2, max=40, description="epochs")
    text = widgets.Label()
    out = widgets.Output()
    with out:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
        plt.close(fig)

    def redraw(*_):
        view = explorer_update(lr.value, epochs.value)
        for ax, key, title in zip(axes, ("train_loss", "val_acc"),
                                  ("training loss", "validation accuracy"), strict=True):
            ax.clear()
            for kind, style in (("raw", "--"), ("normalized", "-")):
                values = view[kind][key]
                ax.plot(np.arange(1, len(values) + 1), values, style, label=kind)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("epoch")
            ax.legend(fontsize=8)
        axes[0].set_yscale("log")
        axes[1].set_ylim(0, 1)
        fig.tight_layout()
        text.value = view["summary"]
        out.clear_output(wait=True)
        with out:
            display(fig)

    for control in (lr, epochs):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([lr, epochs]), text, out])
