"""The course's topics, in order: the one list that names them.

Everything else finds a topic by its number and name (``lectures/NN_name.ipynb``,
``solutions/NN_name/``, ``tnn/name.py``, ``tests/test_name.py``); the course maps in
README.md, site/ and the student handout's README are rendered from this list
(``autograde/coursemap.py``, run by ``make assignments``), and a test checks that the topics
listed here and the files on disk agree. Adding a topic adds one line to :data:`TOPICS`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """One topic: its two-digit number, its file-name stem and a short title."""

    number: str
    name: str
    title: str

    @property
    def stem(self) -> str:
        """``NN_name``: the lecture's file stem and the assignment's id."""
        return f"{self.number}_{self.name}"


TOPICS: tuple[Topic, ...] = (
    Topic("01", "activations", "activation functions and saturation"),
    Topic("02", "preprocessing", "data preprocessing"),
    Topic("03", "initialization", "weight initialization, layer statistics, conv geometry"),
    Topic("04", "regularization",
          "regularization: penalties, early stopping, ensembles, batch norm's two modes"),
    Topic("05", "dropout",
          "dropout: inverted dropout, PyTorch's p, DropConnect, stochastic depth, MC dropout"),
    Topic("06", "augmentation",
          "data augmentation: flips, crops, rotations, colour, Cutout, Mixup, CutMix, "
          "AutoAugment, batched on the GPU"),
    Topic("07", "optimizers",
          "optimizers: momentum, Nesterov, adaptive rates, Adam and AdamW"),
    Topic("08", "schedules",
          "schedules, warmup, gradient clipping and training instability"),
    Topic("09", "search",
          "hyperparameter search: scales, quasi-random trials, budgets, roles, variance"),
    Topic("10", "recipe",
          "the seven-step tuning recipe and Karpathy's checks"),
)

#: What the course will cover next, in order (named on the course maps).
PLANNED: tuple[str, ...] = ()


def topic(stem_or_name: str) -> Topic:
    """The topic whose stem (``03_initialization``) or name (``initialization``) is given."""
    for t in TOPICS:
        if stem_or_name in (t.stem, t.name):
            return t
    raise KeyError(f"no topic {stem_or_name!r}; the course has "
                   f"{', '.join(t.stem for t in TOPICS)} (tnn/topics.py)")
