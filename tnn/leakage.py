"""Topic 02, the leakage experiments: what goes wrong when a fitted step sees data it
should not. Real image patches as a small data set, a 1-nearest-neighbour classifier, the
normalization statistics fitted on train vs train + validation, and a feature selection that
uses the labels inside vs outside cross-validation. :mod:`tnn.preprocessing` re-exports
everything here.
"""

from __future__ import annotations

import numpy as np

from tnn._validate import (
    _describe,
    as_float_array,
    check_nonempty,
    check_positive_int,
    check_rng,
    check_table,
)
from tnn.device import few_threads

__all__ = [
    "random_patches",
    "nearest_neighbour_predict",
    "nearest_neighbour_accuracy",
    "leakage_experiment",
    "select_features",
    "cross_val_accuracy",
    "selection_leakage_experiment",
]


# --------------------------------------------------------------------------------------------
# Real images as a small data set, and the leakage experiment
# --------------------------------------------------------------------------------------------
def random_patches(images, n: int, size: int, rng: np.random.Generator):
    """Crop ``n`` random ``size`` x ``size`` patches from a list of NHWC images.

    Parameters
    ----------
    images : sequence of ndarrays of shape (H_i, W_i, C), e.g. ``load_sample_images().images``
    n, size : int >= 1
    rng : np.random.Generator
        Picks the image and the corner of every patch.

    Returns
    -------
    patches : ndarray of shape (n, size, size, C), the images' dtype (uint8 stays uint8)
    """
    check_rng(rng)
    images = [np.asarray(im) for im in images]
    if not images or any(im.ndim != 3 for im in images):
        raise ValueError("images must be a non-empty list of (H, W, C) arrays; got shapes "
                         f"{[im.shape for im in images]}.")
    n, size = check_positive_int(n, "n"), check_positive_int(size, "size")
    if any(min(im.shape[:2]) < size for im in images):
        raise ValueError(f"size={size} is larger than the smallest image "
                         f"{min(min(im.shape[:2]) for im in images)} pixels.")
    out = []
    for k in rng.integers(len(images), size=n):
        im = images[k]
        top = rng.integers(im.shape[0] - size + 1)
        left = rng.integers(im.shape[1] - size + 1)
        out.append(im[top:top + size, left:left + size])  # (size, size, C)
    return np.stack(out)


def _check_train_test(X_train, y_train, X_test, name_test: str = "X_test"):
    X_train, X_test = as_float_array(X_train, "X_train"), as_float_array(X_test, name_test)
    check_table(X_train.shape, "X_train")
    check_table(X_test.shape, name_test)
    y_train = np.asarray(y_train)
    if X_test.shape[1] != X_train.shape[1] or y_train.shape != (len(X_train),) or \
            len(X_train) == 0:
        raise ValueError(
            f"expected X_train (N, D) with N >= 1, y_train (N,) and {name_test} (M, D); got "
            f"{X_train.shape}, {y_train.shape}, {X_test.shape}.")
    return X_train, y_train, X_test


def nearest_neighbour_predict(X_train, y_train, X_test):
    """Labels of the 1-nearest-neighbour classifier (Euclidean distance).

    Parameters
    ----------
    X_train : ndarray of shape (N, D)
    y_train : ndarray of shape (N,), any label dtype
    X_test : ndarray of shape (M, D)

    Returns
    -------
    y_pred : ndarray of shape (M,), ``y_train``'s dtype
        The label of the closest training example; ties go to the first one.
    """
    X_train, y_train, X_test = _check_train_test(X_train, y_train, X_test)
    a, b = X_test.astype(np.float64), X_train.astype(np.float64)
    # |a - b|^2 = |a|^2 - 2 a.b + |b|^2; |a|^2 is the same for every candidate, so drop it
    sq = (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)  # (M, N)
    return y_train[np.argmin(sq, axis=1)]


def nearest_neighbour_accuracy(X_train, y_train, X_val, y_val) -> float:
    """Accuracy of the 1-nearest-neighbour classifier (Euclidean distance) on ``X_val``.

    Distances depend on every feature's scale, so this classifier shows plainly what
    preprocessing does. Ties go to the first training example, as in scikit-learn.

    Parameters
    ----------
    X_train : ndarray of shape (N, D)
    y_train : ndarray of shape (N,)
    X_val : ndarray of shape (M, D)
    y_val : ndarray of shape (M,)

    Returns
    -------
    accuracy : float in [0, 1]
    """
    y_val = np.asarray(y_val)
    if y_val.shape != (np.shape(X_val)[0],):
        raise ValueError(f"y_val must have shape ({np.shape(X_val)[0]},), one label per row of "
                         f"X_val; got {y_val.shape}.")
    return float(np.mean(nearest_neighbour_predict(X_train, y_train, X_val) == y_val))


def leakage_experiment(X, y, n_train: int, n_val: int, n_test: int, repeats: int,
                       rng: np.random.Generator) -> dict:
    """Standardization statistics fitted honestly (train) or leakily (train + val), scored on
    the validation split *and* on an untouched test split.

    For each of ``repeats`` random splits into train / val / test, a 1-nearest-neighbour
    classifier on the training split is scored three ways: on raw features, standardized
    with statistics from the training split (honest), and standardized with statistics from
    the training and validation splits (leaky). The test split is used by neither fit, so
    it tells whether a pipeline's validation score is optimistic: an optimistic validation
    score is higher than the same pipeline's test score.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    y : ndarray of shape (N,)
    n_train, n_val, n_test : int >= 1, with ``n_train + n_val + n_test <= N``
    repeats : int >= 1
    rng : np.random.Generator
        Draws the splits.

    Returns
    -------
    result : dict of float ndarrays of shape (repeats,)
        ``"<pipeline>_<split>"`` accuracies for pipeline in ``raw, honest, leaky`` and split in
        ``val, test``.
    """
    X = as_float_array(X, "X").astype(np.float64)
    check_table(X.shape)
    y = np.asarray(y)
    sizes = (n_train, n_val, n_test, repeats)
    if y.shape != (len(X),) or min(sizes) < 1 or n_train + n_val + n_test > len(X):
        raise ValueError(
            f"need y of shape ({len(X)},), n_train, n_val, n_test, repeats >= 1 and "
            f"n_train + n_val + n_test <= {len(X)}; got y {y.shape}, n_train={n_train}, "
            f"n_val={n_val}, n_test={n_test}, repeats={repeats}.")
    out = {f"{p}_{s}": np.zeros(repeats) for p in ("raw", "honest", "leaky")
           for s in ("val", "test")}
    with few_threads(None, blas=True):  # thousands of tiny products
        for r in range(repeats):
            _leakage_repeat(X, y, rng, (n_train, n_val, n_test), out, r)
    return out


def _leakage_repeat(X, y, rng, sizes, out, r):
    """One random split of :func:`leakage_experiment`; writes entry ``r`` of every array."""
    from tnn.preprocessing import standardize_fit, standardize_transform  # the topic's core

    n_train, n_val, n_test = sizes
    order = rng.permutation(len(y))
    tr, va, te = np.split(order[:n_train + n_val + n_test], [n_train, n_train + n_val])
    fits = {"raw": None, "honest": X[tr], "leaky": X[np.concatenate([tr, va])]}
    for pipeline, fit_on in fits.items():
        if fit_on is None:  # raw features
            Z_train, Z = X[tr], X
        else:
            mean, std = standardize_fit(fit_on)  # (D,), (D,)
            Z_train, Z = standardize_transform(X[tr], mean, std), standardize_transform(X, mean, std)
        for split, idx in (("val", va), ("test", te)):
            out[f"{pipeline}_{split}"][r] = nearest_neighbour_accuracy(Z_train, y[tr], Z[idx], y[idx])


# --------------------------------------------------------------------------------------------
# Leakage that matters: a fitted step that uses the labels
# --------------------------------------------------------------------------------------------
def select_features(X, y, k: int):
    """Indices of the ``k`` features most correlated with the labels (a fit that uses ``y``).

    The score of feature j is the absolute Pearson correlation between column ``X[:, j]`` and
    ``y``; a constant column (or constant ``y``) scores 0.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), numeric labels (e.g. 0/1)
    k : int, 1 <= k <= D

    Returns
    -------
    idx : ndarray of shape (k,), int64
        Feature indices in decreasing order of score (ties: lower index first).
    """
    X = as_float_array(X, "X").astype(np.float64)
    check_table(X.shape)
    check_nonempty(X.shape[0], "X")
    y = as_float_array(y, "y").astype(np.float64)
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), one label per row of X; got {y.shape}.")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= X.shape[1]:
        raise ValueError(f"k must be an int between 1 and D = {X.shape[1]}; got {_describe(k)}.")
    Xc, yc = X - X.mean(axis=0), y - y.mean()  # (N, D), (N,)
    cov = Xc.T @ yc  # (D,)
    norm = np.sqrt((Xc * Xc).sum(axis=0) * (yc @ yc))  # (D,)
    score = np.abs(np.divide(cov, norm, out=np.zeros_like(cov), where=norm > 0))  # (D,)
    return np.argsort(-score, kind="stable")[:k].astype(np.int64)


def cross_val_accuracy(X, y, folds, k: int, leaky: bool, select=None) -> float:
    """Cross-validated 1-nearest-neighbour accuracy on the ``k`` features chosen by ``select``.

    For every fold f, the examples with ``folds == f`` are held out and classified by their
    nearest neighbour among the others, using only the selected features. Honest
    (``leaky=False``): the features are selected inside each fold, on the held-in rows only.
    Leaky (``leaky=True``): they are selected once, on all rows, held-out ones included,
    before the data is split.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    y : ndarray of shape (N,), labels
    folds : ndarray of shape (N,), int: the fold of every example
    k : int, number of features to keep
    leaky : bool
    select : callable, optional
        ``select(X, y, k) -> indices``; default :func:`select_features`.

    Returns
    -------
    accuracy : float in [0, 1], over all N examples (each is held out exactly once)
    """
    select = select_features if select is None else select
    X = as_float_array(X, "X")
    check_table(X.shape)
    y, folds = np.asarray(y), np.asarray(folds)
    if y.shape != (len(X),) or folds.shape != (len(X),):
        raise ValueError(f"y and folds must have shape ({len(X)},); got {y.shape} and "
                         f"{folds.shape}.")
    if len(np.unique(folds)) < 2:
        raise ValueError("folds must name at least two different folds; got "
                         f"{len(np.unique(folds))}.")
    chosen = select(X, y, k) if leaky else None  # leaky: one selection that saw every row
    correct = 0
    for f in np.unique(folds):
        held_out = folds == f  # (N,) bool
        held_in = ~held_out
        idx = chosen if leaky else select(X[held_in], y[held_in], k)
        pred = nearest_neighbour_predict(X[held_in][:, idx], y[held_in], X[held_out][:, idx])
        correct += int(np.sum(pred == y[held_out]))
    return correct / len(y)


def selection_leakage_experiment(n: int, d: int, k: int, n_folds: int, repeats: int,
                                 rng: np.random.Generator) -> dict:
    """Feature selection before vs inside cross-validation, on labels that are pure noise.

    Each repeat draws ``X`` of shape (n, d) from a standard normal, balanced 0/1 labels
    independent of ``X`` and a random assignment to ``n_folds`` folds, and scores both
    protocols of :func:`cross_val_accuracy`. No classifier can beat 0.5 on new data here.

    Returns
    -------
    result : dict with ``"leaky"`` and ``"honest"``: float ndarrays of shape (repeats,)
    """
    check_rng(rng)
    out = {"leaky": np.zeros(repeats), "honest": np.zeros(repeats)}
    with few_threads(None, blas=True):  # thousands of tiny products
        for r in range(repeats):
            X = rng.normal(size=(n, d))  # (n, d) features
            y = rng.permutation(np.arange(n) % 2)  # (n,) labels, independent of X
            folds = rng.permutation(np.arange(n) % n_folds)  # (n,) fold of each example
            for protocol in out:
                out[protocol][r] = cross_val_accuracy(X, y, folds, k, leaky=protocol == "leaky")
    return out
