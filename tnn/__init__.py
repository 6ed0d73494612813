"""Training Neural Networks: the course library.

One module per topic, each holding a NumPy reference and its PyTorch twin side by side
(``sigmoid`` and ``sigmoid_torch``), plus a few shared helpers:

- :mod:`tnn.device`      choose CUDA / MPS / CPU, seed explicitly, few threads for small
  workloads, time things fairly
- :mod:`tnn.grading`     student-facing checks used by the nbgrader test cells
- :mod:`tnn.data`        small data sets that ship with scikit-learn
- :mod:`tnn.nets`        a small torch MLP and training loop shared by the lectures
- :mod:`tnn.layerstats`  the per-layer probe (forward and backward statistics) every topic reads
- :mod:`tnn.tables`      aligned text tables for the lectures' printouts
- :mod:`tnn.topics`      the list of topics (number, name, title) the course maps follow
- :mod:`tnn.activations` topic 01: activation functions and saturation
- :mod:`tnn.preprocessing` topic 02: centring, scaling and image normalization schemes
- :mod:`tnn.initialization` topic 03: initializers, layer statistics, conv geometry
- :mod:`tnn.regularization` topic 04: penalties, early stopping, ensembles, batch norm
- :mod:`tnn.dropout`     topic 05: dropout and its relatives (keep_prob = probability of KEEPING)
- :mod:`tnn.augmentation` topic 06: data augmentation, batched; geometric operations in
  :mod:`tnn.geometric`, photometric ones in :mod:`tnn.photometric`, lecture 06's training
  runs in :mod:`tnn.augmentation_experiments`
- :mod:`tnn.optimizers`  topic 07: update rules as pure functions, checked against torch.optim
- :mod:`tnn.schedules`   topic 08: schedules, warmup, gradient clipping; its instability
  experiments in :mod:`tnn.instability`
- :mod:`tnn.search`      topic 09: search spaces, grid / random / quasi-random samplers, the
  best-of-N bootstrap, the edge-of-space check; many trials trained at once in
  :mod:`tnn.population`, lecture 09's studies in :mod:`tnn.search_experiments`
- :mod:`tnn.recipe`      topic 10: the seven-step tuning recipe and Karpathy's checks; the
  recipe end to end in :mod:`tnn.recipe_experiments`

A topic module is the topic's one name: it re-exports the modules it is split into
(``tnn.initializers``, ``tnn.convgeometry``, ...), so ``from tnn import initialization``
reaches every public function of topic 03. Shared checks (argument validation, array and
tensor conversion) live in ``tnn._validate``.
"""

__version__ = "0.1.0"
