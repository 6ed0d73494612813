"""Figures for lecture 06: grids of augmented images, which mirrorings keep a digit's label,
PCA lighting's colour directions, the measured effect of augmentation, and the localisation
task whose labels were not flipped."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def show_image(ax, image, caption: str = "", *, fontsize: float = 7):
    """One image (H, W, C) with C = 1 (gray, white ink on black) or 3 (RGB), values clipped
    to [0, 1], without ticks, ``caption`` written under it; returns the AxesImage (its
    ``set_data`` redraws in place)."""
    image = np.clip(np.asarray(image, dtype=float), 0, 1)
    gray = image.ndim == 2 or image.shape[-1] == 1
    shown = ax.imshow(image.reshape(image.shape[:2]) if gray else image,
                      cmap="gray" if gray else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if caption:
        ax.set_xlabel(caption, fontsize=fontsize, labelpad=2)
    return shown


def image_grid(rows: dict, captions: dict | None = None, *, size: float = 1.15,
               fontsize: float = 7):
    """A row of images per entry of ``rows`` (label -> batch (N, H, W, C)); the label is
    written left of its row, ``captions[label][i]`` (the drawn parameters) under image i."""
    captions = captions or {}
    ncols = max(len(batch) for batch in rows.values())
    first = next(iter(rows.values()))
    aspect = first.shape[2] / first.shape[1]
    fig, axes = plt.subplots(len(rows), ncols, squeeze=False,
                             figsize=(1.4 + size * aspect * ncols, 0.35 + size * len(rows)))
    for r, (label, batch) in enumerate(rows.items()):
        for c in range(ncols):
            ax = axes[r, c]
            if c >= len(batch):
                ax.axis("off")
                continue
            caption = captions.get(label, [""] * len(batch))[c]
            show_image(ax, batch[c], caption, fontsize=fontsize)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout(pad=0.3)
    return fig


def most_common_other(confusion):
    """Per row (true class c) of a (10, 10) confusion matrix of shares: the class other than c
    that most of them became, and its share; returns ``(classes (10,), shares (10,))``."""
    others = np.asarray(confusion, dtype=float).copy()
    np.fill_diagonal(others, -1.0)
    became = others.argmax(1)
    return became, others[np.arange(len(others)), became]


def mirror_figure(study: dict):
    """Per class, the share of validation digits still classified as their own class after a
    horizontal flip, a vertical flip and a 180-degree rotation (``flip_label_study``'s
    output). Over every bar below one half: the most common *other* class they became."""
    names = [n for n in study["per_class"] if n != "as is"]
    fig, ax = plt.subplots(figsize=(9, 3.4))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        x = np.arange(10) + (i - (len(names) - 1) / 2) * width
        share = study["per_class"][name]
        ax.bar(x, share, width=width, label=name)
        became, _ = most_common_other(study["confusion"][name])
        for c in range(10):
            if share[c] < 0.5:
                ax.text(x[c], share[c] + 0.02, f"{became[c]}", ha="center", fontsize=9)
    ax.plot(np.arange(10), study["per_class"]["as is"], "k_", ms=14, mew=2,
            label="as is (upright)")
    ax.set_xticks(np.arange(10))
    ax.set(xlabel="digit class (number over a bar below 0.5: the other class most of them "
                  "became)", ylabel="share still called its class", ylim=(0, 1.12),
           title="a classifier trained on upright digits meets mirrored ones")
    ax.legend(fontsize=7, ncol=4, loc="upper center")
    fig.tight_layout()
    return fig


def positive_eigenvectors(eigvecs):
    """The eigenvectors (columns) with their arbitrary sign chosen so that each one's largest
    component (in absolute value) is positive: the brightness direction reads (+, +, +)."""
    eigvecs = np.asarray(eigvecs)
    largest = eigvecs[np.abs(eigvecs).argmax(0), np.arange(eigvecs.shape[1])]
    return eigvecs * np.where(largest < 0, -1.0, 1.0)


def pca_figure(eigvals, eigvecs, pixels=None):
    """Left: the three eigenvalues of the RGB pixel covariance, each bar filled with the colour
    of its eigenvector's direction (mid-gray plus the direction) and labelled with it; right
    (with ``pixels`` (M, 3)): the pixels projected on the first two eigenvectors. Each
    eigenvector's sign is chosen so that its largest component is positive."""
    eigvals, eigvecs = np.asarray(eigvals), positive_eigenvectors(eigvecs)
    fig, axes = plt.subplots(1, 2 if pixels is not None else 1, figsize=(8.5, 3.2),
                             squeeze=False)
    ax = axes[0, 0]
    for k in range(3):
        v = eigvecs[:, k]
        ax.bar(k, eigvals[k], color=np.clip(0.5 + 0.45 * v / np.abs(v).max(), 0, 1),
               edgecolor="k")
        ax.text(k, eigvals[k], "(" + ", ".join(f"{c:+.2f}" for c in v) + ")", ha="center",
                va="bottom", fontsize=7)
    ax.set_xticks(range(3), ["1st", "2nd", "3rd"])
    ax.set(ylabel="eigenvalue (variance)", yscale="log",
           title="eigenvalues; bar colour and label:\nthe eigenvector (R, G, B)")
    ax.title.set_fontsize(9)
    ax.set_ylim(eigvals.min() / 2, eigvals.max() * 3)
    if pixels is not None:
        centred = np.asarray(pixels) - np.mean(pixels, 0)
        proj = centred @ eigvecs[:, :2]
        axes[0, 1].scatter(proj[:, 0], proj[:, 1], s=2, c=np.clip(pixels, 0, 1))
        axes[0, 1].set(xlabel="along the 1st eigenvector (darker → brighter)",
                       ylabel="along the 2nd", aspect="equal")
        axes[0, 1].set_title("pixels in the eigenvector basis", fontsize=9)
    fig.tight_layout()
    return fig


def study_figure(study: dict, kinds=("clean", "rotated", "shifted")):
    """One panel per validation variant: final accuracy per augmentation, a thin line per
    split seed (the same seed joined across augmentations) and the mean as a short red line. No bars:
    the y-axis shows only the range of the values, and a bar on it would not start at 0."""
    names = list(study)
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.4 * len(kinds), 3.2), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        values = np.array([study[n][kind] for n in names])  # (A, S)
        ax.plot(np.arange(len(names)), values, "k.-", lw=0.6, ms=4, alpha=0.6)
        ax.plot(np.arange(len(names)), values.mean(1), "_", color="C3", ms=22, mew=2.5,
                label="mean over seeds")
        ax.set_xticks(np.arange(len(names)), names, rotation=30, fontsize=8)
        ax.set_xlim(-0.5, len(names) - 0.5)
        lo, hi = values.min(), values.max()
        ax.set(ylim=(max(0, lo - 0.03), min(1.0, hi + 0.03)), title=f"{kind} validation digits")
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("accuracy (black lines: split seeds)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def localisation_figure(study: dict):
    """The localisation task (``localisation_study``'s output). Left: the training loss per
    epoch (mean over seeds) of each pipeline; middle: final x and y errors on validation,
    per seed; right: predicted vs true x of the marker on the first seed (each pipeline's
    points moved sideways a little so that they do not hide each other)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    n = len(study)
    for i, (name, s) in enumerate(study.items()):
        axes[0].semilogy(s["train_loss"].mean(0), label=name, color=f"C{i}")
        for j, key in enumerate(("x_err", "y_err")):
            pos = j * (n + 1) + i
            axes[1].bar(pos, s[key].mean(), color=f"C{i}", alpha=0.4,
                        label=name if j == 0 else None)
            axes[1].plot(np.full(len(s[key]), pos), s[key], "k.", ms=4)
        offset = 0.12 * (i - (n - 1) / 2)
        axes[2].plot(s["x_true"] + offset, s["x_pred"], ".", ms=2, color=f"C{i}", alpha=0.5)
        axes[2].plot([], [], ".", ms=6, color=f"C{i}", label=name)
    axes[0].set(xlabel="epoch", ylabel="training loss (MSE, pixels²)",
                title="the training loss falls in every pipeline")
    axes[0].legend(fontsize=7)
    axes[1].set_xticks([(n - 1) / 2, n + 1 + (n - 1) / 2], ["x error", "y error"])
    axes[1].set(ylabel="mean |error| on validation (pixels)",
                title="validation error (dots: seeds)")
    axes[1].legend(fontsize=7, loc="upper right")
    axes[2].plot([0, 7], [0, 7], "k:", lw=1)
    axes[2].set(xlabel="true x of the marker (pipelines moved apart by 0.12)",
                ylabel="predicted x", title="first seed, validation images")
    axes[2].legend(fontsize=7, loc="upper left", markerscale=1)
    fig.tight_layout()
    return fig
