"""Figures for lecture 01: activation gallery, per-layer histograms, the zig-zag path."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from tnn import activations as A

GALLERY = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu"]


def plot_activation_gallery(names=GALLERY, x=None):
    """One panel per activation: ``f(x)`` (solid) and ``f'(x)`` (dashed)."""
    x = np.linspace(-5, 5, 501) if x is None else x
    cols = 4
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), sharex=True)
    for ax, name in zip(axes.ravel(), names, strict=False):
        f, df, _ = A.ELEMENTWISE[name]
        ax.plot(x, f(x), label="f(x)")
        ax.plot(x, df(x), "--", label="f'(x)")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_title(name)
        ax.set_ylim(-2, 3)
    for ax in axes.ravel()[len(names):]:
        ax.remove()
    axes.ravel()[0].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def plot_maxout(x, y1, y2):
    """Maxout of two 1-D affine pieces: the pieces (thin) and their maximum (thick)."""
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(x, y1, lw=1, label="w1 x + b1")
    ax.plot(x, y2, lw=1, label="w2 x + b2")
    ax.plot(x, np.maximum(y1, y2), lw=3, alpha=0.6, label="maxout")
    ax.legend(fontsize=8)
    ax.set_title("Maxout: the max of two lines")
    return fig


def draw_layer_histograms(axes_row, values, *, bins=40, value_range=None, title_fmt="layer {i}",
                          extra=None):
    """Histogram of each layer's values on one row of axes (cleared first).

    ``values`` is a list of arrays (one per layer) or of ``(counts, edges)`` pairs;
    ``extra`` an optional list of strings appended to each title.
    """
    for i, ax in enumerate(axes_row):
        ax.clear()
        if i >= len(values):
            ax.set_visible(False)
            continue
        ax.set_visible(True)
        item = values[i]
        if isinstance(item, tuple):
            counts, edges = item
        else:
            arr = np.asarray(item).ravel()
            counts, edges = np.histogram(arr, bins=bins, range=value_range)
        ax.stairs(counts, edges, fill=True, alpha=0.8)
        title = title_fmt.format(i=i + 1)
        if extra is not None:
            title += "\n" + extra[i]
        ax.set_title(title, fontsize=8)
        ax.set_yticks([])
        ax.tick_params(labelsize=7)


def plot_layer_histograms(stats: dict, activation: str, bins: int = 40):
    """Two rows: each layer's activations (with mean/std, saturated and dead %) and the
    gradient reaching each layer's input (with its std)."""
    depth = len(stats["activations"])
    fig, axes = plt.subplots(2, depth, figsize=(1.9 * depth, 4.2))
    axes = np.atleast_2d(axes)
    act_range = (-1, 1) if activation in ("tanh",) else None
    draw_layer_histograms(
        axes[0], stats["activations"], bins=bins, value_range=act_range,
        extra=[f"m={m:.2f} s={s:.2f}\nsat {100 * sat:.0f}% dead {100 * d:.0f}%"
               for m, s, sat, d in zip(stats["act_mean"], stats["act_std"], stats["saturated"],
                                       stats["dead"], strict=True)])
    draw_layer_histograms(axes[1], [np.asarray(g) for g in stats["input_grads"]], bins=bins,
                          title_fmt="dL/d input {i}",
                          extra=[f"std {g:.1e}" for g in stats["grad_std"]])
    fig.suptitle(f"{activation}: activations (top) and gradients (bottom), layer by layer",
                 fontsize=10)
    fig.tight_layout()
    return fig


def plot_zigzag(paths: dict, w_target, title: str = "SGD on one linear unit"):
    """Weight trajectories of SGD on one linear unit, one per input distribution (e.g.
    all-positive vs zero-centred), with the start and the target.

    Parameters
    ----------
    paths : dict mapping a label to an ndarray of shape (S + 1, 2)
    w_target : ndarray of shape (2,)
    title : str
    """
    fig, ax = plt.subplots(figsize=(5, 4.5))
    w_target = np.asarray(w_target)
    for label, path in paths.items():
        ax.plot(path[:, 0], path[:, 1], ".-", lw=1, ms=3, label=label)
    ax.plot(*w_target, "k*", ms=12, label="target w*")
    ax.plot(*next(iter(paths.values()))[0], "ko", ms=5, label="start")
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    ax.legend(fontsize=8)
    ax.set_title(title)
    ax.set_aspect("equal")
    return fig
