"""Figures for lecture 05: the Monte-Carlo check, the keep-probability sweep, dropout vs L2,
MC dropout's predictive spread."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_monte_carlo(running: dict):
    """Relative error of the mean over the first k masks, one line per label, log-log, with
    the 1/sqrt(k) slope for reference."""
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    for label, errors in running.items():
        k = np.arange(1, len(errors) + 1)
        ax.loglog(k, errors, label=label)
    k = np.arange(1, max(len(e) for e in running.values()) + 1)
    first = next(iter(running.values()))[0]
    ax.loglog(k, first / np.sqrt(k), "k:", lw=1, label=r"$\propto 1/\sqrt{k}$")
    ax.set(xlabel="number of masks k", ylabel="relative error vs test time",
           title="mean over masks -> test-time output")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_sweep(sweep: dict):
    """Left: train and val accuracy per epoch for each keep probability; right: final
    train/val gap and val accuracy (mean and per-seed points)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for keep_prob, s in sorted(sweep.items(), reverse=True):
        line, = axes[0].plot(s["val_curve"], label=f"keep {keep_prob:g} val")
        axes[0].plot(s["train_curve"], "--", color=line.get_color(), lw=0.8)
    axes[0].set(xlabel="epoch", ylabel="accuracy (dashed: train)", ylim=(0.8, 1.005),
                title="train (dashed) and validation accuracy")
    axes[0].legend(fontsize=7)
    keeps = sorted(sweep, reverse=True)
    x = np.arange(len(keeps))
    for offset, key, label in ((-0.15, "gap", "train - val accuracy"),
                               (0.15, "loss_gap", "val - train loss")):
        means = [np.mean(sweep[k][key]) for k in keeps]
        axes[1].bar(x + offset, means, width=0.3, label=label)
        for i, k in enumerate(keeps):
            axes[1].plot(np.full(len(sweep[k][key]), i + offset), sweep[k][key], "k.", ms=3)
    axes[1].set_xticks(x, [f"{k:g}" for k in keeps])
    axes[1].set(xlabel="keep_prob", title="generalization gap (bars: mean over seeds)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_mc_spread(clean_std, corrupt_std, bins: int = 30):
    """Histograms of the predictive std of the predicted class, clean vs corrupted digits."""
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    hi = float(max(np.max(clean_std), np.max(corrupt_std)))
    ax.hist(clean_std, bins=bins, range=(0, hi), alpha=0.6, label="clean validation digits")
    ax.hist(corrupt_std, bins=bins, range=(0, hi), alpha=0.6, label="corrupted digits")
    ax.set(xlabel="std over MC-dropout passes of p(predicted class)", ylabel="digits",
           title="MC dropout: predictive spread")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
