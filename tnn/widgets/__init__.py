"""ipywidgets explorers, one module per topic.

Each explorer separates a plain ``*_update(...)`` function (numbers in, numbers out; tested
and timed in benchmarks/) from the widget that calls it and draws the result.
"""
