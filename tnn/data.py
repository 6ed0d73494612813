"""Small data sets that ship inside scikit-learn (nothing is downloaded at run time)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_digits

from tnn._validate import check_rng


@dataclass(frozen=True)
class Split:
    """Arrays of one data split: ``X`` of shape (N, D) float32 and ``y`` of shape (N,) int64."""

    X: np.ndarray
    y: np.ndarray


def digits_splits(
    rng: np.random.Generator, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> dict[str, Split]:
    """scikit-learn's 8x8 handwritten digits (1797 images, 10 classes), shuffled and split.

    Pixels are left raw (integers 0..16 as float32): preprocessing is for the caller, fitted on
    the training split only (topic 02).

    Parameters
    ----------
    rng : np.random.Generator
        Decides the shuffle.
    val_fraction, test_fraction : float
        Shares of the 1797 images for validation and test; the rest is training.

    Returns
    -------
    splits : dict with keys ``"train"``, ``"val"``, ``"test"``, each a :class:`Split`
        with ``X`` of shape (N, 64).
    """
    check_rng(rng)
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            "val_fraction and test_fraction must be in (0, 1) with a sum below 1; got "
            f"{val_fraction} and {test_fraction}."
        )
    data = load_digits()
    X = data.data.astype(np.float32)  # (1797, 64)
    y = data.target.astype(np.int64)  # (1797,)
    order = rng.permutation(len(y))
    n_val, n_test = int(round(val_fraction * len(y))), int(round(test_fraction * len(y)))
    val, test, train = np.split(order, [n_val, n_val + n_test])
    return {"train": Split(X[train], y[train]), "val": Split(X[val], y[val]),
            "test": Split(X[test], y[test])}
