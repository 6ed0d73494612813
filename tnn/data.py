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


def small_digits(
    rng: np.random.Generator, n_train: int = 200, n_val: int = 500
) -> dict[str, Split]:
    """A deliberately small training set (``n_train`` digits) and a larger validation set.

    With a few hundred training images a plain MLP fits the training set perfectly while its
    validation accuracy stalls: the setting in which regularization, dropout and augmentation
    can show an effect. Pixels are scaled to [0, 1] (raw values are 0..16) and every class
    appears in the training split (the shuffle is stratified by taking the first ``n_train``
    of a per-class round robin).

    Returns ``{"train": Split, "val": Split}`` with ``X`` of shape (N, 64), float32.
    """
    check_rng(rng)
    n_train, n_val = int(n_train), int(n_val)
    if n_train < 10 or n_val < 1 or n_train + n_val > 1797:
        raise ValueError("n_train must be at least 10 (one per class), n_val at least 1, and "
                         f"n_train + n_val at most 1797; got {n_train} and {n_val}.")
    data = load_digits()
    X = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in range(10)]
    depth = max(len(idx) for idx in per_class)
    round_robin = [idx[i] for i in range(depth) for idx in per_class if i < len(idx)]
    train = np.array(round_robin[:n_train])
    rest = rng.permutation(np.array(round_robin[n_train:]))
    val = rest[:n_val]
    return {"train": Split(X[train], y[train]), "val": Split(X[val], y[val])}
