"""Lecture 10's explorer: pick a learning rate and read the curves of its run, with the
diagnosis :func:`tnn.recipe.diagnose_curves` gives them (runs precomputed by
:func:`tnn.recipe_experiments.explorer_runs`)."""

from __future__ import annotations

import numpy as np

from tnn.plots.recipe import curves_panel
from tnn.recipe import diagnose_curves
from tnn.widgets import assemble, explorer_figure, show_figure


def diagnosis_update(runs: dict, index: int, epochs: int | None = None) -> dict:
    """The curves of run ``index`` cut after ``epochs`` epochs (all by default), their
    diagnosis and a one-line summary."""
    train, val = np.asarray(runs["train_acc"][index]), np.asarray(runs["val_acc"][index])
    if epochs is not None:
        train, val = train[:epochs], val[:epochs]
    label, evidence = diagnose_curves(train, val)
    lr = runs["trials"][index]["lr"]
    summary = (f"lr {lr:.1e}, {len(train)} epochs: {label} (train {evidence['train_now']:.3f},"
               f" val {evidence['val_now']:.3f} over the last {evidence['window']} epochs)")
    return {"train": train, "val": val, "label": label, "evidence": evidence,
            "summary": summary}


def diagnosis_explorer(runs: dict, index: int = 0):
    """A slider for the learning rate (one run each) and one for the epochs read so far; the
    curves and the diagnosis redraw as they move."""
    import ipywidgets as widgets

    n_epochs = np.asarray(runs["val_acc"]).shape[1]
    rate = widgets.IntSlider(value=index, min=0, max=len(runs["trials"]) - 1, step=1,
                             description="lr index")
    epochs = widgets.IntSlider(value=n_epochs, min=4, max=n_epochs, step=1,
                               description="epochs")
    text, out = widgets.Label(), widgets.Output()
    fig, ax = explorer_figure(figsize=(6.0, 3.2))

    def redraw(*_):
        view = diagnosis_update(runs, rate.value, epochs.value)
        ax.clear()
        curves_panel(ax, view["train"], view["val"],
                     f"lr {runs['trials'][rate.value]['lr']:.1e}")
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0.5, n_epochs + 0.5)
        ax.set_ylabel("accuracy")
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        text.value = view["summary"]
        show_figure(out, fig)

    return assemble([[rate, epochs]], redraw, text, out)
