"""Topic 03, the initializers: fan-in and fan-out, the activation gain, and the normal,
constant and orthogonal initializations, each with its torch twin.

:mod:`tnn.initialization` re-exports everything here. Weights have the lecture's layout
``(D_in, D_out)`` for a linear layer and PyTorch's ``(C_out, C_in, k_h, k_w)`` for a
convolution. Each initializer takes an explicit ``np.random.Generator`` (the torch twin a
``torch.Generator``) and makes one draw, so the results repeat.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from tnn._validate import (
    check_choice,
    check_generator,
    check_positive,
    check_rng,
    check_shape,
)

__all__ = [
    "fan_in",
    "fan_out",
    "gain",
    "constant_init",
    "constant_init_torch",
    "xavier_normal",
    "xavier_normal_torch",
    "kaiming_normal",
    "kaiming_normal_torch",
    "orthogonal",
    "orthogonal_torch",
]


# --------------------------------------------------------------------------------------------
# Fan-in and fan-out
# --------------------------------------------------------------------------------------------
def fan_in(shape) -> int:
    """Number of inputs each output unit sums over.

    Parameters
    ----------
    shape : tuple of int
        ``(D_in, D_out)`` for a linear weight (the lecture's ``x @ W`` layout) or
        ``(C_out, C_in, k_h, k_w)`` (any number of kernel axes) for a convolution weight.

    Returns
    -------
    fan_in : int
        ``D_in``, or ``C_in * k_h * k_w`` for a convolution (the lecture's
        ``filter_size^2 * input_channels``).
    """
    shape = check_shape(shape)
    if len(shape) == 2:
        return shape[0]
    return shape[1] * math.prod(shape[2:])


def fan_out(shape) -> int:
    """Number of outputs each input feeds: ``D_out``, or ``C_out * k_h * k_w`` for conv."""
    shape = check_shape(shape)
    if len(shape) == 2:
        return shape[1]
    return shape[0] * math.prod(shape[2:])


#: Gains of :func:`gain`, as in ``torch.nn.init.calculate_gain`` (leaky_relu is computed).
_GAINS = {
    "linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0, "conv_transpose3d": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3,
    "relu": math.sqrt(2.0), "selu": 3.0 / 4,
}


def gain(activation: str, negative_slope: float | None = None) -> float:
    """The recommended weight-std gain for ``activation`` (``torch.nn.init.calculate_gain``).

    Variance-preserving initializations draw ``W ~ N(0, gain^2 / fan)``. ReLU zeroes half
    of a zero-mean input, halving its second moment, so ``gain = sqrt(2)``; Leaky ReLU with
    slope ``a`` keeps ``(1 + a^2) / 2`` of it, so ``gain = sqrt(2 / (1 + a^2))``
    (``negative_slope`` defaults to 0.01 there, as in PyTorch); tanh 5/3, SELU 3/4, linear,
    convolution and sigmoid 1.

    Parameters
    ----------
    activation : str
        "linear", "conv1d", ..., "sigmoid", "tanh", "relu", "leaky_relu" or "selu".
    negative_slope : float >= 0, optional
        Only for "leaky_relu".

    Returns
    -------
    gain : float
    """
    if activation == "leaky_relu":
        a = 0.01 if negative_slope is None else check_positive(
            negative_slope, "negative_slope", allow_zero=True)
        return math.sqrt(2.0 / (1.0 + a * a))
    check_choice(activation, "activation", (*_GAINS, "leaky_relu"))
    return _GAINS[activation]


# --------------------------------------------------------------------------------------------
# Initializers
# --------------------------------------------------------------------------------------------
def constant_init(shape, value: float = 0.0, dtype=np.float64) -> np.ndarray:
    """Every weight equal to ``value``: the initialization that never breaks symmetry.

    Parameters
    ----------
    shape : tuple of int
    value : float
    dtype : NumPy float dtype

    Returns
    -------
    w : ndarray of shape ``shape``
    """
    shape = check_shape(shape)
    return np.full(shape, float(value), dtype=dtype)


def constant_init_torch(shape, value: float = 0.0, dtype=torch.float32, device="cpu"):
    """Torch twin of :func:`constant_init`."""
    shape = check_shape(shape)
    return torch.full(shape, float(value), dtype=dtype, device=device)


def xavier_normal(rng, shape, gain: float = 1.0, dtype=np.float64) -> np.ndarray:
    """The lecture's "Xavier" initialization: ``W ~ N(0, gain^2 / fan_in)``.

    This is ``randn(D_in, D_out) / sqrt(D_in)``: each output of ``x @ W`` then has the
    variance of one input, whatever the width. (Glorot and Bengio 2010 average fan-in and
    fan-out, ``2 / (fan_in + fan_out)``, which is what ``torch.nn.init.xavier_normal_`` does;
    the two agree for square layers. The fan-in-only version is also called LeCun init.)

    Parameters
    ----------
    rng : np.random.Generator
        One ``rng.standard_normal(shape, dtype=dtype)`` call is made.
    shape : tuple of int
        ``(D_in, D_out)`` or ``(C_out, C_in, k_h, k_w)``; see :func:`fan_in`.
    gain : float > 0, default 1
    dtype : np.float64 or np.float32
        float32 draws a different (faster) stream of normals than float64.

    Returns
    -------
    w : ndarray of shape ``shape``
    """
    check_rng(rng)
    std = check_positive(gain, "gain") / math.sqrt(fan_in(shape))
    return rng.standard_normal(tuple(shape), dtype=dtype) * np.asarray(std, dtype=dtype)


def xavier_normal_torch(generator, shape, gain: float = 1.0, dtype=torch.float32):
    """Torch twin of :func:`xavier_normal`, sampled on ``generator``'s device."""
    check_generator(generator)
    std = check_positive(gain, "gain") / math.sqrt(fan_in(shape))
    w = torch.randn(tuple(shape), generator=generator, dtype=dtype, device=generator.device)
    return w * std


def kaiming_normal(rng, shape, negative_slope: float = 0.0, dtype=np.float64) -> np.ndarray:
    """He et al. (2015) initialization for ReLU: ``W ~ N(0, 2 / fan_in)``.

    A ReLU zeroes half of a zero-mean input, halving its second moment; the factor 2 puts it
    back. For Leaky ReLU with slope ``a`` the factor is ``2 / (1 + a^2)``.

    Parameters
    ----------
    rng : np.random.Generator
        One ``rng.standard_normal(shape, dtype=dtype)`` call is made.
    shape : tuple of int
        ``(D_in, D_out)`` or ``(C_out, C_in, k_h, k_w)``; see :func:`fan_in`.
    negative_slope : float >= 0, default 0 (ReLU)
    dtype : np.float64 or np.float32

    Returns
    -------
    w : ndarray of shape ``shape``, std ``sqrt(2 / ((1 + a^2) fan_in))``
    """
    check_rng(rng)
    a = check_positive(negative_slope, "negative_slope", allow_zero=True)
    std = gain("leaky_relu", a) / math.sqrt(fan_in(shape))  # sqrt(2 / ((1 + a^2) fan_in))
    return rng.standard_normal(tuple(shape), dtype=dtype) * np.asarray(std, dtype=dtype)


def kaiming_normal_torch(generator, shape, negative_slope: float = 0.0, dtype=torch.float32):
    """Torch twin of :func:`kaiming_normal`, sampled on ``generator``'s device."""
    check_generator(generator)
    a = check_positive(negative_slope, "negative_slope", allow_zero=True)
    std = gain("leaky_relu", a) / math.sqrt(fan_in(shape))
    w = torch.randn(tuple(shape), generator=generator, dtype=dtype, device=generator.device)
    return w * std


def orthogonal(rng, shape, gain: float = 1.0, dtype=np.float64) -> np.ndarray:
    """A random (semi-)orthogonal matrix (Saxe et al. 2013), the starting point of LSUV.

    QR of a Gaussian matrix, with the signs of ``R``'s diagonal folded into ``Q`` so that the
    result is uniformly distributed (the recipe of ``torch.nn.init.orthogonal_``).

    Parameters
    ----------
    rng : np.random.Generator
    shape : tuple of int
        A conv shape is flattened to ``(C_out, C_in * k_h * k_w)`` rows first.
    gain : float > 0

    Returns
    -------
    w : ndarray of shape ``shape``; for (R, C) with R <= C the rows are orthonormal
        (``w @ w.T = gain^2 I``), otherwise the columns are.
    """
    check_rng(rng)
    shape = check_shape(shape)
    gain = check_positive(gain, "gain")
    rows, cols = shape[0], math.prod(shape[1:])
    flat = rng.standard_normal((max(rows, cols), min(rows, cols)))  # tall: (big, small)
    q, r = np.linalg.qr(flat)  # q: (big, small) with orthonormal columns
    q = q * np.sign(np.diag(r))  # uniform over the orthogonal group
    if rows < cols:
        q = q.T  # (rows, cols) with orthonormal rows
    return (gain * q).reshape(shape).astype(dtype, copy=False)


def orthogonal_torch(generator, shape, gain: float = 1.0, dtype=torch.float32):
    """Torch twin of :func:`orthogonal`, computed on ``generator``'s device."""
    check_generator(generator)
    shape = check_shape(shape)
    gain = check_positive(gain, "gain")
    rows, cols = shape[0], math.prod(shape[1:])
    flat = torch.randn((max(rows, cols), min(rows, cols)), generator=generator,
                       dtype=torch.float64, device=generator.device)
    q, r = torch.linalg.qr(flat)
    q = q * torch.sign(torch.diagonal(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).to(dtype)


