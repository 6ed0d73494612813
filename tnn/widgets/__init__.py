"""ipywidgets explorers, one module per topic.

Each explorer separates a plain ``*_update(...)`` function (numbers in, numbers out; tested
and timed in benchmarks/) from the widget that calls it and draws the result. The plumbing
every explorer shares lives here: a figure that is shown only inside the explorer
(:func:`explorer_figure`), redrawing it into an ``Output`` widget (:func:`show_figure`) and
wiring the controls (:func:`assemble`).
"""

from __future__ import annotations


def explorer_figure(**subplots):
    """``plt.subplots(**subplots)``, closed at once so that the notebook shows it only where
    :func:`show_figure` puts it (never a second, static copy under the cell)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(**subplots)
    plt.close(fig)
    return fig, axes


def show_figure(out, fig) -> None:
    """Replace what the ``Output`` widget ``out`` shows with ``fig``."""
    from IPython.display import display

    out.clear_output(wait=True)
    with out:
        display(fig)


def assemble(rows, redraw, *below):
    """Call ``redraw`` whenever a control in ``rows`` (lists of widgets, one list per line)
    changes, draw once, and lay out the rows above the widgets ``below`` (a text line, the
    figure's Output). The first control of the first row is the one a test moves."""
    import ipywidgets as widgets

    for row in rows:
        for control in row:
            control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([*(widgets.HBox(list(row)) for row in rows), *below])
