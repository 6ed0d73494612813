"""Figures for lecture 08: learning-rate schedules with and without warmup, the learning-rate
sweep of the unstable deep MLP, the early-instability check at twice the best rate, the
global gradient norm with its clipping threshold, and the two fixes (warmup and clipping).

Every function takes results computed elsewhere (:mod:`tnn.schedules`,
:mod:`tnn.instability`) and returns a Figure; nothing here trains or evaluates.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _steps(values) -> np.ndarray:
    return np.arange(len(values))


def _last_finite(values) -> int | None:
    """Index of the last finite entry of ``values`` (None if there is none)."""
    idx = np.flatnonzero(np.isfinite(values))
    return int(idx[-1]) if idx.size else None


def _mark_divergence(ax, values, color, marker="x", cap=np.inf, shift=0):
    """An ``x`` where a curve that ends in NaN/inf was last finite (drawn at ``cap`` if it
    was above it; ``shift`` is added to the step, for axes that show step + 1)."""
    values = np.asarray(values, dtype=np.float64)
    if np.all(np.isfinite(values)):
        return
    last = _last_finite(values)
    if last is not None:
        ax.plot(last + shift, min(values[last], cap), marker, color=color, ms=7, mew=1.5,
                clip_on=False)


def _loss_cap(losses, factor: float = 30.0) -> float:
    """Top of a loss axis: ``factor`` times the largest finite first loss, so that curves
    running off to 1e20 before a NaN do not squash the others."""
    firsts = [float(v[0]) for v in losses if len(v) and np.isfinite(v[0])]
    return factor * max(firsts) if firsts else np.inf


def plot_schedules(panels: dict, warmup_steps: int = 0):
    """One panel per entry of ``panels``: each maps a title to ``{label: lr values}`` (arrays
    of shape (n_steps,), ``lr[t]`` is the rate of update ``t``). A dotted line marks the end
    of a warmup of ``warmup_steps`` updates in the panels whose title says "warmup"."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.4), squeeze=False)
    for ax, (title, curves) in zip(axes[0], panels.items(), strict=True):
        for label, values in curves.items():
            ax.plot(_steps(values), values, lw=1.4, label=label)
        if warmup_steps and "warmup" in title:
            ax.axvline(warmup_steps, color="0.5", ls=":", lw=1)
        ax.set(xlabel="step t (update index)", ylabel="learning rate", title=title)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_lr_sweep(runs: dict, lr_star: float, trained_loss: float | None = None):
    """Left: the training (mini-batch) loss per step of every run of a sweep, one colour per
    learning rate, one thin line per seed, an ``x`` where a run diverged. Right: the final
    training loss against the learning rate per seed (the hyperparameter axis plot), diverged
    runs drawn at the top; lr* marked.

    ``runs``: ``{(lr, seed): run}`` from :func:`tnn.instability.lr_sweep`.
    """
    lrs = sorted({lr for lr, _ in runs})
    seeds = sorted({s for _, s in runs})
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 3.6))
    finals = [r["final_loss"] for r in runs.values() if np.isfinite(r["final_loss"])]
    top = 2.0 * max(finals + [3.0])
    cap = _loss_cap([r["loss"] for r in runs.values()])
    for i, lr in enumerate(lrs):
        color = f"C{i}"
        for j, seed in enumerate(seeds):
            loss = runs[(lr, seed)]["loss"]
            axes[0].semilogy(_steps(loss), loss, color=color, lw=0.8, alpha=0.8,
                             label=f"lr {lr:g}" if j == 0 else None)
            _mark_divergence(axes[0], loss, color, cap=cap)
        final = np.array([runs[(lr, s)]["final_loss"] for s in seeds])
        shown = np.where(np.isfinite(final), final, top)
        axes[1].semilogy([lr] * len(seeds), shown, "o", color=color, alpha=0.7)
        axes[1].semilogy([lr] * int(np.sum(~np.isfinite(final))), [top] * int(
            np.sum(~np.isfinite(final))), "x", color="k", ms=8)
    axes[0].set_ylim(top=cap)
    axes[0].set(xlabel="step", ylabel="training loss (mini-batch)",
                title="constant learning rates, every seed (x: diverged)")
    axes[0].legend(fontsize=8)
    axes[1].set_xscale("log")
    axes[1].axvline(lr_star, color="0.4", ls="--", lw=1)
    axes[1].text(lr_star, top, " lr*", va="top", fontsize=9)
    if trained_loss is not None:
        axes[1].axhline(trained_loss, color="0.6", ls=":", lw=1)
    axes[1].set(xlabel="learning rate", ylabel="final training loss",
                title="final loss per seed (x at the top: NaN)")
    fig.tight_layout()
    return fig


def plot_early_check(check: dict, reference: dict, lr: float, lr_star: float):
    """One panel per seed: the validation loss after every update at ``lr`` (usually
    2 lr*, solid) and at lr* (dashed), both axes logarithmic (the early spikes sit in the
    first ten updates), with each curve's worst rise marked.

    ``check``, ``reference``: ``{seed: run}``; a run's ``val_loss`` has shape (steps,).
    """
    seeds = list(check)
    cols = min(4, len(seeds))
    rows = int(np.ceil(len(seeds) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.8 * rows), squeeze=False,
                             sharey=True)
    for ax, seed in zip(axes.ravel(), seeds, strict=False):
        for run, style, label in ((check[seed], "C3-", f"{lr:g} (2 lr*)"),
                                  (reference[seed], "C0--", f"{lr_star:g} (lr*)")):
            val = run["val_loss"]
            ax.loglog(_steps(val) + 1, val, style, lw=0.9, label=label)
            _mark_divergence(ax, val, style[:2], shift=1)
        ax.set(title=f"seed {seed}", xlabel="update (step + 1, log scale)")
        ax.legend(fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("validation loss")
    for ax in axes.ravel()[len(seeds):]:
        ax.remove()
    fig.tight_layout()
    return fig


def plot_grad_norms(norms: dict, threshold: float, percentile: float = 90.0):
    """Left: the unclipped global gradient norm per step (one line per run, log scale) with
    the threshold λ; right: the histogram of all of them together (log-spaced bins), λ marked.

    ``norms``: ``{label: array of shape (steps,)}``, finite (cut diverged runs first).
    """
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 3.4))
    for i, (label, values) in enumerate(norms.items()):
        axes[0].semilogy(_steps(values), values, lw=0.7, color=f"C{i}", label=label)
    axes[0].axhline(threshold, color="k", ls="--", lw=1,
                    label=f"λ = {threshold:.3g} ({percentile:g}th pct.)")
    axes[0].set(xlabel="step", ylabel="global gradient norm ‖g‖", title="‖g‖ per step")
    axes[0].legend(fontsize=7, ncol=2)
    pooled = np.concatenate([np.asarray(v, dtype=np.float64) for v in norms.values()])
    bins = np.geomspace(max(pooled.min(), 1e-8), pooled.max(), 50)
    axes[1].hist(pooled, bins=bins, color="C0", alpha=0.8)
    axes[1].axvline(threshold, color="k", ls="--", lw=1)
    above = float(np.mean(pooled > threshold))
    axes[1].set(xscale="log", xlabel="global gradient norm ‖g‖", ylabel="steps",
                title=f"all {pooled.size} steps: {100 * above:.1f}% above λ")
    fig.tight_layout()
    return fig


def plot_warmup_sweep(runs: dict, base_lr: float):
    """Left: the learning rate each warmup length gives per step; right: the training loss per
    step (one colour per warmup length, one line per seed, an ``x`` where a run diverged).
    Both on a logarithmic step axis, since the runs last from 300 to 3000 steps.

    ``runs``: ``{(warmup_steps, seed): run}`` from :func:`tnn.instability.warmup_sweep`
    (the seeds may differ between warmup lengths).
    """
    warmups = sorted({w for w, _ in runs})
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 3.6))
    cap = _loss_cap([r["loss"] for r in runs.values()])
    for i, w in enumerate(warmups):
        color = f"C{i}"
        seeds = sorted(s for x, s in runs if x == w)  # a long warmup may run on fewer seeds
        first = runs[(w, seeds[0])]
        label = "no warmup" if w == 0 else f"W = {w}"
        lr = np.full(len(first["lr"]), base_lr) if w == 0 else first["lr"]  # (logged until NaN)
        axes[0].plot(_steps(lr) + 1, lr, color=color, label=label)
        for j, seed in enumerate(seeds):
            loss = runs[(w, seed)]["loss"]
            axes[1].loglog(_steps(loss) + 1, loss, color=color, lw=0.8, alpha=0.8,
                           label=label if j == 0 else None)
            _mark_divergence(axes[1], loss, color, cap=cap, shift=1)
    axes[1].set_ylim(top=cap)
    axes[0].set(xscale="log", xlabel="step + 1", ylabel="learning rate",
                title=f"ramp to {base_lr:g}, then constant")
    axes[0].legend(fontsize=8)
    axes[1].set(xlabel="step + 1", ylabel="training loss (mini-batch)",
                title=f"training at {base_lr:g}")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_clipping(clipped: dict, unclipped: dict, threshold: float, base_lr: float):
    """Left: the training loss per step with clipping at λ (solid) and without it (faint,
    ending in an ``x`` where it diverged); right: the unclipped gradient norm of the clipped
    runs, λ dashed, the clipped updates dotted.

    ``clipped``, ``unclipped``: ``{seed: run}`` (:func:`tnn.instability.clipping_fix`'s
    ``runs``, and the same learning rate without clipping).
    """
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 3.6))
    cap = _loss_cap([r["loss"] for r in (*clipped.values(), *unclipped.values())])
    for i, seed in enumerate(clipped):
        color = f"C{i}"
        run = clipped[seed]
        axes[0].semilogy(_steps(run["loss"]), run["loss"], color=color, lw=0.9,
                         label=f"seed {seed}, clipped")
        if seed in unclipped:
            loss = unclipped[seed]["loss"]
            axes[0].semilogy(_steps(loss), loss, color=color, lw=0.8, alpha=0.35)
            _mark_divergence(axes[0], loss, color, cap=cap)
        norm = run["grad_norm"]
        axes[1].semilogy(_steps(norm), norm, color=color, lw=0.7)
        hit = np.flatnonzero(run["clipped"])
        axes[1].semilogy(hit, norm[hit], ".", color=color, ms=3)
    axes[0].set_ylim(top=cap)
    axes[0].set(xlabel="step", ylabel="training loss (mini-batch)",
                title=f"lr {base_lr:g}: clipped (solid), not clipped (faint, x: NaN)")
    axes[0].legend(fontsize=7)
    axes[1].axhline(threshold, color="k", ls="--", lw=1, label=f"λ = {threshold:.3g}")
    axes[1].set(xlabel="step", ylabel="unclipped ‖g‖",
                title="the norms of the clipped runs (dots: clipped)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig
