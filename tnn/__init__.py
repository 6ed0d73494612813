"""Training Neural Networks: the course library.

One module per topic, each holding a NumPy reference and its PyTorch twin side by side
(``sigmoid`` and ``sigmoid_torch``), plus a few shared helpers:

- :mod:`tnn.device`      choose CUDA / MPS / CPU, seed explicitly, time things fairly
- :mod:`tnn.grading`     student-facing checks used by the nbgrader test cells
- :mod:`tnn.data`        small data sets that ship with scikit-learn
- :mod:`tnn.nets`        a small torch MLP and training loop shared by the lectures
- :mod:`tnn.activations` topic 01: activation functions and saturation
- :mod:`tnn.preprocessing` topic 02: centring, scaling and image normalization schemes
- :mod:`tnn.initialization` topic 03: initializers, layer statistics, conv geometry
"""

__version__ = "0.1.0"
