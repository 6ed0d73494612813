"""Topic 04: regularization: weight penalties, early stopping, ensembles, batch norm.

This module is the topic's one name: ``from tnn import regularization`` gives every public
function of the topic. The penalties, the SGD step, early stopping and batch norm's forward
pass are defined here; the lecture's training experiments (penalty sweep, sparsity, early
stopping, ensembles, the forgotten eval mode, Adam versus AdamW) live in
:mod:`tnn.reg_experiments` and are re-exported.

Each idea comes twice, side by side: the NumPy reference (``l2_penalty``) and its PyTorch
twin (``l2_penalty_torch``) with the same arguments in the same order.

The course's convention (one for the whole topic)
-------------------------------------------------
The training loss is ``L = data loss + penalty``, with, summed over every entry ``w`` of every
**weight** array:

- L2 (weight decay): ``penalty = (lam / 2) * sum(w**2)``, gradient ``lam * w``.
  The ``1/2`` is there so that the gradient is ``lam * w`` and one SGD step with learning
  rate ``lr`` multiplies every weight by ``(1 - lr * lam)``: the same ``lam`` as
  ``torch.optim.SGD(weight_decay=lam)``. (The lecture writes ``lam * sum(w**2)``; that is
  ours with ``lam`` doubled.)
- L1: ``penalty = lam * sum(|w|)``, subgradient ``lam * sign(w)`` with ``sign(0) = 0``: a
  step moves every non-zero weight towards 0 by the constant amount ``lr * lam``.
- Elastic net (the lecture's ``beta * w**2 + |w|``, with the same ``1/2``):
  ``penalty = lam * sum(beta / 2 * w**2 + |w|)``, gradient ``lam * (beta * w + sign(w))``.
- **Biases are not penalized.** A bias shifts a unit; it does not scale how strongly the
  unit responds to its inputs, so shrinking it does not make the function smoother. In a
  parameter dict, an array whose name starts with ``"b"`` is a bias (``"W1"``, ``"b1"``, ...).
  (``torch.optim.SGD(weight_decay=...)`` decays every parameter it is given, biases included.)

Batch norm follows ``torch.nn.BatchNorm1d``: in training it normalizes with the batch's mean
and biased variance and updates the running statistics with ``momentum`` (the running
variance from the *unbiased* batch variance); in evaluation it normalizes with the running
statistics and leaves them unchanged.
"""

from __future__ import annotations

import numpy as np
import torch

from tnn._validate import (
    as_float_array,
    as_float_tensor,
    check_choice,
    check_int,
    check_param_dicts,
    check_positive,
)
from tnn.reg_experiments import (
    LECTURE,
    RegConfig,
    adam_vs_adamw,
    batchnorm_eval_bug,
    ensemble_curve,
    first_layer_images,
    lecture_split,
    penalty_sweep,
    small_weight_fraction,
    snapshot_accuracy,
    train_with_snapshots,
    weight_penalty,
)

__all__ = [
    "l2_penalty", "l2_penalty_torch", "l1_penalty", "l1_penalty_torch",
    "elastic_net_penalty", "elastic_net_penalty_torch", "penalty", "penalty_torch",
    "is_bias", "sgd_step", "sgd_step_torch", "weight_decay_step", "early_stopping_epoch",
    "early_stopping_epoch_torch", "batchnorm_forward", "batchnorm_forward_torch",
    "LECTURE", "RegConfig", "adam_vs_adamw", "batchnorm_eval_bug", "ensemble_curve",
    "first_layer_images", "lecture_split", "penalty_sweep", "small_weight_fraction",
    "snapshot_accuracy", "train_with_snapshots", "weight_penalty",
]

KINDS = ("l2", "l1", "elastic_net", "none")


def _lam(lam) -> float:
    return check_positive(lam, "lam", allow_zero=True)


# ------------------------------------------------------------------------------------------
# penalties: value and (sub)gradient
# ------------------------------------------------------------------------------------------
def l2_penalty(w, lam: float):
    """L2 penalty ``(lam / 2) * sum(w**2)`` and its gradient ``lam * w``.

    Parameters
    ----------
    w : ndarray of any shape, float32 or float64
        One weight array (never a bias: see the module's convention).
    lam : float >= 0

    Returns
    -------
    value : float
    grad : ndarray of w's shape and dtype
    """
    w = as_float_array(w, "w")
    lam = _lam(lam)
    value = 0.5 * lam * float(np.sum(w.astype(np.float64) ** 2))
    return value, (w * w.dtype.type(lam)).astype(w.dtype, copy=False)


def l2_penalty_torch(w, lam: float):
    """Torch twin of :func:`l2_penalty`: ``(value, grad)`` as tensors on ``w``'s device."""
    w = as_float_tensor(w, "w")
    lam = _lam(lam)
    return 0.5 * lam * (w * w).sum(), w * lam


def l1_penalty(w, lam: float):
    """L1 penalty ``lam * sum(|w|)`` and its subgradient ``lam * sign(w)``, ``sign(0) = 0``.

    Parameters
    ----------
    w : ndarray of any shape, float32 or float64
    lam : float >= 0

    Returns
    -------
    value : float
    grad : ndarray of w's shape and dtype (0 where w == 0)
    """
    w = as_float_array(w, "w")
    lam = _lam(lam)
    value = lam * float(np.sum(np.abs(w.astype(np.float64))))
    return value, (np.sign(w) * w.dtype.type(lam)).astype(w.dtype, copy=False)


def l1_penalty_torch(w, lam: float):
    """Torch twin of :func:`l1_penalty` (``torch.sign(0) = 0`` too)."""
    w = as_float_tensor(w, "w")
    lam = _lam(lam)
    return lam * w.abs().sum(), torch.sign(w) * lam


def elastic_net_penalty(w, lam: float, beta: float):
    """Elastic net ``lam * sum(beta / 2 * w**2 + |w|)`` and its subgradient.

    Parameters
    ----------
    w : ndarray of any shape, float32 or float64
    lam, beta : float >= 0
        ``beta`` weighs the squared term against the absolute one.

    Returns
    -------
    value : float
    grad : ndarray of w's shape and dtype, ``lam * (beta * w + sign(w))``
    """
    beta = check_positive(beta, "beta", allow_zero=True)
    v2, g2 = l2_penalty(w, _lam(lam) * beta)
    v1, g1 = l1_penalty(w, lam)
    return v2 + v1, g2 + g1


def elastic_net_penalty_torch(w, lam: float, beta: float):
    """Torch twin of :func:`elastic_net_penalty`."""
    beta = check_positive(beta, "beta", allow_zero=True)
    v2, g2 = l2_penalty_torch(w, _lam(lam) * beta)
    v1, g1 = l1_penalty_torch(w, lam)
    return v2 + v1, g2 + g1


def _by_kind(kind: str, twin: int):
    """The penalty function of ``kind`` (``twin`` 0: NumPy, 1: torch), or None for "none"."""
    kind = check_choice(kind, "kind", KINDS)
    table = {"l2": (l2_penalty, l2_penalty_torch), "l1": (l1_penalty, l1_penalty_torch),
             "elastic_net": (elastic_net_penalty, elastic_net_penalty_torch)}
    return table[kind][twin] if kind in table else None


def penalty(w, lam: float, kind: str = "l2", beta: float = 1.0):
    """``(value, grad)`` of the penalty ``kind`` in ``{"l2", "l1", "elastic_net", "none"}``."""
    fn = _by_kind(kind, 0)
    if fn is None:
        return 0.0, np.zeros_like(as_float_array(w, "w"))
    return fn(w, lam, beta) if fn is elastic_net_penalty else fn(w, lam)


def penalty_torch(w, lam: float, kind: str = "l2", beta: float = 1.0):
    """Torch twin of :func:`penalty`."""
    fn = _by_kind(kind, 1)
    if fn is None:
        w = as_float_tensor(w, "w")
        return w.new_zeros(()), torch.zeros_like(w)
    return fn(w, lam, beta) if fn is elastic_net_penalty_torch else fn(w, lam)


# ------------------------------------------------------------------------------------------
# one SGD step with a penalty; weight decay
# ------------------------------------------------------------------------------------------
def is_bias(name) -> bool:
    """Whether the parameter called ``name`` is a bias (its name starts with ``"b"``)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"parameter names must be non-empty strings; got {name!r}.")
    return name.startswith("b")


def sgd_step(params: dict, grads: dict, lr: float, lam: float, kind: str = "l2",
             beta: float = 1.0) -> dict:
    """One plain SGD step on the penalized loss: ``p - lr * (grad + penalty gradient)``.

    The penalty gradient is added to weights only; biases (names starting with ``"b"``) get
    the data gradient alone. Nothing is modified in place.

    Parameters
    ----------
    params, grads : dict of str -> ndarray
        The parameters and the gradients of the *data* loss, same names and shapes.
    lr : float > 0
    lam : float >= 0
    kind : {"l2", "l1", "elastic_net", "none"}
    beta : float, elastic net only

    Returns
    -------
    new_params : dict of str -> ndarray, same names, shapes and dtypes as ``params``
    """
    check_param_dicts(params, grads)
    lr = check_positive(lr, "lr")
    out = {}
    for name, p in params.items():
        p = as_float_array(p, name)
        g = as_float_array(grads[name], f"grads[{name!r}]")
        if g.shape != p.shape:
            raise ValueError(f"grads[{name!r}] must have the shape of params[{name!r}], "
                             f"{p.shape}; got {g.shape}.")
        total = g if is_bias(name) else g + penalty(p, lam, kind, beta)[1]
        out[name] = (p - p.dtype.type(lr) * total).astype(p.dtype, copy=False)
    return out


def sgd_step_torch(params: dict, grads: dict, lr: float, lam: float, kind: str = "l2",
                   beta: float = 1.0) -> dict:
    """Torch twin of :func:`sgd_step` (dicts of tensors; new tensors, nothing in place)."""
    check_param_dicts(params, grads)
    lr = check_positive(lr, "lr")
    out = {}
    for name, p in params.items():
        p = as_float_tensor(p, name)
        g = as_float_tensor(grads[name], f"grads[{name!r}]", like=p)
        total = g if is_bias(name) else g + penalty_torch(p, lam, kind, beta)[1]
        out[name] = p - lr * total
    return out


def weight_decay_step(w, grad, lr: float, lam: float):
    """The multiplicative form of an L2 step: ``(1 - lr * lam) * w - lr * grad``.

    Equal to ``sgd_step`` with ``kind="l2"`` on a weight, up to rounding: L2 in plain SGD
    *is* weight decay. (Not so with Adam, whose step divides the gradient, penalty
    included, by a running RMS: see :func:`adam_vs_adamw`.)
    """
    w, grad = as_float_array(w, "w"), as_float_array(grad, "grad")
    lr, lam = check_positive(lr, "lr"), _lam(lam)
    return (w.dtype.type(1.0 - lr * lam) * w - w.dtype.type(lr) * grad).astype(w.dtype)


# ------------------------------------------------------------------------------------------
# early stopping
# ------------------------------------------------------------------------------------------
def early_stopping_epoch(val_acc, patience: int) -> tuple[int, int]:
    """Where early stopping with ``patience`` stops, and which snapshot it keeps.

    ``val_acc[i]`` is the validation accuracy after epoch ``i + 1``. Training stops after the
    first epoch that ends ``patience`` epochs without a strict improvement on the best value
    so far (or at the last epoch); the kept snapshot is the epoch of that best value (the
    earliest, on a tie).

    Parameters
    ----------
    val_acc : sequence of float of length E >= 1 (higher is better)
    patience : int >= 1

    Returns
    -------
    best_epoch, stop_epoch : int, 1-based, ``best_epoch <= stop_epoch <= E``
    """
    curve = as_float_array(val_acc, "val_acc")
    if curve.ndim != 1 or curve.size == 0:
        raise ValueError(f"val_acc must be a non-empty 1-D sequence (one value per epoch); "
                         f"got shape {curve.shape}.")
    patience = check_int(patience, "patience")
    best, best_epoch = -np.inf, 0
    for epoch, value in enumerate(curve.tolist(), start=1):
        if value > best:
            best, best_epoch = value, epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, int(curve.size)


def early_stopping_epoch_torch(val_acc, patience: int) -> tuple[int, int]:
    """Torch twin of :func:`early_stopping_epoch` (a 1-D tensor of accuracies, any device).

    Vectorized: the running maximum (``torch.cummax``) marks the improvements; training stops
    at the first epoch ``patience`` epochs after the last improvement.
    """
    curve = as_float_tensor(val_acc, "val_acc")
    if curve.ndim != 1 or curve.numel() == 0:
        raise ValueError(f"val_acc must be a non-empty 1-D sequence (one value per epoch); "
                         f"got shape {tuple(curve.shape)}.")
    patience = check_int(patience, "patience")
    epochs = torch.arange(1, curve.numel() + 1, device=curve.device)
    previous = torch.cat([curve.new_full((1,), -torch.inf), torch.cummax(curve, 0).values[:-1]])
    improved = curve > previous  # (E,) strict improvements
    last_best = torch.cummax(torch.where(improved, epochs, torch.zeros_like(epochs)), 0).values
    stops = torch.nonzero(epochs - last_best >= patience)
    stop = int(stops[0, 0]) + 1 if stops.numel() else int(curve.numel())
    return int(last_best[stop - 1]), stop


# ------------------------------------------------------------------------------------------
# batch norm: training (batch statistics) versus evaluation (running statistics)
# ------------------------------------------------------------------------------------------
def _check_bn(shape, gamma, beta, running_mean, running_var, name_of=lambda a: a) -> None:
    if len(shape) != 2:
        raise ValueError(f"x must have shape (N, D); got shape {tuple(shape)}.")
    for name, a in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if tuple(a.shape) != (shape[1],):
            raise ValueError(f"{name} must have shape ({shape[1]},), one value per feature of "
                             f"x; got {tuple(a.shape)}.")


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training: bool,
                      momentum: float = 0.1, eps: float = 1e-5):
    """Batch norm's forward pass, as ``torch.nn.BatchNorm1d`` computes it.

    Training: ``mu, var`` = the batch's mean and biased variance per feature,
    ``out = gamma * (x - mu) / sqrt(var + eps) + beta``, and the running statistics move
    towards the batch's: ``running = (1 - momentum) * running + momentum * batch_stat``, with
    the *unbiased* variance ``var * N / (N - 1)`` for ``running_var``.
    Evaluation: the same formula with ``running_mean, running_var``, which stay unchanged.

    Parameters
    ----------
    x : ndarray of shape (N, D), float32 or float64 (N >= 2 in training)
    gamma, beta, running_mean, running_var : ndarrays of shape (D,)
    training : bool
    momentum : float in (0, 1]
    eps : float > 0

    Returns
    -------
    out : ndarray of shape (N, D)
    new_running_mean, new_running_var : ndarrays of shape (D,); new arrays, the inputs are
        never modified
    """
    x = as_float_array(x, "x")
    gamma, beta = as_float_array(gamma, "gamma"), as_float_array(beta, "beta")
    rm, rv = as_float_array(running_mean, "running_mean"), as_float_array(running_var,
                                                                            "running_var")
    _check_bn(x.shape, gamma, beta, rm, rv)
    momentum, eps = check_positive(momentum, "momentum"), check_positive(eps, "eps")
    if training:
        n = x.shape[0]
        if n < 2:
            raise ValueError("batch norm in training needs at least 2 examples per batch (the "
                             f"variance of one example is 0); got N = {n}.")
        mean = x.mean(axis=0)  # (D,)
        var = x.var(axis=0)  # (D,) biased: what normalizes the batch
        new_rm = (1 - momentum) * rm + momentum * mean
        new_rv = (1 - momentum) * rv + momentum * var * (n / (n - 1))
    else:
        mean, var = rm, rv
        new_rm, new_rv = rm.copy(), rv.copy()
    out = gamma * (x - mean) / np.sqrt(var + eps) + beta
    return out.astype(x.dtype, copy=False), new_rm, new_rv


def batchnorm_forward_torch(x, gamma, beta, running_mean, running_var, training: bool,
                            momentum: float = 0.1, eps: float = 1e-5):
    """Torch twin of :func:`batchnorm_forward`: tensors on ``x``'s device, nothing in place."""
    x = as_float_tensor(x, "x")
    gamma, beta = as_float_tensor(gamma, "gamma", like=x), as_float_tensor(beta, "beta", like=x)
    rm = as_float_tensor(running_mean, "running_mean", like=x)
    rv = as_float_tensor(running_var, "running_var", like=x)
    _check_bn(tuple(x.shape), gamma, beta, rm, rv)
    momentum, eps = check_positive(momentum, "momentum"), check_positive(eps, "eps")
    if training:
        n = x.shape[0]
        if n < 2:
            raise ValueError("batch norm in training needs at least 2 examples per batch (the "
                             f"variance of one example is 0); got N = {n}.")
        var, mean = torch.var_mean(x, dim=0, correction=0)  # (D,) each
        new_rm = (1 - momentum) * rm + momentum * mean
        new_rv = (1 - momentum) * rv + momentum * var * (n / (n - 1))
    else:
        mean, var = rm, rv
        new_rm, new_rv = rm.clone(), rv.clone()
    out = gamma * (x - mean) / torch.sqrt(var + eps) + beta
    return out, new_rm, new_rv
