"""Stochastic depth (Huang et al. 2016), part of topic 05 and re-exported by :mod:`tnn.dropout`.

Residual blocks ``h <- h + relu(h @ W_l)`` are skipped at random during training (block l runs
with its survival probability) and all run at test time, each branch scaled by its survival
probability: dropout applied to whole blocks.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from tnn._validate import (
    _describe,
    as_float_array,
    as_float_tensor,
    check_generator,
    check_rng,
)
from tnn.dropout import check_keep_prob

__all__ = [
    "linear_survival",
    "stochastic_depth_gates",
    "stochastic_depth_gates_torch",
    "residual_stack_forward",
    "residual_stack_forward_torch",
]


# --------------------------------------------------------------------------------------------
def linear_survival(n_blocks: int, last: float = 0.5) -> np.ndarray:
    """Huang et al.'s linear decay: block l (1-based) survives with 1 - l/L (1 - last)."""
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, numbers.Integral) or n_blocks < 1:
        raise ValueError(f"n_blocks must be a positive int; got {_describe(n_blocks)}.")
    check_keep_prob(last, "last")
    return 1.0 - np.arange(1, n_blocks + 1) / n_blocks * (1.0 - last)


def stochastic_depth_gates(rng: np.random.Generator, survival) -> np.ndarray:
    """One boolean per block, True (the block runs) with probability ``survival[l]``."""
    check_rng(rng)
    survival = np.asarray([check_keep_prob(s, "survival") for s in np.ravel(survival)])
    return rng.random(survival.shape) < survival


def stochastic_depth_gates_torch(generator: torch.Generator, survival) -> torch.Tensor:
    """Torch twin of :func:`stochastic_depth_gates`."""
    check_generator(generator)
    s = torch.as_tensor([check_keep_prob(float(v), "survival") for v in np.ravel(survival)],
                        device=generator.device)
    return torch.rand(s.shape, generator=generator, device=generator.device) < s


def _check_stack(x_shape, n_weights, gates, survival) -> None:
    if len(x_shape) != 2:
        raise ValueError(f"x must have shape (N, D); got {tuple(x_shape)}.")
    if len(survival) != n_weights:
        raise ValueError(f"survival must hold one probability per block ({n_weights}); got "
                         f"{len(survival)}.")
    if gates is not None and len(gates) != n_weights:
        raise ValueError(f"gates must hold one boolean per block ({n_weights}); got "
                         f"{len(gates)}.")


def residual_stack_forward(x, weights, survival, gates=None) -> np.ndarray:
    """A stack of residual blocks ``h <- h + relu(h @ W_l)`` with stochastic depth.

    Training (``gates`` given): block l runs when ``gates[l]`` is True and is skipped
    (``h <- h``) otherwise. Test (``gates=None``): every block runs, its branch scaled by
    its survival probability, ``h <- h + survival[l] * relu(h @ W_l)``.

    Parameters
    ----------
    x : ndarray of shape (N, D)
    weights : list of L ndarrays of shape (D, D)
    survival : sequence of L floats in (0, 1]
    gates : ndarray of L bools, optional

    Returns
    -------
    h : ndarray of shape (N, D)
    """
    h = as_float_array(x)
    survival = [check_keep_prob(float(s), "survival") for s in np.ravel(survival)]
    _check_stack(h.shape, len(weights), gates, survival)
    for i, w in enumerate(weights):
        w = as_float_array(w, f"weights[{i}]").astype(h.dtype, copy=False)
        branch = np.maximum(h @ w, 0)  # (N, D)
        if gates is None:
            h = h + np.asarray(survival[i], dtype=h.dtype) * branch
        elif bool(gates[i]):
            h = h + branch
    return h


def residual_stack_forward_torch(x, weights, survival, gates=None) -> torch.Tensor:
    """Torch twin of :func:`residual_stack_forward`."""
    h = as_float_tensor(x)
    survival = [check_keep_prob(float(s), "survival") for s in np.ravel(survival)]
    _check_stack(h.shape, len(weights), gates, survival)
    for i, w in enumerate(weights):
        branch = torch.relu(h @ as_float_tensor(w, f"weights[{i}]", like=h))
        if gates is None:
            h = h + survival[i] * branch
        elif bool(gates[i]):
            h = h + branch
    return h
