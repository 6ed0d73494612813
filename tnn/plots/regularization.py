"""Figures for lecture 04: train/val curves per penalty, first-layer weights as 8x8 images,
weight histograms, early stopping, ensemble gain, batch norm's two modes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from tnn.reg_experiments import first_layer_images


def _label(key) -> str:
    kind, lam = key
    return "no penalty" if lam == 0 else f"{kind.upper()} λ={lam:g}"


def plot_curves(runs: dict):
    """Training and validation loss (left) and accuracy (right) per epoch for every run of
    :func:`tnn.regularization.penalty_sweep`."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(runs)))
    for (key, run), color in zip(runs.items(), colors, strict=True):
        epochs = np.arange(1, len(run["val_loss"]) + 1)
        style = ":" if key[0] == "l1" else "-"
        axes[0].plot(epochs, run["train_loss"], style, color=color, alpha=0.5)
        axes[0].plot(epochs, run["val_loss"], style, color=color, lw=2, label=_label(key))
        axes[1].plot(epochs, run["train_acc"], style, color=color, alpha=0.5)
        axes[1].plot(epochs, run["val_acc"], style, color=color, lw=2, label=_label(key))
    axes[0].set_yscale("log")
    axes[0].set_title("loss: training (thin) and validation (thick)", fontsize=10)
    axes[1].set_title("accuracy: training (thin) and validation (thick)", fontsize=10)
    axes[1].set_ylim(0.8, 1.005)
    for ax in axes:
        ax.set_xlabel("epoch")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def plot_first_layer(runs: dict, l1_lam: float, l2_lam: float, units: int = 16):
    """The first ``units`` first-layer weight vectors as 8x8 images: no penalty, L2, L1.

    Grey is 0; each row shares one colour scale, so the penalties' shrinking shows."""
    keys = [("l2", 0.0), ("l2", float(l2_lam)), ("l1", float(l1_lam))]
    fig, axes = plt.subplots(len(keys), units, figsize=(units * 0.62, len(keys) * 0.85))
    for row, key in enumerate(keys):
        images = first_layer_images(runs[key]["first_layer"])[:units]
        spread = np.abs(first_layer_images(runs[keys[0]]["first_layer"])[:units]).max()
        for col, ax in enumerate(axes[row]):
            ax.imshow(images[col], cmap="RdBu_r", vmin=-spread, vmax=spread)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row][0].set_ylabel(_label(key), fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle("first-layer weights of 16 hidden units (red > 0, blue < 0, white = 0)",
                 fontsize=9)
    fig.tight_layout()
    return fig


def plot_weight_histograms(runs: dict, l1_lam: float, l2_lam: float):
    """Histograms of log10 |w| of the first layer for L2 and L1 (the L1 spike near 0)."""
    fig, ax = plt.subplots(figsize=(6, 3))
    bins = np.linspace(-8, 0.5, 60)
    for key in (("l2", float(l2_lam)), ("l1", float(l1_lam))):
        w = np.abs(runs[key]["first_layer"]).ravel()
        ax.hist(np.log10(np.maximum(w, 1e-8)), bins=bins, alpha=0.6, label=_label(key))
    ax.axvline(-3, color="k", lw=0.8, ls="--")
    ax.set_xlabel("log10 |w|  (first layer; dashed: 1e-3)")
    ax.set_ylabel("weights")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_early_stopping(run: dict, patience: int, best: int | None = None,
                        stop: int | None = None):
    """Validation accuracy per epoch with the kept snapshot and the stopping epoch."""
    from tnn.regularization import early_stopping_epoch

    if best is None or stop is None:
        best, stop = early_stopping_epoch(run["val_acc"], patience)
    fig, ax = plt.subplots(figsize=(6, 3))
    epochs = np.arange(1, len(run["val_acc"]) + 1)
    ax.plot(epochs, run["val_acc"], label="validation accuracy")
    ax.axvline(best, color="g", ls="--", label=f"kept snapshot (epoch {best})")
    ax.axvline(stop, color="r", ls=":", label=f"stopped (epoch {stop}, patience {patience})")
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_ensemble(results: list[dict]):
    """Ensemble accuracy minus the mean member accuracy against the ensemble size, one line
    per data split, and their mean."""
    fig, ax = plt.subplots(figsize=(6, 3))
    gains = np.array([r["gain"] for r in results]) * 100
    n = np.arange(1, gains.shape[1] + 1)
    for g in gains:
        ax.plot(n, g, color="0.7")
    ax.plot(n, gains.mean(axis=0), "o-", color="C0", label="mean over splits")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("ensemble size N")
    ax.set_ylabel("gain over members (points)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_batchnorm_modes(result: dict):
    """Validation accuracy with eval mode versus left in train mode, per test batch size."""
    fig, ax = plt.subplots(figsize=(6, 3))
    sizes = sorted(result["train_mode_acc"])
    ax.plot(sizes, [result["train_mode_acc"][s] for s in sizes], "o-",
            label="forgot model.eval(): batch statistics")
    ax.axhline(result["eval_acc"], color="g", ls="--", label="model.eval(): running statistics")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("test batch size")
    ax.set_ylabel("validation accuracy")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
