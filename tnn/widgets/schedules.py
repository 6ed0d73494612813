"""Lecture 08's explorer: choose a decay schedule, its peak learning rate, a warmup and the
length of the decay, and see lr(step) over the whole run with the playbook's warmup budget;
move the clipping percentile over logged gradient norms and see the threshold λ and how
many updates it would clip.

:func:`explorer_update` evaluates the schedule at a few hundred steps (the landmarks where
it bends or jumps included) instead of every step, so that a 20,000-step run costs a few
milliseconds. The widget has two small figures (the schedule, the histogram), moves their
lines in place and re-renders only the one a control changed: that PNG render is most of
what the student waits for.
"""

from __future__ import annotations

import numpy as np

from tnn.schedules import KINDS, Schedule, clip_threshold, clipping_report, warmup_budget


def _sample_steps(schedule: Schedule, points: int) -> np.ndarray:
    """Sorted unique steps in [0, total_steps): ``points`` evenly spread, plus each place
    where the schedule changes slope or jumps (its first and last step, both ends of the
    warmup, and both sides of every drop of a step decay)."""
    total, w = schedule.total_steps, schedule.warmup_steps
    marks = [0, total - 1, max(w - 1, 0), w]
    if schedule.kind == "step":
        drops = np.arange(w + schedule.step_size, total, schedule.step_size)
        marks += list(drops) + list(drops - 1)
    steps = np.concatenate([np.linspace(0, total - 1, points).round(), marks])
    return np.unique(np.clip(steps, 0, total - 1).astype(np.int64))


def explorer_update(kind: str = "cosine", base_lr: float = 0.1, warmup_steps: int = 1000,
                    decay_steps: int = 10_000, *, final_lr: float = 0.0,
                    step_size: int | None = None, gamma: float = 0.1, norms=None,
                    percentile: float = 90.0, points: int = 400) -> dict:
    """The schedule the explorer draws, the warmup budget's verdicts, and (with ``norms``)
    the clipping threshold at ``percentile``.

    Parameters
    ----------
    kind : "constant", "step", "linear" or "cosine"
    base_lr : float > 0, the peak
    warmup_steps : int >= 0, prepended to the decay
    decay_steps : int >= 1, the original run (max_train_steps before the warmup)
    final_lr : float in [0, base_lr], the floor of linear and cosine
    step_size : int >= 1, optional
        For ``"step"``: the rate is multiplied by ``gamma`` every ``step_size`` steps
        (default: a third of ``decay_steps``, rounded up: three equal stretches at
        ``base_lr``, ``gamma * base_lr`` and ``gamma ** 2 * base_lr``).
    norms : array of shape (n_steps,), optional
        Logged unclipped gradient norms; the threshold is their ``percentile``-th percentile.
    points : int, how many evenly spread steps to evaluate (landmarks are added)

    Returns
    -------
    view : dict
        ``steps`` (n,) int and ``lr`` (n,) float: the schedule at those steps; ``schedule``
        (:class:`tnn.schedules.Schedule`); ``budget`` (:func:`tnn.schedules.warmup_budget`
        of the warmup against ``decay_steps``); ``summary`` (str). With ``norms`` also
        ``threshold`` (λ), ``report`` (:class:`tnn.schedules.ClipReport`) and
        ``clip_summary`` (str).
    """
    if step_size is None:
        step_size = max(1, -(-int(decay_steps) // 3))
    schedule = Schedule(kind, base_lr=base_lr, decay_steps=decay_steps,
                        warmup_steps=warmup_steps, final_lr=final_lr if kind in (
                            "linear", "cosine") else 0.0, step_size=step_size, gamma=gamma)
    steps = _sample_steps(schedule, points)
    lr = np.array([schedule(int(t)) for t in steps])
    budget = warmup_budget(schedule.warmup_steps, schedule.decay_steps)
    if schedule.warmup_steps == 0:
        verdict = "no warmup"
    else:
        verdict = (f"warmup = {100 * budget['fraction']:.1f}% of the {schedule.decay_steps:,} "
                   f"steps: " + ("within the 10% a sweep may reach" if budget["sweepable"]
                                 else "over 10%, too long to try")
                   + ("; over 5%, the run may need more steps" if budget["add_steps"]
                      else ""))
    body = "constant" if kind == "constant" else "decay"
    summary = (f"{kind}, peak lr {base_lr:.3g}: {schedule.warmup_steps:,} warmup + "
               f"{schedule.decay_steps:,} {body} = {budget['total_steps']:,} steps; "
               f"last step's lr {schedule(schedule.total_steps - 1):.3g}; {verdict}")
    view = {"steps": steps, "lr": lr, "schedule": schedule, "budget": budget,
            "summary": summary}
    if norms is not None:
        norms = np.asarray(norms, dtype=np.float64).ravel()
        threshold = clip_threshold(norms, percentile)
        report = clipping_report(norms, threshold)
        view.update(threshold=threshold, report=report,
                    clip_summary=f"{percentile:g}th percentile: {report.message}")
    return view


def schedule_explorer(norms=None, kind: str = "cosine", base_lr: float = 0.1,
                      warmup_steps: int = 1000, decay_steps: int = 10_000,
                      percentile: float = 90.0):
    """The ipywidgets explorer: sliders for the peak learning rate, the warmup, the decay
    length and (with ``norms``) the clipping percentile, a menu for the decay family, above
    two small figures whose lines move in place: lr(step) and, with ``norms``, their
    histogram with λ. A control redraws only the figure it changes, so a move costs one
    small PNG.

    ``norms``: array of shape (n_steps,) of logged unclipped gradient norms, or None.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display
    from matplotlib.ticker import NullLocator

    lr_slider = widgets.FloatLogSlider(value=base_lr, base=10, min=-4, max=0, step=0.05,
                                       description="peak lr", readout_format=".3g")
    warm_slider = widgets.IntSlider(value=warmup_steps, min=0, max=3000, step=50,
                                    description="warmup")
    decay_slider = widgets.IntSlider(value=decay_steps, min=1000, max=20_000, step=500,
                                     description="decay steps")
    sliders = [lr_slider, warm_slider, decay_slider]
    pct_slider = None
    if norms is not None:
        norms = np.asarray(norms, dtype=np.float64).ravel()
        pct_slider = widgets.FloatSlider(value=percentile, min=10.0, max=99.5, step=0.5,
                                         description="clip pct.")
        sliders.append(pct_slider)
    kind_menu = widgets.Dropdown(options=KINDS, value=kind, description="decay")
    text, clip_text = widgets.Label(), widgets.Label()
    out, hist_out = widgets.Output(), widgets.Output()
    with out:
        fig, ax = plt.subplots(figsize=(5.6, 3.2))
        plt.close(fig)
    line, = ax.plot([], [], color="C0", lw=1.5)
    warm_line = ax.axvline(0, color="0.5", ls=":", lw=1)
    ax.set(xlabel="step t", ylabel="learning rate")
    ax.set_title(" ", fontsize=9)  # room for the title set on every redraw
    fig.tight_layout()
    if norms is not None:
        with hist_out:
            hfig, hax = plt.subplots(figsize=(4.4, 3.2))
            plt.close(hfig)
        bins = np.geomspace(max(norms.min(), 1e-8), norms.max(), 40)
        counts, _ = np.histogram(norms, bins)
        hax.stairs(counts, bins, fill=True, color="C0", alpha=0.8)  # one artist, fast to draw
        hax.set(xscale="log", xlabel="unclipped ‖g‖", ylabel="steps")
        hax.xaxis.set_minor_locator(NullLocator())  # minor log ticks: a third of the render
        lam_line = hax.axvline(1.0, color="k", ls="--", lw=1)
        hax.set_title(" ", fontsize=9)
        hfig.tight_layout()

    def show(target, figure):
        target.clear_output(wait=True)
        with target:
            display(figure)

    def redraw(*_):
        v = explorer_update(kind_menu.value, lr_slider.value, warm_slider.value,
                            decay_slider.value)
        line.set_data(v["steps"], v["lr"])
        w = v["schedule"].warmup_steps
        warm_line.set_xdata([w, w])
        warm_line.set_visible(w > 0)
        ax.set_xlim(0, v["schedule"].total_steps)
        ax.set_ylim(0, 1.05 * lr_slider.value)
        ax.set_title(f"{kind_menu.value}: {v['budget']['total_steps']:,} steps", fontsize=9)
        text.value = v["summary"]
        show(out, fig)

    def redraw_clip(*_):
        v = explorer_update(kind_menu.value, lr_slider.value, warm_slider.value,
                            decay_slider.value, norms=norms, percentile=pct_slider.value)
        lam_line.set_xdata([v["threshold"], v["threshold"]])
        hax.set_title(f"λ = {v['threshold']:.3g}: "
                      f"{100 * v['report'].fraction_clipped:.1f}% clipped", fontsize=9)
        clip_text.value = v["clip_summary"]
        show(hist_out, hfig)

    for control in (lr_slider, warm_slider, decay_slider, kind_menu):
        control.observe(redraw, names="value")
    redraw()
    if pct_slider is not None:
        pct_slider.observe(redraw_clip, names="value")
        redraw_clip()
    return widgets.VBox([widgets.HBox(sliders), widgets.HBox([kind_menu]), text, clip_text,
                         widgets.HBox([out, hist_out])])
