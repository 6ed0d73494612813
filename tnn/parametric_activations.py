"""Topic 01, the activations with parameters: PReLU (a learned slope) and Maxout (two affine
pieces), each with its backward pass ``*_backward(dout, ...)`` returning the gradients of
every input, and their torch twins. :mod:`tnn.activations` re-exports everything here.
"""

from __future__ import annotations

import numpy as np
import torch

from tnn._validate import (
    as_float_array,
    as_float_tensor,
    unwrap_0d,
)

__all__ = [
    "prelu",
    "prelu_torch",
    "prelu_backward",
    "prelu_backward_torch",
    "maxout",
    "maxout_torch",
    "maxout_backward",
    "maxout_backward_torch",
]


# --------------------------------------------------------------------------------------------
# PReLU: max(a x, x) with a learned slope a, per channel or shared
# --------------------------------------------------------------------------------------------
def _check_slope_shape(x_shape, slope_shape, name="slope"):
    if slope_shape not in ((), (1,)):
        if len(x_shape) < 2 or slope_shape != (x_shape[1],):
            raise ValueError(
                f"{name} must be a scalar, shape (1,), or shape (C,) with one slope per channel "
                f"of x's axis 1; got shape {slope_shape} for x of shape {x_shape}."
            )


def _slope_view(slope, x_ndim):
    """Reshape a per-channel slope (C,) to broadcast along axis 1 of x: (1, C, 1, ...)."""
    if slope.ndim == 1 and slope.shape[0] > 1:
        return slope.reshape((1, -1) + (1,) * (x_ndim - 2))
    return slope.reshape(())


def prelu(x, slope):
    """Parametric ReLU ``max(a * x, x)`` with a learned slope ``a`` (He et al. 2015).

    Parameters
    ----------
    x : ndarray of shape (N, C, ...) or any shape when ``slope`` is a scalar
    slope : float or ndarray of shape (1,) or (C,)
        One slope for all units, or one per channel (axis 1 of ``x``), like ``nn.PReLU``.

    Returns
    -------
    y : same shape and dtype as ``x``
    """
    x = as_float_array(x)
    slope = as_float_array(slope, "slope")
    _check_slope_shape(x.shape, slope.shape)
    a = _slope_view(slope, x.ndim)
    return unwrap_0d(np.where(x > 0, x, a * x).astype(x.dtype, copy=False))


def prelu_torch(x, slope):
    """Torch twin of :func:`prelu`."""
    x = as_float_tensor(x)
    slope = as_float_tensor(slope, "slope").to(device=x.device, dtype=x.dtype)
    _check_slope_shape(tuple(x.shape), tuple(slope.shape))
    a = _slope_view(slope, x.ndim)
    return torch.where(x > 0, x, a * x)


def prelu_backward(dout, x, slope):
    """Gradients of PReLU: ``dL/dx`` and ``dL/dslope``.

    ``dy/dx = 1`` where ``x > 0`` else ``a``; ``dy/da = x`` where ``x <= 0`` else 0, summed
    over every position that shares the slope.

    Parameters
    ----------
    dout : ndarray, same shape as ``x``
        Upstream gradient ``dL/dy``.
    x : ndarray of shape (N, C, ...)
    slope : float or ndarray of shape (1,) or (C,)

    Returns
    -------
    dx : ndarray, same shape as ``x``
    dslope : ndarray, same shape as ``slope``
    """
    x = as_float_array(x)
    dout = as_float_array(dout, "dout")
    slope = as_float_array(slope, "slope")
    if dout.shape != x.shape:
        raise ValueError(f"dout must have x's shape {x.shape}; got {dout.shape}.")
    _check_slope_shape(x.shape, slope.shape)
    a = _slope_view(slope, x.ndim)
    positive = x > 0
    dx = np.where(positive, dout, a * dout)  # (N, C, ...)
    contrib = np.where(positive, 0.0, x * dout)  # (N, C, ...)
    if slope.ndim == 1 and slope.shape[0] > 1:
        axes = tuple(i for i in range(x.ndim) if i != 1)
        dslope = contrib.sum(axis=axes)  # (C,)
    else:
        dslope = np.asarray(contrib.sum()).reshape(slope.shape)
    return unwrap_0d(dx.astype(x.dtype, copy=False)), unwrap_0d(dslope.astype(slope.dtype, copy=False))


def prelu_backward_torch(dout, x, slope):
    """Torch twin of :func:`prelu_backward`."""
    x = as_float_tensor(x)
    dout = as_float_tensor(dout, "dout").to(device=x.device, dtype=x.dtype)
    slope = as_float_tensor(slope, "slope").to(device=x.device, dtype=x.dtype)
    if dout.shape != x.shape:
        raise ValueError(f"dout must have x's shape {tuple(x.shape)}; got {tuple(dout.shape)}.")
    _check_slope_shape(tuple(x.shape), tuple(slope.shape))
    a = _slope_view(slope, x.ndim)
    positive = x > 0
    dx = torch.where(positive, dout, a * dout)
    contrib = torch.where(positive, torch.zeros_like(x), x * dout)
    if slope.ndim == 1 and slope.shape[0] > 1:
        dims = [i for i in range(x.ndim) if i != 1]
        dslope = contrib.sum(dim=dims)
    else:
        dslope = contrib.sum().reshape(slope.shape)
    return dx, dslope


# --------------------------------------------------------------------------------------------
# Maxout: max(x W1 + b1, x W2 + b2), two affine pieces (doubles the parameters)
# --------------------------------------------------------------------------------------------
def _check_maxout_shapes(x_shape, w1_shape, b1_shape, w2_shape, b2_shape):
    if len(x_shape) != 2:
        raise ValueError(f"x must have shape (N, D); got shape {x_shape} ({len(x_shape)}-d).")
    if len(w1_shape) != 2 or w1_shape[0] != x_shape[1]:
        raise ValueError(
            f"w1 must have shape (D, H) with D = {x_shape[1]} (x's second axis); got {w1_shape}."
        )
    if w2_shape != w1_shape:
        raise ValueError(f"w2 must have the same shape as w1, {w1_shape}; got {w2_shape}.")
    for name, shape in (("b1", b1_shape), ("b2", b2_shape)):
        if shape != (w1_shape[1],):
            raise ValueError(f"{name} must have shape (H,) = ({w1_shape[1]},); got {shape}.")


def maxout(x, w1, b1, w2, b2):
    """Maxout unit with two pieces: ``max(x @ w1 + b1, x @ w2 + b2)``.

    Parameters
    ----------
    x : ndarray of shape (N, D)
    w1, w2 : ndarray of shape (D, H)
    b1, b2 : ndarray of shape (H,)

    Returns
    -------
    y : ndarray of shape (N, H)
    """
    x = as_float_array(x)
    w1, b1 = as_float_array(w1, "w1"), as_float_array(b1, "b1")
    w2, b2 = as_float_array(w2, "w2"), as_float_array(b2, "b2")
    _check_maxout_shapes(x.shape, w1.shape, b1.shape, w2.shape, b2.shape)
    z1 = x @ w1 + b1  # (N, H)
    z2 = x @ w2 + b2  # (N, H)
    return np.maximum(z1, z2)


def maxout_torch(x, w1, b1, w2, b2):
    """Torch twin of :func:`maxout`."""
    x = as_float_tensor(x)
    w1, b1, w2, b2 = (
        as_float_tensor(t, n).to(device=x.device, dtype=x.dtype)
        for t, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))
    )
    _check_maxout_shapes(
        tuple(x.shape), tuple(w1.shape), tuple(b1.shape), tuple(w2.shape), tuple(b2.shape)
    )
    return torch.maximum(x @ w1 + b1, x @ w2 + b2)


def maxout_backward(dout, x, w1, b1, w2, b2):
    """Gradients of :func:`maxout`: the upstream gradient flows into the winning piece only.

    Ties (``z1 == z2``) send the gradient to the first piece.

    Parameters
    ----------
    dout : ndarray of shape (N, H)
    x, w1, b1, w2, b2 : as in :func:`maxout`

    Returns
    -------
    dx : ndarray of shape (N, D)
    dw1, dw2 : ndarray of shape (D, H)
    db1, db2 : ndarray of shape (H,)
    """
    x = as_float_array(x)
    w1, b1 = as_float_array(w1, "w1"), as_float_array(b1, "b1")
    w2, b2 = as_float_array(w2, "w2"), as_float_array(b2, "b2")
    _check_maxout_shapes(x.shape, w1.shape, b1.shape, w2.shape, b2.shape)
    dout = as_float_array(dout, "dout")
    if dout.shape != (x.shape[0], w1.shape[1]):
        raise ValueError(f"dout must have shape (N, H) = {(x.shape[0], w1.shape[1])}; got {dout.shape}.")
    first = (x @ w1 + b1) >= (x @ w2 + b2)  # (N, H): which piece won
    d1 = np.where(first, dout, 0.0)  # (N, H)
    d2 = np.where(first, 0.0, dout)  # (N, H)
    dx = d1 @ w1.T + d2 @ w2.T  # (N, D)
    return dx, x.T @ d1, d1.sum(axis=0), x.T @ d2, d2.sum(axis=0)


def maxout_backward_torch(dout, x, w1, b1, w2, b2):
    """Torch twin of :func:`maxout_backward`."""
    x = as_float_tensor(x)
    w1, b1, w2, b2 = (
        as_float_tensor(t, n).to(device=x.device, dtype=x.dtype)
        for t, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))
    )
    _check_maxout_shapes(
        tuple(x.shape), tuple(w1.shape), tuple(b1.shape), tuple(w2.shape), tuple(b2.shape)
    )
    dout = as_float_tensor(dout, "dout").to(device=x.device, dtype=x.dtype)
    if tuple(dout.shape) != (x.shape[0], w1.shape[1]):
        raise ValueError(
            f"dout must have shape (N, H) = {(x.shape[0], w1.shape[1])}; got {tuple(dout.shape)}."
        )
    first = (x @ w1 + b1) >= (x @ w2 + b2)
    zero = torch.zeros_like(dout)
    d1 = torch.where(first, dout, zero)
    d2 = torch.where(first, zero, dout)
    return d1 @ w1.T + d2 @ w2.T, x.T @ d1, d1.sum(0), x.T @ d2, d2.sum(0)
