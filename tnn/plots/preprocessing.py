"""Figures for lecture 02: data clouds before/after, image schemes, training curves, leakage."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_point_cloud_steps(X, X_centred, X_scaled):
    """Three scatter plots of 2-D data: original, zero-centred, zero-centred and scaled."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    titles = ["original data", "zero-centred: X - mean", "normalized: (X - mean) / std"]
    lim = max(np.abs(np.asarray(a)).max() for a in (X, X_centred, X_scaled)) * 1.05
    for ax, data, title in zip(axes, (X, X_centred, X_scaled), titles, strict=True):
        data = np.asarray(data)
        ax.scatter(data[:, 0], data[:, 1], s=6, alpha=0.5)
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _display(image, value_range=None, spread=None):
    """Map an image to [0, 1] for imshow.

    ``value_range=(lo, hi)`` maps that range linearly; ``spread`` shows a zero-centred image
    with 0 as mid-grey and +-``spread`` as the ends; otherwise the image's own min and max.
    """
    image = np.asarray(image, dtype=np.float64)
    if spread is not None:
        image = 0.5 + image / (2.0 * spread)
    else:
        lo, hi = value_range if value_range is not None else (image.min(), image.max())
        image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    image = np.clip(image, 0.0, 1.0)
    return image[..., 0] if image.shape[-1] == 1 else image


def plot_image_schemes(patch, mean_img, normalized: dict, *, value_range=None, spread=None):
    """One NHWC image, the training set's mean image, and the image after each scheme.

    Parameters
    ----------
    patch : ndarray of shape (H, W, C)
    mean_img : ndarray of shape (H, W, C)
    normalized : dict of title -> ndarray of shape (H, W, C)
    value_range : (lo, hi), optional
        The pixel range of ``patch`` and ``mean_img`` (e.g. (0, 255)); default min to max.
    spread : dict of title -> float, optional
        Display scale of each normalized image: 0 is drawn mid-grey, +-spread at the ends,
        so that every scheme is shown on a fixed scale. Default: each image's min to max.
    """
    n = 2 + len(normalized)
    fig, axes = plt.subplots(1, n, figsize=(2.4 * n, 2.8))
    cmap = "gray" if np.shape(patch)[-1] == 1 else None
    items = [("an image", patch, {"value_range": value_range}),
             ("training mean image", mean_img, {"value_range": value_range})]
    items += [(title, image, {"spread": (spread or {}).get(title)})
              for title, image in normalized.items()]
    for ax, (title, image, how) in zip(axes, items, strict=True):
        ax.imshow(_display(image, **how), cmap=cmap, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_channel_histograms(before, after, layout: str = "NHWC", names=("R", "G", "B")):
    """Per-channel value histograms of a batch before and after normalization."""
    axis = 3 if layout == "NHWC" else 1
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    for ax, data, title in zip(axes, (before, after), ("before", "after (per-channel mean/std)"),
                               strict=True):
        data = np.asarray(data, dtype=np.float64)
        for c in range(data.shape[axis]):
            values = np.take(data, c, axis=axis).ravel()
            ax.hist(values, bins=50, histtype="step", lw=1.5,
                    label=names[c] if c < len(names) else f"channel {c}")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_training_curves(histories: dict, title: str = "digits MLP: raw vs normalized inputs"):
    """Training loss (left, log scale) and validation accuracy (right) per epoch.

    ``histories`` maps a label to a :class:`tnn.nets.History`.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, h in histories.items():
        epochs = np.arange(1, len(h.train_loss) + 1)
        style = "--" if "raw" in label else "-"
        axes[0].plot(epochs, h.train_loss, style, label=label)
        axes[1].plot(epochs, h.val_acc, style, label=label)
    axes[0].set_yscale("log")
    axes[0].set_title("training loss")
    axes[1].set_title("validation accuracy")
    axes[1].set_ylim(0, 1)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _mean_ci(values):
    """Mean and half-width of a 95% normal interval of the mean."""
    values = np.asarray(values, dtype=np.float64)
    return values.mean(), 1.96 * values.std(ddof=1) / np.sqrt(values.size)


PIPELINES = {"raw": "tab:gray", "honest": "tab:blue", "leaky": "tab:red"}


def plot_leakage(results: dict):
    """Left: test accuracy of each pipeline per training size. Right: its optimism, validation
    minus test accuracy, with 95% intervals (0 = the validation score is honest).

    ``results`` maps ``n_train`` to the dict returned by
    :func:`tnn.preprocessing.leakage_experiment`.
    """
    sizes = sorted(results)
    x = np.arange(len(sizes))
    width = 0.8 / len(PIPELINES)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, (pipeline, color) in enumerate(PIPELINES.items()):
        test = [_mean_ci(100 * results[n][f"{pipeline}_test"]) for n in sizes]
        gap = [_mean_ci(100 * (results[n][f"{pipeline}_val"] - results[n][f"{pipeline}_test"]))
               for n in sizes]
        for ax, stats in ((axes[0], test), (axes[1], gap)):
            ax.bar(x + (i - 1) * width, [m for m, _ in stats], width, color=color, alpha=0.8,
                   yerr=[h for _, h in stats], capsize=3, label=pipeline)
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].set_title("scored on the untouched test split", fontsize=10)
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_ylabel("validation - test (points)")
    axes[1].set_title("optimism of the validation score", fontsize=10)
    for ax in axes:
        ax.set_xticks(x, [str(n) for n in sizes])
        ax.set_xlabel("training examples")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_selection_leakage(result: dict, chance: float = 0.5):
    """Histograms of cross-validated accuracy with feature selection before (leaky) and inside
    (honest) the folds; ``result`` from :func:`tnn.preprocessing.selection_leakage_experiment`.
    """
    fig, ax = plt.subplots(figsize=(6, 3.4))
    bins = np.linspace(0, 1, 41)
    for protocol, color in (("honest", "tab:blue"), ("leaky", "tab:red")):
        ax.hist(result[protocol], bins=bins, color=color, alpha=0.7,
                label=f"{protocol}: mean {np.mean(result[protocol]):.2f}")
    ax.axvline(chance, color="k", lw=1, ls="--", label=f"chance ({chance:g})")
    ax.set_xlabel("cross-validated accuracy on pure-noise labels")
    ax.set_ylabel("data sets")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
