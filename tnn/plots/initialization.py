"""Figures for lecture 03: per-layer histograms per scheme, gradient and std profiles,
the symmetry of constant initialization, LSUV."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from tnn.plots.activations import draw_layer_histograms


def _row_histograms(stats: dict, bins: int):
    """Histograms of one scheme's layers on a range shared by the whole row, so that a
    collapse shows as the distribution narrowing (the library's own ``hist`` uses each
    layer's range)."""
    acts = [np.asarray(h.detach().cpu() if hasattr(h, "detach") else h) for h in stats["activations"]]
    activation = stats["scheme"].activation if "scheme" in stats else ""
    if activation == "tanh":
        lo, hi = -1.0, 1.0
    else:
        lo = min(float(a.min()) for a in acts)
        hi = max(float(a.max()) for a in acts)
        hi = hi if hi > lo else lo + 1.0
    hists = [np.histogram(a, bins=bins, range=(lo, hi)) for a in acts]
    return hists, [float(np.mean(a == 0)) for a in acts]


def plot_experiment(results: dict, width: float = 1.7, bins: int = 50):
    """One row of per-layer histograms per scheme, each titled with its mean and std.

    ``results`` is :func:`tnn.initialization.init_experiment`'s dict (label -> stats). Each
    row shares its x range. For ReLU the spike of exact zeros (about half the units) is cut
    off at the top so that the positive part stays visible; its share is printed in the panel.
    """
    depth = max(len(s["mean"]) for s in results.values())
    fig, axes = plt.subplots(len(results), depth, figsize=(width * depth, 1.9 * len(results)),
                             squeeze=False)
    for row, (label, stats) in zip(axes, results.items(), strict=True):
        hists, zeros = _row_histograms(stats, bins)
        draw_layer_histograms(row, hists, title_fmt="Layer {i}", extra=[
            f"mean={m:.2f} std={s:.2f}" for m, s in zip(stats["mean"], stats["std"], strict=True)])
        if label.startswith("relu"):
            for ax, (counts, _), zero in zip(row, hists, zeros, strict=False):
                rest = counts[1:].max() if len(counts) > 1 else counts.max()
                if counts[0] > 3 * rest > 0:
                    ax.set_ylim(0, 2.5 * rest)
                    ax.text(0.97, 0.9, f"zeros: {100 * zero:.0f}%",
                            transform=ax.transAxes, ha="right", fontsize=7)
        row[0].set_ylabel(label, fontsize=9)
    fig.tight_layout()
    return fig


def plot_layer_profiles(results: dict):
    """Activation std per layer and, when the backward pass ran, the std of ``dL/dh`` at each
    layer's input and the std of the weight gradient ``dL/dW`` per layer (three panels)."""
    has_grad = all("grad_std" in s for s in results.values())
    has_wgrad = has_grad and all("weight_grad_std" in s for s in results.values())
    panels = 1 + has_grad + has_wgrad
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.4), squeeze=False)
    for label, stats in results.items():
        layers = np.arange(1, len(stats["std"]) + 1)
        axes[0, 0].plot(layers, stats["std"], "o-", label=label)
        if has_grad:
            axes[0, 1].plot(np.arange(len(stats["grad_std"])), stats["grad_std"], "o-",
                            label=label)
        if has_wgrad:
            axes[0, 2].plot(layers, stats["weight_grad_std"], "o-", label=label)
    axes[0, 0].set(xlabel="layer", ylabel="std of activations", yscale="log",
                   title="forward: activation std")
    axes[0, 0].legend(fontsize=7)
    if has_grad:
        axes[0, 1].set(xlabel="layer input (0 = network input)", ylabel="std of dL/dh",
                       yscale="log", title="backward: gradient std")
    if has_wgrad:
        axes[0, 2].set(xlabel="layer", ylabel="std of dL/dW", yscale="log",
                       title="backward: weight-gradient std")
    fig.tight_layout()
    return fig


def plot_symmetry(runs: dict):
    """Spread between hidden units (left) and the loss (right) over gradient steps."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for label, run in runs.items():
        axes[0].plot(run["spread"], label=label)
        axes[1].plot(run["loss"], label=label)
    axes[0].set(xlabel="step", ylabel="max |W1[:, j] - W1[:, 0]|",
                title="do the hidden units differ?")
    axes[1].set(xlabel="step", ylabel="loss", title="training loss")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_lsuv(before: dict, after: dict):
    """Pre-activation std per layer before and after LSUV, one line per start."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for label, stats in before.items():
        layers = np.arange(1, len(stats["pre_std"]) + 1)
        line, = ax.plot(layers, stats["pre_std"], "o--", label=f"{label}: before")
        ax.plot(layers, after[label]["pre_std"], "o-", color=line.get_color(),
                label=f"{label}: after LSUV")
    ax.axhline(1.0, color="0.6", lw=0.8)
    ax.set(xlabel="layer", ylabel="std of z = h W", yscale="log",
           title="LSUV restores unit variance layer by layer")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
