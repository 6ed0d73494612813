"""Lecture 05's explorer: keep probability -> train/val accuracy curves of the digits MLP.

Training is done once, up front (:func:`tnn.dropout.keep_prob_sweep` over a grid of keep
probabilities); :func:`explorer_update` only picks the precomputed curves for the chosen
setting and summarizes them, so an update costs microseconds and the redraw (two lines moved
in place on one axes) dominates what the student waits for.
"""

from __future__ import annotations

import numpy as np

from tnn.dropout import check_keep_prob
from tnn.widgets import assemble, explorer_figure, show_figure


def explorer_update(sweep: dict, keep_prob: float) -> dict:
    """The curves the explorer draws for ``keep_prob`` (the nearest precomputed setting).

    Parameters
    ----------
    sweep : dict keep_prob -> summary, as returned by :func:`tnn.dropout.keep_prob_sweep`
    keep_prob : float in (0, 1]

    Returns
    -------
    view : dict
        ``keep_prob`` (the setting shown), ``epochs`` (E,), ``train`` and ``val`` (E,)
        accuracy per epoch, ``gap`` and ``val_acc`` (final, mean over seeds), ``summary``.
    """
    keep_prob = check_keep_prob(keep_prob)
    if not sweep:
        raise ValueError("sweep holds no setting; run tnn.dropout.keep_prob_sweep first.")
    shown = min(sweep, key=lambda k: abs(k - keep_prob))
    s = sweep[shown]
    train, val = np.asarray(s["train_curve"]), np.asarray(s["val_curve"])
    gap, val_acc = float(np.mean(s["gap"])), float(np.mean(s["val_acc"]))
    summary = (f"keep_prob {shown:g} (nn.Dropout(p={1 - shown:g})): final train accuracy "
               f"{np.mean(s['train_acc']):.3f}, val accuracy {val_acc:.3f}, gap {gap:.3f}, "
               f"val loss - train loss {np.mean(s['loss_gap']):.3f}")
    return {"keep_prob": shown, "epochs": np.arange(1, len(val) + 1), "train": train,
            "val": val, "gap": gap, "val_acc": val_acc, "summary": summary}


def keep_prob_explorer(sweep: dict):
    """The ipywidgets explorer: a slider over the precomputed keep probabilities above one
    axes whose two lines are updated in place."""
    import ipywidgets as widgets

    options = sorted(sweep)
    slider = widgets.FloatSlider(value=options[-1], min=options[0], max=options[-1], step=0.05,
                                 description="keep_prob")
    text, out = widgets.Label(), widgets.Output()
    fig, ax = explorer_figure(figsize=(6, 3.2))
    view = explorer_update(sweep, options[-1])
    train_line, = ax.plot(view["epochs"], view["train"], label="train accuracy")
    val_line, = ax.plot(view["epochs"], view["val"], label="validation accuracy")
    lo = min(float(np.min(s["val_curve"][len(s["val_curve"]) // 10:])) for s in sweep.values())
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(max(lo - 0.02, 0), 1.005))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()

    def redraw(*_):
        v = explorer_update(sweep, slider.value)
        train_line.set_ydata(v["train"])
        val_line.set_ydata(v["val"])
        ax.set_title(f"keep_prob = {v['keep_prob']:g}: gap {v['gap']:.3f}", fontsize=10)
        text.value = v["summary"]
        show_figure(out, fig)

    return assemble([[slider]], redraw, text, out)
