"""Topic 02, why normalizing helps training: the curvature of a linear model's loss (its
spectrum and condition number), and the same small network trained on raw vs normalized
inputs. :mod:`tnn.preprocessing` re-exports everything here.
"""

from __future__ import annotations

import numpy as np
import torch

from tnn._validate import (
    as_float_array,
    check_nonempty,
    check_positive,
    check_table,
)
from tnn.device import few_threads

__all__ = [
    "curvature_spectrum",
    "largest_curvature",
    "condition_number",
    "train_raw_vs_normalized",
]


# --------------------------------------------------------------------------------------------
# Why it helps training: curvature, and the same network trained on raw vs normalized inputs
# --------------------------------------------------------------------------------------------
def curvature_spectrum(X):
    """Eigenvalues of ``X^T X / N``, the Hessian of the least-squares loss of a linear model.

    The loss convention is ``L(w) = ||X w - t||^2 / (2 N)`` (mean squared error with a factor
    1/2), whose Hessian is ``X^T X / N``; gradient descent on it diverges for learning rates
    above ``2 / lambda_max``, and a direction of curvature ``lambda`` shrinks by a factor
    ``|1 - lr * lambda|`` per step.

    Parameters
    ----------
    X : ndarray of shape (N, D)

    Returns
    -------
    eigenvalues : float64 ndarray of shape (D,), ascending
    """
    X = as_float_array(X, "X").astype(np.float64)
    check_table(X.shape)
    check_nonempty(X.shape[0], "X")
    n, d = X.shape
    if n >= d:
        return np.linalg.eigvalsh(X.T @ X / n)  # (D,)
    # fewer examples than features: X X^T / N (N, N) has the same non-zero eigenvalues, and
    # the other D - N are exactly 0; far cheaper for images (e.g. 500 x 3072)
    small = np.clip(np.linalg.eigvalsh(X @ X.T / n), 0.0, None)  # (N,)
    return np.concatenate([np.zeros(d - n), small])  # (D,)


def largest_curvature(X) -> float:
    """Largest eigenvalue of ``X^T X / N`` (see :func:`curvature_spectrum`).

    Parameters
    ----------
    X : ndarray of shape (N, D)

    Returns
    -------
    lam_max : float
    """
    return float(curvature_spectrum(X)[-1])


def condition_number(X, rtol: float = 1e-9) -> tuple[float, int]:
    """``lambda_max / lambda_min`` of ``X^T X / N`` over its non-null directions.

    A pixel that is constant (0 in every image, or centred to 0) adds an eigenvalue that is
    zero up to rounding: no gradient ever moves the weight along it, so it does not slow
    training and is left out. Eigenvalues below ``rtol * lambda_max`` count as null.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    rtol : float

    Returns
    -------
    kappa : float
        The condition number. At a learning rate the sharpest direction tolerates
        (``lr < 2 / lambda_max``), the flattest direction shrinks by a factor of at least
        ``1 - 2 / kappa`` per step: it needs on the order of ``kappa`` steps.
    rank : int
        How many eigenvalues were kept.
    """
    rtol = check_positive(rtol, "rtol")
    ev = curvature_spectrum(X)
    kept = ev[ev > rtol * ev[-1]]
    return float(kept[-1] / kept[0]), int(kept.size)


def train_raw_vs_normalized(splits: dict, lrs, *, epochs: int = 20, hidden: int = 64,
                            seed: int = 0, device="cpu") -> dict:
    """Train the same MLP on raw and on standardized inputs, for each learning rate.

    Each run starts from the same initial weights (``torch.manual_seed(seed)`` before
    building the model) and sees the same batch order; only the inputs differ. The
    statistics come from the training split.

    Parameters
    ----------
    splits : dict with ``"train"`` and ``"val"`` :class:`tnn.data.Split` s, ``X`` of shape (N, D)
    lrs : sequence of float
    epochs, hidden, seed : int
    device : torch.device or str

    Returns
    -------
    histories : dict mapping ``("raw" | "normalized", lr)`` to :class:`tnn.nets.History`
        After the last epoch each history's ``extras`` holds, measured on the training
        inputs: ``"dead_fraction"`` (share of hidden ReLUs whose input is <= 0 for every
        example: they pass no gradient), ``"logit_spread"`` (largest std over the examples
        of one class's logit; about 0 when the output no longer depends on the input) and
        ``"n_predicted_classes"`` (how many classes the network predicts at all).
    """
    from tnn.nets import make_mlp, train_classifier

    with few_threads(device):  # a 64 -> 64 -> 10 MLP: one CPU thread
        return _train_raw_vs_normalized(splits, lrs, epochs, hidden, seed, device,
                                        make_mlp, train_classifier)


def _train_raw_vs_normalized(splits, lrs, epochs, hidden, seed, device, make_mlp,
                             train_classifier):
    from tnn.preprocessing import standardize_fit, standardize_transform  # the topic's core

    train, val = splits["train"], splits["val"]
    mean, std = standardize_fit(train.X)
    inputs = {
        "raw": (train.X, val.X),
        "normalized": (standardize_transform(train.X, mean, std),
                       standardize_transform(val.X, mean, std)),
    }
    n_classes = int(max(train.y.max(), val.y.max())) + 1
    histories = {}
    for lr in lrs:
        for kind, (X_train, X_val) in inputs.items():
            torch.manual_seed(seed)
            model = make_mlp([train.X.shape[1], hidden, n_classes], "relu")
            histories[(kind, lr)] = train_classifier(
                model, X_train, train.y, X_val, val.y, epochs=epochs, lr=lr, seed=seed,
                device=device, progress=False,
                on_epoch=_record_final_state(X_train, epochs))
    return histories


def _record_final_state(X_train, epochs: int):
    """An ``on_epoch`` callback that, after the last epoch, records whether the network died."""
    from tnn.nets import hidden_preactivations

    def on_epoch(model, epoch, history):
        if epoch != epochs:
            return
        pre = hidden_preactivations(model, X_train)[0]  # (N, hidden) input of the ReLUs
        device = next(model.parameters()).device
        with torch.no_grad():
            logits = model(torch.as_tensor(np.asarray(X_train, dtype=np.float32),
                                           device=device)).cpu().numpy()  # (N, classes)
        finite = bool(np.isfinite(logits).all())
        history.extras["dead_fraction"] = [float(np.mean(np.all(pre <= 0, axis=0)))]
        history.extras["logit_spread"] = [float(logits.std(axis=0).max()) if finite
                                          else float("nan")]
        history.extras["n_predicted_classes"] = [int(np.unique(logits.argmax(axis=1)).size)]

    return on_epoch
