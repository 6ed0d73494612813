"""Lecture 09's explorer: pick a study size N and see the distribution of the best of N
trials drawn from the pool (the bootstrap of :func:`tnn.search.bootstrap_best_of_n`)."""

from __future__ import annotations

import numpy as np

from tnn.search import best_of_n_exact_cdf, bootstrap_best_of_n
from tnn.widgets import assemble, explorer_figure, show_figure


def budget_update(scores, n_trials: int, *, seed: int = 0, n_resamples: int = 4000) -> dict:
    """The best of ``n_trials`` for ``n_resamples`` simulated studies, with its median,
    quartiles and the exact chance of beating the pool's 90th percentile (1 - 0.9**N)."""
    best = bootstrap_best_of_n(scores, n_trials, np.random.default_rng(seed), goal="maximize",
                               n_resamples=n_resamples)
    q25, median, q75 = np.percentile(best, [25, 50, 75])
    values, cdf = best_of_n_exact_cdf(scores, n_trials, goal="maximize")
    summary = (f"best of {n_trials}: median {median:.4f}, quartiles {q25:.4f}-{q75:.4f}; "
               f"P(beats the pool's 90th percentile) = {1 - 0.9 ** n_trials:.2f}")
    return {"best": best, "median": float(median), "q25": float(q25), "q75": float(q75),
            "values": values, "cdf": cdf, "summary": summary}


def budget_explorer(scores, n_trials: int = 6):
    """A slider for N; the histogram of the best of N redraws as it moves."""
    import ipywidgets as widgets

    scores = np.asarray(scores, dtype=np.float64)
    slider = widgets.IntSlider(value=n_trials, min=1, max=60, step=1, description="trials N")
    text, out = widgets.Label(), widgets.Output()
    fig, ax = explorer_figure(figsize=(6.0, 3.0))

    def redraw(*_):
        view = budget_update(scores, slider.value)
        ax.clear()
        values, counts = np.unique(view["best"], return_counts=True)
        ax.bar(values, counts / counts.sum(), width=0.002, color="C0")
        ax.axvline(view["median"], color="k", lw=2, label="median")
        ax.set_xlim(np.percentile(scores, 50) - 0.005, scores.max() + 0.005)
        ax.set_xlabel("best validation accuracy of a study")
        ax.set_ylabel("share of studies")
        ax.legend(fontsize=8, loc="upper left")
        fig.tight_layout()
        text.value = view["summary"]
        show_figure(out, fig)

    return assemble([[slider]], redraw, text, out)
