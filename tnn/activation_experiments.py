"""Topic 01, the experiments: a deep network probed layer by layer (vanishing gradients,
saturation, dead units), and one linear unit trained by SGD (why zero-centred inputs matter).
:mod:`tnn.activations` re-exports everything here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from tnn._validate import (
    _describe,
    as_float_array,
    as_float_tensor,
    check_positive,
    check_positive_int,
    check_rng,
    check_weight_chain,
)
from tnn.layerstats import layer_stats, layer_stats_torch

__all__ = [
    "sample_mlp_weights",
    "probe_deep_network",
    "probe_deep_network_torch",
    "linear_unit_sgd_path",
    "same_sign_fraction",
    "settle_step",
    "sgd_lr_sweep",
]


# --------------------------------------------------------------------------------------------
# The deep-network probe: forward and backward statistics layer by layer
# --------------------------------------------------------------------------------------------
def sample_mlp_weights(
    rng: np.random.Generator, depth: int, width: int, in_features: int | None = None,
    gain: float = 1.0, dtype=np.float32,
) -> list[np.ndarray]:
    """Sample ``depth`` weight matrices ``W_l ~ N(0, gain^2 / fan_in)``.

    Parameters
    ----------
    rng : np.random.Generator
    depth : int >= 1
    width : int >= 1
    in_features : int, optional
        Fan-in of the first layer (defaults to ``width``).
    gain : float > 0
        1 gives Xavier/LeCun ``1/sqrt(fan_in)``; ``sqrt(2)`` gives Kaiming for ReLU.

    Returns
    -------
    weights : list of ``depth`` ndarrays; the first of shape (in_features, width), the rest
        (width, width)
    """
    check_rng(rng)
    depth, width = check_positive_int(depth, "depth"), check_positive_int(width, "width")
    gain = check_positive(gain, "gain")
    fan_in = width if in_features is None else int(in_features)
    weights = []
    for _ in range(depth):
        w = rng.standard_normal((fan_in, width), dtype=np.float32) * (gain / math.sqrt(fan_in))
        weights.append(w.astype(dtype, copy=False))
        fan_in = width
    return weights


def _probe_dict(stats) -> dict:
    """The probe's view of a :class:`tnn.layerstats.LayerStats`."""
    return {
        "act_mean": stats.mean,
        "act_std": stats.std,
        "saturated": stats.saturated,
        "dead": stats.dead,
        "grad_std": stats.grad_std,
        "weight_grad_norm": stats.weight_grad_norm,
        "activations": stats.activations,
        "input_grads": stats.input_grads,
    }


def probe_deep_network(x, weights: Sequence, activation: str = "tanh", dout=None) -> dict:
    """Push a batch through ``h_l = f(h_{l-1} W_l)`` and back, recording layer statistics.

    The backward pass starts from ``dL/dh_L = dout`` (ones when omitted, so the loss is the
    sum of the last layer's outputs) and applies ``dL/dz = dL/dh * f'(z)`` and
    ``dL/dh_{l-1} = dL/dz W_l^T`` by hand. The probe itself is
    :func:`tnn.layerstats.layer_stats`; this is topic 01's view of it.

    Parameters
    ----------
    x : ndarray of shape (N, D)
    weights : sequence of L ndarrays, ``weights[l]`` of shape (D_l, D_{l+1})
    activation : str, a key of :data:`tnn.activations.ACTIVATIONS`
    dout : ndarray of shape (N, D_L), optional

    Returns
    -------
    stats : dict of ndarrays of shape (L,) unless noted
        ``act_mean``, ``act_std``: mean and std of each layer's output ``h_l``;
        ``saturated``: :func:`tnn.activations.saturated_fraction` of each ``z_l``; ``dead``:
        :func:`tnn.activations.dead_unit_fraction` of each ``z_l`` for ReLU (0 for the others, whose
        gradient never vanishes exactly); ``grad_std``: std of ``dL/dh_{l}`` at
        each layer's *input* (``l = 0`` is the network input); ``weight_grad_norm``: the
        Frobenius norm of ``dL/dW_l``; ``activations``: list of the L outputs ``h_l``, and
        ``input_grads``: list of the L gradients ``dL/dh_{l-1}``.
    """
    x = as_float_array(x)
    weights = [as_float_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
    check_weight_chain(x.shape, [w.shape for w in weights])
    n, d_out = x.shape[0], weights[-1].shape[1]
    dout = np.ones((n, d_out), dtype=np.result_type(x, *weights)) if dout is None else dout
    return _probe_dict(layer_stats(x, weights, activation, dout=dout, bins=None))


def probe_deep_network_torch(x, weights: Sequence, activation: str = "tanh", dout=None) -> dict:
    """Torch twin of :func:`probe_deep_network`; the backward pass is torch.autograd's.

    ``x`` and ``weights`` may be arrays or tensors; everything runs on ``x``'s device when
    ``x`` is a tensor. Returned statistics are NumPy arrays, the per-layer tensors stay
    tensors on that device.
    """
    x = as_float_tensor(x)
    weights = [as_float_tensor(w, f"weights[{i}]", like=x) for i, w in enumerate(weights)]
    check_weight_chain(tuple(x.shape), [tuple(w.shape) for w in weights])
    if dout is None:
        dout = torch.ones((x.shape[0], weights[-1].shape[1]), dtype=x.dtype, device=x.device)
    return _probe_dict(layer_stats_torch(x, weights, activation, dout=dout, bins=None))


# --------------------------------------------------------------------------------------------
# Why zero-centred inputs matter: SGD on one linear unit
# --------------------------------------------------------------------------------------------
def linear_unit_sgd_path(X, w_target, w0, lr: float = 0.05, batch_size: int = 1) -> np.ndarray:
    """Train one linear unit ``y = w . x`` on targets ``w_target . x`` with mini-batch SGD.

    The loss of one example is ``(w.x - y)^2 / 2`` and its gradient ``(w.x - y) x``. With
    ``batch_size = 1`` and every ``x_i > 0``, all components of that gradient share the sign of
    the residual, so each step moves all weights up together or all down together. A
    mini-batch averages examples whose residuals may differ in sign, which breaks the rule.

    Parameters
    ----------
    X : ndarray of shape (T, D)
        The examples, used in order, ``batch_size`` per step (a last partial batch is dropped).
    w_target, w0 : ndarray of shape (D,)
    lr : float > 0
    batch_size : int >= 1

    Returns
    -------
    path : ndarray of float64, shape (T // batch_size + 1, D)
        The weights before the first step and after each step. A learning rate too large
        for the data makes the path grow to inf or NaN (silently: no warning is raised).
    """
    X = as_float_array(X, "X")
    w_target = as_float_array(w_target, "w_target")
    w = np.array(as_float_array(w0, "w0"), dtype=np.float64)
    lr = check_positive(lr, "lr")
    if X.ndim != 2 or w_target.shape != (X.shape[1],) or w.shape != (X.shape[1],):
        raise ValueError(
            f"X must have shape (T, D) and w_target, w0 shape (D,); got {X.shape}, "
            f"{w_target.shape}, {w.shape}."
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or not (
            1 <= batch_size <= X.shape[0]):
        raise ValueError(f"batch_size must be an int from 1 to T = {X.shape[0]}; "
                         f"got {_describe(batch_size)}.")
    path = [w.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, X.shape[0] - batch_size + 1, batch_size):
            xb = X[start:start + batch_size]  # (B, D)
            residual = xb @ w - xb @ w_target  # (B,): dL/dz for each example
            w = w - lr * (residual @ xb) / batch_size  # (D,); one sign per example when B = 1
            path.append(w.copy())
    return np.array(path)


def same_sign_fraction(path) -> float:
    """Share of the steps of a weight path whose update moves every weight the same way.

    Parameters
    ----------
    path : ndarray of shape (S + 1, D)
        Weights before and after each of ``S`` steps (:func:`linear_unit_sgd_path`).

    Returns
    -------
    fraction : float in [0, 1]
        Among the steps that move every weight, those whose components are all > 0 or all < 0.
    """
    path = as_float_array(path, "path")
    if path.ndim != 2 or path.shape[0] < 2:
        raise ValueError(f"path must have shape (S + 1, D) with S >= 1; got {path.shape}.")
    steps = np.diff(path, axis=0)  # (S, D)
    moving = np.all(steps != 0, axis=1) & np.all(np.isfinite(steps), axis=1)
    if not moving.any():
        return 0.0
    signs = np.sign(steps[moving])
    return float(np.mean(np.all(signs == signs[:, :1], axis=1)))


def settle_step(path, w_target, tol: float = 0.1) -> int | None:
    """First step after which the weights stay within ``tol`` of ``w_target`` to the end.

    Parameters
    ----------
    path : ndarray of shape (S + 1, D)
    w_target : ndarray of shape (D,)
    tol : float > 0

    Returns
    -------
    step : int in [0, S], or None when the last weights are not within ``tol`` (the run did
        not converge, or diverged).
    """
    path = as_float_array(path, "path")
    w_target = as_float_array(w_target, "w_target")
    tol = check_positive(tol, "tol")
    with np.errstate(over="ignore", invalid="ignore"):
        dist = np.linalg.norm(path - w_target, axis=1)  # (S + 1,)
    inside = dist < tol  # False for NaN
    if not inside[-1]:
        return None
    outside = np.flatnonzero(~inside)
    return 0 if outside.size == 0 else int(outside[-1]) + 1


def sgd_lr_sweep(X, w_target, w0, lrs, batch_size: int = 1, tol: float = 0.1) -> dict:
    """:func:`settle_step` of :func:`linear_unit_sgd_path` for each learning rate in ``lrs``.

    Returns
    -------
    steps : dict mapping each lr (float) to its settle step (int), or None where the run
        does not end within ``tol`` of ``w_target`` (too slow, or unstable).
    """
    return {float(lr): settle_step(linear_unit_sgd_path(X, w_target, w0, lr, batch_size),
                                   w_target, tol) for lr in lrs}
