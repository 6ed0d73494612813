"""Lecture 07's explorer: pick an optimizer, a learning rate and its momentum-like
coefficient, and watch its path on the ill-conditioned quadratic or on Rosenbrock.

:func:`explorer_update` runs the rule itself (:func:`tnn.optim_experiments.trajectory`, a
couple of milliseconds for 200 steps); the widget keeps the contour lines and moves one
line in place, so the PNG render of the figure dominates what the student waits for.
"""

from __future__ import annotations

import numpy as np

from tnn.optim_experiments import BETA_NAME, SURFACES, steps_to_tolerance, surface_value, trajectory

#: Rules offered by the explorer (the rest of tnn.optimizers.RULES are variants of Adam).
EXPLORER_RULES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "nadam")


def explorer_update(rule: str, surface: str, lr: float, beta: float = 0.9,
                    steps: int = 200) -> dict:
    """The path the explorer draws, and a one-line summary of where it ended.

    Parameters
    ----------
    rule : str, one of :data:`tnn.optimizers.RULES`
    surface : "quadratic" or "rosenbrock"
    lr : float > 0
    beta : float in [0, 1)
        The rule's momentum-like coefficient (:data:`tnn.optim_experiments.BETA_NAME`:
        gamma, decay or beta1); sgd and adagrad have none and ignore it.
    steps : int >= 1

    Returns
    -------
    view : dict
        ``points`` (steps + 1, 2), ``final_gap`` (f at the last point minus f at the
        minimum), ``distance`` (to the minimum), ``steps_to_1e-6`` (first step with the gap
        below 1e-6 of the start's; inf if never), ``summary`` (str).
    """
    points = trajectory(rule, surface, lr, steps, beta=beta)
    minimum = np.asarray(SURFACES[surface]["minimum"])
    gap = float(surface_value(surface, points[-1]) - surface_value(surface, minimum))
    distance = float(np.linalg.norm(points[-1] - minimum))
    hit = steps_to_tolerance(points, surface, 1e-6)
    coef = f", {BETA_NAME[rule]} {beta:g}" if rule in BETA_NAME else ""
    reached = f"gap < 1e-6 of the start's after {hit} steps" if np.isfinite(hit) else (
        "gap not yet below 1e-6 of the start's")
    summary = (f"{rule} (lr {lr:.3g}{coef}) on {surface}: after {steps} steps f - f* = "
               f"{gap:.2e}, distance to the minimum {distance:.3g}; {reached}")
    return {"points": points, "final_gap": gap, "distance": distance,
            "steps_to_1e-6": hit, "summary": summary}


def trajectory_explorer(rule: str = "momentum", surface: str = "quadratic", lr: float = 0.01,
                        beta: float = 0.9, steps: int = 200):
    """The ipywidgets explorer: learning-rate and beta sliders, optimizer and surface menus,
    above one axes whose path is updated in place (the contour lines are redrawn only when
    the surface changes)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from tnn.plots.optimizers import draw_surface

    lr_slider = widgets.FloatLogSlider(value=lr, base=10, min=-4, max=0, step=0.05,
                                       description="lr", readout_format=".3g")
    beta_slider = widgets.FloatSlider(value=beta, min=0.0, max=0.99, step=0.01,
                                      description="beta")
    rule_menu = widgets.Dropdown(options=EXPLORER_RULES, value=rule, description="optimizer")
    surface_menu = widgets.Dropdown(options=tuple(SURFACES), value=surface,
                                    description="surface")
    text = widgets.Label()
    out = widgets.Output()
    with out:
        fig, ax = plt.subplots(figsize=(5.6, 3.6))
        plt.close(fig)
    state = {"surface": None, "line": None}

    def redraw(*_):
        if state["surface"] != surface_menu.value:  # new surface: new contour lines
            ax.clear()
            draw_surface(ax, surface_menu.value)
            state["line"], = ax.plot([], [], ".-", color="C3", ms=2.5, lw=0.9)
            state["surface"] = surface_menu.value
        v = explorer_update(rule_menu.value, surface_menu.value, lr_slider.value,
                            beta_slider.value, steps)
        state["line"].set_data(v["points"][:, 0], v["points"][:, 1])
        ax.set_title(f"{rule_menu.value}, lr {lr_slider.value:.3g}: f - f* = "
                     f"{v['final_gap']:.1e} after {steps} steps", fontsize=9)
        text.value = v["summary"]
        out.clear_output(wait=True)
        with out:
            display(fig)

    for control in (lr_slider, beta_slider, rule_menu, surface_menu):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([lr_slider, beta_slider]),
                         widgets.HBox([rule_menu, surface_menu]), text, out])
