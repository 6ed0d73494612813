"""Figures for the lectures, one module per topic (``tnn.plots.activations``, ...).

Numerical code never imports matplotlib; these modules take the numbers and draw them.
"""
