"""Figures for lecture 07: optimizer trajectories on the 2-D surfaces, Nesterov's 1/k^2
against gradient descent's 1/k, Adagrad's shrinking rates against RMSprop, Adam's bias
towards 0, and the learning-rate range of Adam and SGD on digits."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from tnn.optim_experiments import SURFACES, surface_grid


def draw_surface(ax, surface: str, n: int = 160):
    """Log-spaced contour lines of ``surface`` on ``ax``, its minimum marked; returns ``ax``."""
    X, Y, Z = surface_grid(surface, n)
    levels = np.geomspace(max(float(Z.min()), 1e-2), float(Z.max()), 14)
    ax.contour(X, Y, Z, levels=levels, colors="0.7", linewidths=0.6)
    ax.plot(*SURFACES[surface]["minimum"], "k*", ms=9)
    x0, x1, y0, y1 = SURFACES[surface]["extent"]
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y")
    return ax


def plot_trajectories(paths: dict, surfaces=("quadratic", "rosenbrock"), titles=None):
    """One panel per surface with the points visited by each optimizer.

    ``paths`` maps surface -> {label: points of shape (steps + 1, 2)}.
    """
    fig, axes = plt.subplots(1, len(surfaces), figsize=(5.2 * len(surfaces), 3.6))
    for i, (ax, surface) in enumerate(zip(np.atleast_1d(axes), surfaces, strict=True)):
        draw_surface(ax, surface)
        for label, pts in paths[surface].items():
            ax.plot(pts[:, 0], pts[:, 1], ".-", ms=2.5, lw=0.9, label=label)
        ax.plot(*SURFACES[surface]["start"], "ko", ms=4)
        ax.set_title(titles[i] if titles else surface, fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_convex_rates(rates: dict):
    """The gaps f(x_k) - f* of GD and Nesterov on log-log axes, with their textbook bounds
    (dotted) and the fitted slopes in the legend."""
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    k = rates["k"]
    ax.loglog(k, rates["gd"], label=f"gradient descent (slope {rates['gd_slope']:.2f})")
    ax.loglog(k, rates["nesterov"], label=f"Nesterov (slope {rates['nesterov_slope']:.2f})")
    ax.loglog(k, rates["gd_bound"], "C0:", lw=1, label=r"bound $L\|x_0\|^2/2k$")
    ax.loglog(k, rates["nesterov_bound"], "C1:", lw=1, label=r"bound $2L\|x_0\|^2/(k+1)^2$")
    ax.set(xlabel="iteration k", ylabel=r"$f(x_k) - f^*$",
           title="smooth convex quadratic: 1/k against 1/k²")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_adagrad_rmsprop(result: dict):
    """Left: the effective rate per entry (mean over entries) per update; right: the share
    of the distance still to go."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
    for name, r in result.items():
        t = np.arange(1, len(r["remaining"]) + 1)
        axes[0].semilogy(t, r["rates"].mean(axis=1), label=name)
        axes[1].plot(t, r["remaining"], label=name)
    axes[0].set(xlabel="update t", ylabel="effective rate lr / (sqrt(acc) + eps)",
                title="per-entry rates (mean over entries)")
    axes[1].set(xlabel="update t", ylabel="distance left / initial distance", ylim=(0, 1.02),
                title="progress towards the targets")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_adam_bias(check: dict, first: dict, mean_sq: float):
    """Left: Adam's second moment v_t over the streams (divided by E[g^2]), raw and
    corrected, with the prediction 1 - beta2^t; right: the first steps' size with and
    without bias correction (in units of lr)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    t = check["t"]
    axes[0].semilogx(t, check["v_mean"] / mean_sq, label=r"mean $v_t$ (uncorrected)")
    axes[0].semilogx(t, check["v_expected"] / mean_sq, "k:", label=r"$1-\beta_2^t$")
    axes[0].semilogx(t, check["v_hat_mean"] / mean_sq,
                     label=r"mean $\hat v_t = v_t/(1-\beta_2^t)$")
    axes[0].set(xlabel="update t", ylabel=r"mean $v_t$ or $\hat v_t$, $\div\ \mathbb{E}[g^2]$", ylim=(0, 1.2),
                title="second moment on stationary noise")
    axes[0].legend(fontsize=8)
    axes[1].plot(first["t"], first["uncorrected"], "o-", ms=3, label="without correction")
    axes[1].plot(first["t"], first["factor"], "k:", label=r"$(1-\beta_1^t)/\sqrt{1-\beta_2^t}$")
    axes[1].plot(first["t"], first["corrected"], "o-", ms=3, label="with correction")
    axes[1].set(xlabel="update t", ylabel="mean |step| / lr", ylim=(0, None),
                title="Adam's first steps")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_lr_range(lrs, losses: dict, factor: float = 3.0):
    """Best validation loss against the learning rate, one line per seed and optimizer;
    the band "within ``factor`` x the best" dashed per optimizer (seed mean of the best).

    ``losses`` maps optimizer name -> array of shape (seeds, len(lrs)).
    """
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, (name, rows) in enumerate(losses.items()):
        rows = np.where(np.isfinite(rows), rows, np.nan)
        for j, row in enumerate(rows):
            ax.semilogx(lrs, row, "o-", color=f"C{i}", ms=3, lw=1, alpha=0.8,
                        label=name if j == 0 else None)
        ax.axhline(factor * np.nanmean(np.nanmin(rows, axis=1)), color=f"C{i}", ls="--",
                   lw=0.8)
    ax.set_yscale("log")
    ax.set(xlabel="learning rate", ylabel="best validation loss",
           title=f"digits MLP: dashed = {factor:g}x the best loss (mean over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
