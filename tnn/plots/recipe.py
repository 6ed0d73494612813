"""Figures for lecture 10: the learning-rate range test, the coarse and fine searches, the
curves and their diagnosis, the prior-bias "hockey stick", the dependency check's gradients,
a batch as the model sees it and the first layer's weights as images.

Every function takes results computed elsewhere (:mod:`tnn.recipe`,
:mod:`tnn.recipe_experiments`) and returns a Figure; nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from tnn.recipe import diagnose_curves
from tnn.recipe_experiments import first_layer_images


def range_test_figure(range_test: dict, significant: float = 0.5):
    """The loss of every update for each rate of :func:`tnn.recipe.lr_range_test`, with the
    line a rate must end below (``significant`` times its first loss)."""
    fig, ax = plt.subplots(figsize=(8.6, 3.4))
    for k, (lr, losses) in enumerate(zip(range_test["lrs"], range_test["losses"],
                                         strict=True)):
        ok = range_test["significant"][k]
        ax.plot(np.arange(1, len(losses) + 1), losses, color=f"C{k}",
                label=f"lr {lr:g}: {range_test['ratio'][k]:.0%} of the start"
                      + (" (drops)" if ok else ""))
    first = float(np.median(range_test["first"]))
    ax.axhline(significant * first, color="0.4", ls="--", lw=1,
               label=f"{significant:.0%} of the first loss")
    ax.set_xlabel("update")
    ax.set_ylabel("training loss (mini-batch)")
    ax.set_title("step 3: which rates drop the loss within 100 updates?", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves
    fig.tight_layout()
    return fig


def search_figure(coarse: dict, fine: dict, coarse_space, fine_space):
    """Steps 4 and 5: final validation accuracy against the learning rate, the coarse
    trials (few epochs) and the fine ones (more epochs, a narrower space, shaded)."""
    fig, ax = plt.subplots(figsize=(8.6, 3.4))
    for result, label, marker, color in ((coarse, "coarse", "o", "C0"),
                                         (fine, "fine", "*", "C3")):
        lr = np.array([t["lr"] for t in result["trials"]])
        ax.scatter(lr, result["val_acc"][:, -1], marker=marker, color=color,
                   s=28 if marker == "o" else 60,
                   label=f"{label}: {len(lr)} trials x {result['val_acc'].shape[1]} epochs")
    lo, hi = fine_space.axes[0].low, fine_space.axes[0].high
    ax.axvspan(lo, hi, color="C3", alpha=0.08, label="fine search's lr range")
    ax.set_xscale("log")
    ax.set_xlim(coarse_space.axes[0].low / 1.3, coarse_space.axes[0].high * 1.3)
    ax.set_ylim(max(0.5, float(np.min(coarse["val_acc"][:, -1])) - 0.02), 1.0)
    ax.set_xlabel("learning rate (AdamW)")
    ax.set_ylabel("final validation accuracy")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the trials
    fig.tight_layout()
    return fig


def curves_panel(ax, train, val, title: str = ""):
    """Training and validation accuracy per epoch on ``ax``, titled with the diagnosis."""
    label, evidence = diagnose_curves(train, val)
    epochs = np.arange(1, len(train) + 1)
    ax.plot(epochs, train, color="C0", label="train")
    ax.plot(epochs, val, color="C1", label="validation")
    w = evidence["window"]
    ax.axvspan(len(train) - w + 0.5, len(train) + 0.5, color="0.85", zorder=0)
    ax.set_title((title + "\n" if title else "") + label, fontsize=9)
    ax.set_xlabel("epoch")
    return label


def diagnosis_figure(runs: dict):
    """One panel per run (``{title: (train_acc, val_acc)}``), each titled with what
    :func:`tnn.recipe.diagnose_curves` reads from it; the shaded epochs are the window it
    averages."""
    fig, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs), 3.2), sharey=True,
                             squeeze=False)
    for ax, (title, (train, val)) in zip(axes[0], runs.items(), strict=True):
        curves_panel(ax, train, val, title)
    axes[0, 0].set_ylabel("accuracy")
    axes[0, 0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def hockey_stick_figure(study: dict):
    """The loss of :func:`tnn.recipe_experiments.prior_bias_study` from bias 0 and from the
    prior's bias, with the prior's entropy (what a model that knows only the class shares
    scores)."""
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    for name, curve in study["curves"].items():
        ax.plot(np.arange(len(curve)), curve, label=name)
    ax.axhline(study["entropy"], color="0.4", ls="--", lw=1,
               label=f"entropy of the prior p = {study['p']:.3f}: {study['entropy']:.3f}")
    ax.set_xlabel("update")
    ax.set_ylabel("binary cross-entropy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def dependency_figure(checks: dict, index: int):
    """Per-example input-gradient magnitude of example ``index``'s outputs, one panel per
    model (``{name: Check}`` from :func:`tnn.recipe.check_batch_independence`)."""
    fig, axes = plt.subplots(1, len(checks), figsize=(4.2 * len(checks), 2.8), sharey=False,
                             squeeze=False)
    for ax, (name, check) in zip(axes[0], checks.items(), strict=True):
        g = check.measured["gradient_per_example"]
        colors = ["C3" if j == index else ("C1" if g[j] > 0 else "C0") for j in range(len(g))]
        ax.bar(np.arange(len(g)), g, color=colors)
        # mark example `index` even where its own bar is 0 (it then takes no part)
        ax.axvline(index, color="C3", lw=1, ls=":", zorder=0)
        ax.set_title(f"{name}: {'passes' if check else 'FAILS'}", fontsize=10)
        ax.set_xlabel(f"example in the batch (red: {index}, dotted line)")
    axes[0, 0].set_ylabel("|d (outputs of example) / d input|")
    fig.tight_layout()
    return fig


def batch_figure(X, y, n: int = 16, title: str = "the batch as the model receives it"):
    """The first ``n`` rows of ``X`` (flat 8x8 digits) as images, titled with their labels and
    the value range the model receives."""
    X, y = np.asarray(X)[:n], np.asarray(y)[:n]
    cols = min(n, 8)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.3 * rows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(X):
            ax.imshow(X[k].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(f"label {y[k]}", fontsize=8)
    fig.suptitle(f"{title} (values {X.min():.2f} ... {X.max():.2f})", fontsize=10)
    fig.tight_layout()
    return fig


def first_layer_figure(W1, n: int = 32, *, marked=None,
                       title: str = "first-layer weights, one hidden unit per image"):
    """The first ``n`` hidden units' incoming weights ``W1[:, j]`` as 8x8 images, each on its
    own symmetric color scale (red positive, blue negative); units where ``marked`` (a bool
    per unit, e.g. dead units) is true are titled "dead"."""
    images = first_layer_images(W1)[:n]
    cols = 8
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.0 * cols, 1.1 * rows + 0.3), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k], cmap="RdBu_r", vmin=-1, vmax=1)
            if marked is not None and marked[k]:
                ax.set_title("dead", fontsize=8, color="C3", pad=2)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
