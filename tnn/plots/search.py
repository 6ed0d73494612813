"""Figures for lecture 09: grid vs random vs quasi-random trials, the axis plots of a search
(score against each hyperparameter, with the edges the edge check watches), the best-of-N
budget, the roles of scientific and nuisance parameters, and the sources of variance.

Every function takes results computed elsewhere (:mod:`tnn.search`,
:mod:`tnn.search_experiments`) and returns a Figure; nothing here trains.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from tnn.search import bootstrap_best_of_n

_LOG_SCALES = ("log", "int_log")


def grid_vs_random_figure(space, samples: dict, importance=None):
    """One panel per sampler (``samples``: title -> trials over a 2-D ``space``, the first
    axis the important one). Ticks under each panel mark the distinct values of the important
    parameter; ``importance``, a function of it, is drawn above the panels."""
    names = space.names
    fig, axes = plt.subplots(2, len(samples), figsize=(3.6 * len(samples), 4.6),
                             gridspec_kw={"height_ratios": [1, 3]}, sharex=True)
    x_grid = np.linspace(space.axes[0].low, space.axes[0].high, 200)
    for col, (title, trials) in enumerate(samples.items()):
        top, ax = axes[0, col], axes[1, col]
        x = np.array([t[names[0]] for t in trials])
        y = np.array([t[names[1]] for t in trials])
        if importance is not None:
            top.plot(x_grid, importance(x_grid), color="0.5")
            top.plot(x, importance(x), "o", color="C3", ms=5)
        top.set_yticks([])
        top.set_title(f"{title}: {len(np.unique(x))} values of {names[0]}", fontsize=10)
        ax.plot(x, y, "o", color="C0")
        for v in np.unique(x):  # ticks along the top edge, clear of the points
            ax.axvline(v, ymin=0.96, color="C3", lw=2)
        ax.set_xlabel(names[0])
        if col == 0:
            ax.set_ylabel(names[1])
        ax.set_xlim(space.axes[0].low - 0.05, space.axes[0].high + 0.05)
        ax.set_ylim(space.axes[1].low - 0.1, space.axes[1].high + 0.1)
    fig.tight_layout()
    return fig


def axis_plots(space, trials, scores, *, title: str = "", edge_fraction: float = 0.1,
               top_fraction: float = 0.1, ylim=None):
    """Score against each numeric hyperparameter (log axes for log scales); the best
    ``top_fraction`` of the trials in red, the best one as a star, and the outer
    ``edge_fraction`` of each range shaded (where :func:`tnn.search.edge_of_space_check`
    looks)."""
    scores = np.asarray(scores, dtype=np.float64)
    axes_ = [a for a in space if a.scale != "categorical"]
    fig, axes = plt.subplots(1, len(axes_), figsize=(4.0 * len(axes_), 3.2), sharey=True,
                             squeeze=False)
    k = max(1, int(np.ceil(top_fraction * len(scores))))
    order = np.argsort(-scores, kind="stable")
    top, best = order[:k], order[0]
    for ax, axis in zip(axes[0], axes_, strict=True):
        values = np.array([t[axis.name] for t in trials], dtype=np.float64)
        ax.plot(values, scores, "o", color="0.6", ms=4, label="trials")
        ax.plot(values[top], scores[top], "o", color="C3", ms=5,
                label=f"best {top_fraction:.0%}")
        ax.plot(values[best], scores[best], "*", color="k", ms=13, label="best")
        log = axis.scale in _LOG_SCALES
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # 2e-4, 3e-4, ... would overlap
        low, high = float(axis.low), float(axis.high)
        if log:
            ratio = (high / low) ** edge_fraction
            ax.axvspan(low, low * ratio, color="C1", alpha=0.15)
            ax.axvspan(high / ratio, high, color="C1", alpha=0.15)
        else:
            span = edge_fraction * (high - low)
            ax.axvspan(low, low + span, color="C1", alpha=0.15)
            ax.axvspan(high - span, high, color="C1", alpha=0.15)
        ax.set_xlim(low, high)
        ax.set_xlabel(f"{axis.name} ({axis.scale})")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("validation accuracy")
    if ylim is not None:
        axes[0, 0].set_ylim(*ylim)
    # one legend below the panels: inside one, it would hide trials
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def best_of_n_figure(scores, budgets, rng, *, n_resamples: int = 10_000):
    """The distribution of the best validation accuracy of studies of each size in
    ``budgets`` (bootstrap from the pool ``scores``), with medians and quartiles marked."""
    scores = np.asarray(scores, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    good = scores[scores >= np.percentile(scores, 50)]
    bins = np.unique(np.concatenate([good, [scores.max() + 1e-9]]))
    for i, n in enumerate(budgets):
        best = bootstrap_best_of_n(scores, n, rng, goal="maximize", n_resamples=n_resamples)
        values, counts = np.unique(best, return_counts=True)
        ax.bar(values + (i - (len(budgets) - 1) / 2) * 0.0007, counts / n_resamples,
               width=0.0007, color=f"C{i}", label=f"best of {n}")
        q25, med, q75 = np.percentile(best, [25, 50, 75])
        y = 1.02 + 0.08 * i
        ax.plot([q25, q75], [y, y], color=f"C{i}", lw=3, transform=ax.get_xaxis_transform(),
                clip_on=False)
        ax.plot(med, y, "o", color=f"C{i}", ms=7, mec="k", transform=ax.get_xaxis_transform(),
                clip_on=False)
    ax.set_xlim(bins[0] - 0.002, bins[-1] + 0.002)
    ax.set_xlabel("best validation accuracy of the study")
    ax.set_ylabel("share of simulated studies")
    ax.legend(fontsize=9, loc="upper left")
    ax.set_title("bars above: interquartile range, dot: median", fontsize=9, pad=28)
    fig.tight_layout()
    return fig


def roles_figure(roles: dict):
    """Validation accuracy against the learning rate for each dropout arm (mean over
    seeds), with each arm's best rate (re-tuned) and the one fixed rate marked: the whole
    range on the left, the top 12 points of accuracy on the right."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharex=True)
    top = float(np.max(roles["acc"]))
    for ax, ylim in zip(axes, (None, (top - 0.12, top + 0.015)), strict=True):
        for i, p in enumerate(roles["dropout"]):
            ax.plot(roles["lrs"], roles["acc"][i], "o-", color=f"C{i}", label=f"dropout {p:g}")
            ax.plot(roles["best_lr"][i], roles["retuned"][i], "*", color=f"C{i}", ms=15,
                    mec="k")
        ax.axvline(roles["fixed_lr"], color="0.4", ls="--", lw=1)
        ax.text(roles["fixed_lr"], 0.02, " fixed lr", transform=ax.get_xaxis_transform(),
                fontsize=9, color="0.3")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (AdamW)")
        if ylim is not None:
            ax.set_ylim(*ylim)
            ax.set_title("zoomed in on the best rates", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation accuracy (mean of seeds)")
    axes[0].legend(fontsize=9, title="star: each arm's best rate", title_fontsize=8)
    fig.tight_layout()
    return fig


def variance_figure(variance: dict, selected: float | None = None):
    """One strip of scores per source of variance; ``selected`` (the score that picked the
    best trial) as a dashed line."""
    fig, ax = plt.subplots(figsize=(6.5, 3.0))
    rng = np.random.default_rng(0)  # horizontal jitter only
    for i, values in enumerate(variance.values()):
        values = np.asarray(values, dtype=np.float64)
        ax.plot(i + rng.uniform(-0.12, 0.12, len(values)), values, "o", color=f"C{i}",
                alpha=0.8)
        ax.plot([i - 0.25, i + 0.25], [values.mean()] * 2, color="k", lw=2,
                label="mean" if i == 0 else None)
    if selected is not None:
        ax.axhline(selected, color="C3", ls="--", lw=1, label="score that selected the trial")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xticks(range(len(variance)), list(variance))
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig

