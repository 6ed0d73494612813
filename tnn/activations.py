"""Topic 01: activation functions, their derivatives, and saturation.

Each idea comes twice, side by side: the NumPy reference (``sigmoid``) and its PyTorch twin
(``sigmoid_torch``) with the same arguments and shapes. Elementwise activations come with
``*_grad(x)``, the local derivative ``f'(x)`` evaluated elementwise. The two activations with
parameters (PReLU, Maxout) come with ``*_backward(dout, ...)``, which returns the gradients
of every input given the upstream gradient ``dout``.

The NumPy functions keep the input's float dtype (float32 stays float32); integers and
Python numbers are computed in float64. A 0-d input gives a 0-d result. The torch twins
compute in the tensor's dtype on the tensor's device.

Conventions at the kinks follow PyTorch's autograd, so the tests can compare exactly:
``relu_grad(0) = 0``, ``leaky_relu_grad(0) = negative_slope``, ``elu_grad(0) = alpha``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.special
import torch

from tnn._validate import (
    _describe,
    as_float_array,
    check_choice,
    check_positive,
    check_real,
    check_weight_chain,
)

__all__ = [
    "SELU_ALPHA",
    "SELU_SCALE",
    "ELEMENTWISE",
    "sigmoid",
    "sigmoid_torch",
    "sigmoid_grad",
    "sigmoid_grad_torch",
    "tanh",
    "tanh_torch",
    "tanh_grad",
    "tanh_grad_torch",
    "relu",
    "relu_torch",
    "relu_grad",
    "relu_grad_torch",
    "leaky_relu",
    "leaky_relu_torch",
    "leaky_relu_grad",
    "leaky_relu_grad_torch",
    "prelu",
    "prelu_torch",
    "prelu_backward",
    "prelu_backward_torch",
    "elu",
    "elu_torch",
    "elu_grad",
    "elu_grad_torch",
    "selu",
    "selu_torch",
    "selu_grad",
    "selu_grad_torch",
    "gelu",
    "gelu_torch",
    "gelu_grad",
    "gelu_grad_torch",
    "maxout",
    "maxout_torch",
    "maxout_backward",
    "maxout_backward_torch",
    "saturated_fraction",
    "dead_unit_fraction",
    "sample_mlp_weights",
    "probe_deep_network",
    "probe_deep_network_torch",
    "linear_unit_sgd_path",
    "same_sign_fraction",
    "settle_step",
    "sgd_lr_sweep",
]

# SELU's constants (Klambauer et al. 2017), to the digits the paper gives.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946  # the paper's lambda

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_COEF = 0.044715


def _out(y: np.ndarray) -> np.ndarray:
    """Return 0-d results as NumPy scalars of the same dtype, arrays unchanged."""
    return y[()] if y.ndim == 0 else y


def _as_float_tensor(x, name: str = "x") -> torch.Tensor:
    """Return ``x`` as a floating tensor (integer tensors become the default float dtype)."""
    if isinstance(x, torch.Tensor):
        if x.is_floating_point():
            return x
        if x.is_complex():
            raise TypeError(f"{name} must hold real numbers; got {_describe(x)}.")
        return x.to(torch.get_default_dtype())
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(
            f"{name} must be a torch.Tensor of real numbers; got {_describe(x)}. "
            f"Create one with torch.tensor([...]) or torch.as_tensor(array)."
        )
    arr = as_float_array(x, name)  # refuses object arrays and strings with a clear message
    return torch.as_tensor(arr)


# --------------------------------------------------------------------------------------------
# Sigmoid: s(x) = 1 / (1 + e^-x), s'(x) = s(x)(1 - s(x))
# --------------------------------------------------------------------------------------------
def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed without overflow.

    The naive form overflows in ``exp(-x)`` for ``x < -709`` (float64) or ``x < -88``
    (float32). Writing both branches with ``z = exp(-|x|) <= 1`` never overflows:
    ``s(x) = 1/(1+z)`` for ``x >= 0`` and ``z/(1+z)`` for ``x < 0``.

    Parameters
    ----------
    x : float or ndarray of any shape

    Returns
    -------
    s : same shape and float dtype as ``x``, values in [0, 1]
    """
    x = as_float_array(x)
    z = np.exp(-np.abs(x))  # (...,) in (0, 1]
    return _out(np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False))


def sigmoid_torch(x):
    """Torch twin of :func:`sigmoid`: same stable two-branch form, on ``x``'s device."""
    x = _as_float_tensor(x)
    z = torch.exp(-x.abs())
    return torch.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def sigmoid_grad(x):
    """Derivative ``s'(x) = s(x)(1 - s(x)) = z / (1 + z)^2`` with ``z = exp(-|x|)``.

    The second form keeps full relative precision in the tails (``s'(-40)`` is ~4e-18, not
    0 from ``1 - s`` rounding). Peak 0.25 at 0; about 4.5e-5 at ``x = +-10``.

    Parameters
    ----------
    x : float or ndarray of any shape

    Returns
    -------
    ds : same shape and dtype as ``x``
    """
    x = as_float_array(x)
    z = np.exp(-np.abs(x))
    return _out((z / (1.0 + z) ** 2).astype(x.dtype, copy=False))


def sigmoid_grad_torch(x):
    """Torch twin of :func:`sigmoid_grad`."""
    x = _as_float_tensor(x)
    z = torch.exp(-x.abs())
    return z / (1.0 + z) ** 2


# --------------------------------------------------------------------------------------------
# tanh: zero-centred, still saturates. tanh'(x) = 1 - tanh(x)^2
# --------------------------------------------------------------------------------------------
def tanh(x):
    """Hyperbolic tangent, values in [-1, 1]; ``tanh(x) = 2 s(2x) - 1``.

    Parameters
    ----------
    x : float or ndarray of any shape

    Returns
    -------
    y : same shape and dtype as ``x``
    """
    x = as_float_array(x)
    return _out(np.tanh(x))


def tanh_torch(x):
    """Torch twin of :func:`tanh`."""
    return torch.tanh(_as_float_tensor(x))


def tanh_grad(x):
    """Derivative ``1 - tanh(x)^2``: 1 at 0, about 8.2e-9 at ``x = +-10``."""
    x = as_float_array(x)
    return _out(1.0 - np.tanh(x) ** 2)


def tanh_grad_torch(x):
    """Torch twin of :func:`tanh_grad`."""
    return 1.0 - torch.tanh(_as_float_tensor(x)) ** 2


# --------------------------------------------------------------------------------------------
# ReLU family
# --------------------------------------------------------------------------------------------
def relu(x):
    """Rectified linear unit ``max(0, x)``.

    Parameters
    ----------
    x : float or ndarray of any shape

    Returns
    -------
    y : same shape and dtype as ``x``
    """
    x = as_float_array(x)
    return _out(np.maximum(x, 0).astype(x.dtype, copy=False))


def relu_torch(x):
    """Torch twin of :func:`relu`."""
    x = _as_float_tensor(x)
    return torch.clamp(x, min=0)


def relu_grad(x):
    """Derivative of ReLU: 1 where ``x > 0``, else 0 (0 at the kink, as autograd does)."""
    x = as_float_array(x)
    return _out((x > 0).astype(x.dtype))


def relu_grad_torch(x):
    """Torch twin of :func:`relu_grad`."""
    x = _as_float_tensor(x)
    return (x > 0).to(x.dtype)


def leaky_relu(x, negative_slope: float = 0.01):
    """Leaky ReLU ``max(negative_slope * x, x)`` for ``0 <= negative_slope <= 1``.

    Parameters
    ----------
    x : float or ndarray of any shape
    negative_slope : float, default 0.01
        Slope for ``x < 0``; the lecture's ``max(0.01x, x)``.

    Returns
    -------
    y : same shape and dtype as ``x``
    """
    x = as_float_array(x)
    slope = check_real(negative_slope, "negative_slope")
    return _out(np.where(x > 0, x, slope * x).astype(x.dtype, copy=False))


def leaky_relu_torch(x, negative_slope: float = 0.01):
    """Torch twin of :func:`leaky_relu`."""
    x = _as_float_tensor(x)
    slope = check_real(negative_slope, "negative_slope")
    return torch.where(x > 0, x, slope * x)


def leaky_relu_grad(x, negative_slope: float = 0.01):
    """Derivative of Leaky ReLU: 1 where ``x > 0``, else ``negative_slope``."""
    x = as_float_array(x)
    slope = check_real(negative_slope, "negative_slope")
    return _out(np.where(x > 0, 1.0, slope).astype(x.dtype))


def leaky_relu_grad_torch(x, negative_slope: float = 0.01):
    """Torch twin of :func:`leaky_relu_grad`."""
    x = _as_float_tensor(x)
    slope = check_real(negative_slope, "negative_slope")
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope))


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
    return _out(np.where(x > 0, x, a * x).astype(x.dtype, copy=False))


def prelu_torch(x, slope):
    """Torch twin of :func:`prelu`."""
    x = _as_float_tensor(x)
    slope = _as_float_tensor(slope, "slope").to(device=x.device, dtype=x.dtype)
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
    return _out(dx.astype(x.dtype, copy=False)), _out(dslope.astype(slope.dtype, copy=False))


def prelu_backward_torch(dout, x, slope):
    """Torch twin of :func:`prelu_backward`."""
    x = _as_float_tensor(x)
    dout = _as_float_tensor(dout, "dout").to(device=x.device, dtype=x.dtype)
    slope = _as_float_tensor(slope, "slope").to(device=x.device, dtype=x.dtype)
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
# ELU and SELU
# --------------------------------------------------------------------------------------------
def elu(x, alpha: float = 1.0):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` for ``x <= 0``.

    ``expm1`` keeps precision near 0, and ``exp`` only ever sees ``min(x, 0)``, so large
    positive inputs cannot overflow in the unused branch.

    The derivative is ``alpha`` just left of 0 and 1 just right of it, so ELU is smooth
    (continuously differentiable) only for ``alpha = 1``.

    Parameters
    ----------
    x : float or ndarray of any shape
    alpha : float > 0, default 1.0
        Saturation value for large negative ``x`` is ``-alpha``.

    Returns
    -------
    y : same shape and dtype as ``x``
    """
    x = as_float_array(x)
    alpha = check_positive(alpha, "alpha")
    neg = alpha * np.expm1(np.minimum(x, 0))
    return _out(np.where(x > 0, x, neg).astype(x.dtype, copy=False))


def elu_torch(x, alpha: float = 1.0):
    """Torch twin of :func:`elu`."""
    x = _as_float_tensor(x)
    alpha = check_positive(alpha, "alpha")
    return torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0)))


def elu_grad(x, alpha: float = 1.0):
    """Derivative of ELU: 1 for ``x > 0``, ``alpha * exp(x)`` for ``x <= 0``."""
    x = as_float_array(x)
    alpha = check_positive(alpha, "alpha")
    return _out(np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))).astype(x.dtype))


def elu_grad_torch(x, alpha: float = 1.0):
    """Torch twin of :func:`elu_grad`."""
    x = _as_float_tensor(x)
    alpha = check_positive(alpha, "alpha")
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(torch.clamp(x, max=0)))


def selu(x):
    """Scaled ELU: ``SELU_SCALE * elu(x, SELU_ALPHA)``, the self-normalizing activation.

    With these two constants, zero-mean unit-variance inputs to a layer with
    ``N(0, 1/fan_in)`` weights give zero-mean unit-variance outputs.
    """
    x = as_float_array(x)
    return _out((SELU_SCALE * elu(x, SELU_ALPHA)).astype(x.dtype, copy=False))


def selu_torch(x):
    """Torch twin of :func:`selu`."""
    return SELU_SCALE * elu_torch(x, SELU_ALPHA)


def selu_grad(x):
    """Derivative of SELU: ``SELU_SCALE`` for ``x > 0``, ``SELU_SCALE*SELU_ALPHA*exp(x)`` else.

    It jumps at 0, from ``SELU_SCALE * SELU_ALPHA = 1.758`` on the left to
    ``SELU_SCALE = 1.051`` on the right: SELU is continuous but not smooth there.
    """
    x = as_float_array(x)
    return _out((SELU_SCALE * elu_grad(x, SELU_ALPHA)).astype(x.dtype, copy=False))


def selu_grad_torch(x):
    """Torch twin of :func:`selu_grad`."""
    return SELU_SCALE * elu_grad_torch(x, SELU_ALPHA)


# --------------------------------------------------------------------------------------------
# GELU: x * Phi(x), Phi the standard normal CDF
# --------------------------------------------------------------------------------------------
_GELU_MODES = ("none", "tanh")


def gelu(x, approximate: str = "none"):
    """Gaussian error linear unit ``x * Phi(x)``.

    Parameters
    ----------
    x : float or ndarray of any shape
    approximate : {"none", "tanh"}, default "none"
        ``"none"``: the exact form ``x/2 * (1 + erf(x/sqrt(2)))``. ``"tanh"``: the cheaper
        ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))`` (same names as PyTorch).

    Returns
    -------
    y : same shape and dtype as ``x``
    """
    x = as_float_array(x)
    check_choice(approximate, "approximate", _GELU_MODES)
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        y = 0.5 * x * (1.0 + np.tanh(inner))
    else:
        y = 0.5 * x * (1.0 + scipy.special.erf(x / math.sqrt(2.0)))
    return _out(y.astype(x.dtype, copy=False))


def gelu_torch(x, approximate: str = "none"):
    """Torch twin of :func:`gelu`."""
    x = _as_float_tensor(x)
    check_choice(approximate, "approximate", _GELU_MODES)
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        return 0.5 * x * (1.0 + torch.tanh(inner))
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_grad(x, approximate: str = "none"):
    """Derivative of GELU.

    Exact: ``Phi(x) + x * phi(x)`` with ``phi`` the standard normal density. With
    ``approximate="tanh"``: the derivative of the tanh form. Both tend to 0 for large
    negative ``x`` and to 1 for large positive ``x``.
    """
    x = as_float_array(x)
    check_choice(approximate, "approximate", _GELU_MODES)
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        t = np.tanh(inner)
        dinner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEF * x**2)
        dy = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t**2) * dinner
    else:
        cdf = 0.5 * (1.0 + scipy.special.erf(x / math.sqrt(2.0)))
        pdf = np.exp(-0.5 * x**2) / math.sqrt(2.0 * math.pi)
        dy = cdf + x * pdf
    return _out(dy.astype(x.dtype, copy=False))


def gelu_grad_torch(x, approximate: str = "none"):
    """Torch twin of :func:`gelu_grad`."""
    x = _as_float_tensor(x)
    check_choice(approximate, "approximate", _GELU_MODES)
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (x + _GELU_TANH_COEF * x**3)
        t = torch.tanh(inner)
        dinner = _SQRT_2_OVER_PI * (1.0 + 3.0 * _GELU_TANH_COEF * x**2)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t**2) * dinner
    cdf = 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))
    pdf = torch.exp(-0.5 * x**2) / math.sqrt(2.0 * math.pi)
    return cdf + x * pdf


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
    x = _as_float_tensor(x)
    w1, b1, w2, b2 = (
        _as_float_tensor(t, n).to(device=x.device, dtype=x.dtype)
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
    x = _as_float_tensor(x)
    w1, b1, w2, b2 = (
        _as_float_tensor(t, n).to(device=x.device, dtype=x.dtype)
        for t, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))
    )
    _check_maxout_shapes(
        tuple(x.shape), tuple(w1.shape), tuple(b1.shape), tuple(w2.shape), tuple(b2.shape)
    )
    dout = _as_float_tensor(dout, "dout").to(device=x.device, dtype=x.dtype)
    if tuple(dout.shape) != (x.shape[0], w1.shape[1]):
        raise ValueError(
            f"dout must have shape (N, H) = {(x.shape[0], w1.shape[1])}; got {tuple(dout.shape)}."
        )
    first = (x @ w1 + b1) >= (x @ w2 + b2)
    zero = torch.zeros_like(dout)
    d1 = torch.where(first, dout, zero)
    d2 = torch.where(first, zero, dout)
    return d1 @ w1.T + d2 @ w2.T, x.T @ d1, d1.sum(0), x.T @ d2, d2.sum(0)


# --------------------------------------------------------------------------------------------
# Registry of the elementwise activations: name -> (f, f', peak of |f'|)
# --------------------------------------------------------------------------------------------
ELEMENTWISE = {
    "sigmoid": (sigmoid, sigmoid_grad, 0.25),
    "tanh": (tanh, tanh_grad, 1.0),
    "relu": (relu, relu_grad, 1.0),
    "leaky_relu": (leaky_relu, leaky_relu_grad, 1.0),
    "elu": (elu, elu_grad, 1.0),
    "selu": (selu, selu_grad, SELU_SCALE * SELU_ALPHA),
    "gelu": (gelu, gelu_grad, 1.1289),  # max of Phi(x) + x phi(x), at x = sqrt(2)
}
_TORCH_TWINS = {
    "sigmoid": (sigmoid_torch, sigmoid_grad_torch),
    "tanh": (tanh_torch, tanh_grad_torch),
    "relu": (relu_torch, relu_grad_torch),
    "leaky_relu": (leaky_relu_torch, leaky_relu_grad_torch),
    "elu": (elu_torch, elu_grad_torch),
    "selu": (selu_torch, selu_grad_torch),
    "gelu": (gelu_torch, gelu_grad_torch),
}


# --------------------------------------------------------------------------------------------
# Measures: saturation and dead units
# --------------------------------------------------------------------------------------------
def saturated_fraction(z, activation: str = "tanh", rel_threshold: float = 0.1) -> float:
    """Fraction of pre-activations where the unit passes almost no gradient.

    An entry counts as saturated when its local derivative ``|f'(z)|`` is below
    ``rel_threshold`` times the activation's peak derivative (0.25 for sigmoid, 1 for tanh
    and ReLU). For tanh the default 0.1 means ``|tanh(z)| > 0.949`` (``1 - tanh^2 < 0.1``);
    for sigmoid, ``s(1 - s) < 0.025``, i.e. ``s(z) < 0.0257`` or ``s(z) > 0.9743``
    (``|z| > 3.64``); for ReLU it is the fraction of inputs ``<= 0``.

    Parameters
    ----------
    z : ndarray of any shape
        Pre-activations (inputs to the nonlinearity).
    activation : str
        A key of :data:`ELEMENTWISE`.
    rel_threshold : float in (0, 1]

    Returns
    -------
    fraction : float in [0, 1]
    """
    z = as_float_array(z, "z")
    check_choice(activation, "activation", tuple(ELEMENTWISE))
    rel_threshold = check_positive(rel_threshold, "rel_threshold")
    if z.size == 0:
        raise ValueError("z is empty; pass at least one pre-activation.")
    _, grad, peak = ELEMENTWISE[activation]
    return float(np.mean(np.abs(grad(z)) < rel_threshold * peak))


def dead_unit_fraction(z) -> float:
    """Fraction of ReLU units that are never active over a batch.

    Parameters
    ----------
    z : ndarray of shape (N, H)
        Pre-activations of ``H`` units for ``N`` examples.

    Returns
    -------
    fraction : float in [0, 1]
        Share of the ``H`` columns with ``z <= 0`` for every one of the ``N`` rows: such a
        unit outputs 0 and receives zero gradient for the whole batch.
    """
    z = as_float_array(z, "z")
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"z must have shape (N, H) with N, H >= 1; got shape {z.shape}.")
    return float(np.mean(np.all(z <= 0, axis=0)))


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
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator; got {_describe(rng)}. "
                        "Create one with np.random.default_rng(seed).")
    for name, value in (("depth", depth), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {_describe(value)}.")
    gain = check_positive(gain, "gain")
    fan_in = width if in_features is None else int(in_features)
    weights = []
    for _ in range(depth):
        w = rng.standard_normal((fan_in, width), dtype=np.float32) * (gain / math.sqrt(fan_in))
        weights.append(w.astype(dtype, copy=False))
        fan_in = width
    return weights


def _dead(z: np.ndarray, activation: str) -> float:
    """Dead-unit fraction for ReLU; 0 for activations whose gradient is never exactly 0."""
    return dead_unit_fraction(z) if activation == "relu" else 0.0


def _check_probe(x_shape, weight_shapes, activation):
    check_choice(activation, "activation", tuple(ELEMENTWISE))
    check_weight_chain(x_shape, weight_shapes)


def probe_deep_network(x, weights: Sequence, activation: str = "tanh", dout=None) -> dict:
    """Push a batch through ``h_l = f(h_{l-1} W_l)`` and back, recording layer statistics.

    The backward pass starts from ``dL/dh_L = dout`` (ones when omitted, so the loss is the
    sum of the last layer's outputs) and applies ``dL/dz = dL/dh * f'(z)`` and
    ``dL/dh_{l-1} = dL/dz W_l^T`` by hand.

    Parameters
    ----------
    x : ndarray of shape (N, D)
    weights : sequence of L ndarrays, ``weights[l]`` of shape (D_l, D_{l+1})
    activation : str, a key of :data:`ELEMENTWISE`
    dout : ndarray of shape (N, D_L), optional

    Returns
    -------
    stats : dict of ndarrays of shape (L,) unless noted
        ``act_mean``, ``act_std``: mean and std of each layer's output ``h_l``;
        ``saturated``: :func:`saturated_fraction` of each ``z_l``; ``dead``:
        :func:`dead_unit_fraction` of each ``z_l`` for ReLU (0 for the others, whose
        gradient never vanishes exactly); ``grad_std``: std of ``dL/dh_{l}`` at
        each layer's *input* (``l = 0`` is the network input); ``weight_grad_norm``: the
        Frobenius norm of ``dL/dW_l``; ``activations``: list of the L outputs ``h_l``, and
        ``input_grads``: list of the L gradients ``dL/dh_{l-1}``.
    """
    x = as_float_array(x)
    weights = [as_float_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
    _check_probe(x.shape, [w.shape for w in weights], activation)
    f, df, _ = ELEMENTWISE[activation]
    hs, zs = [x], []
    for w in weights:
        z = hs[-1] @ w  # (N, D_out)
        zs.append(z)
        hs.append(np.asarray(f(z)))
    grad = np.ones_like(hs[-1]) if dout is None else as_float_array(dout, "dout")
    if grad.shape != hs[-1].shape:
        raise ValueError(f"dout must have shape {hs[-1].shape}; got {grad.shape}.")
    input_grads, weight_grad_norm = [None] * len(weights), np.zeros(len(weights))
    for layer in reversed(range(len(weights))):
        dz = grad * np.asarray(df(zs[layer]))  # (N, D_out)
        weight_grad_norm[layer] = np.linalg.norm(hs[layer].T @ dz)
        grad = dz @ weights[layer].T  # (N, D_in)
        input_grads[layer] = grad
    acts = hs[1:]
    return {
        "act_mean": np.array([h.mean() for h in acts]),
        "act_std": np.array([h.std() for h in acts]),
        "saturated": np.array([saturated_fraction(z, activation) for z in zs]),
        "dead": np.array([_dead(z, activation) for z in zs]),
        "grad_std": np.array([g.std() for g in input_grads]),
        "weight_grad_norm": weight_grad_norm,
        "activations": acts,
        "input_grads": input_grads,
    }


def probe_deep_network_torch(x, weights: Sequence, activation: str = "tanh", dout=None) -> dict:
    """Torch twin of :func:`probe_deep_network`; the backward pass is torch.autograd's.

    ``x`` and ``weights`` may be arrays or tensors; everything runs on ``x``'s device when
    ``x`` is a tensor. Returned statistics are NumPy arrays, the per-layer tensors stay
    tensors on that device.
    """
    x = _as_float_tensor(x)
    weights = [
        _as_float_tensor(w, f"weights[{i}]").to(device=x.device, dtype=x.dtype)
        for i, w in enumerate(weights)
    ]
    _check_probe(tuple(x.shape), [tuple(w.shape) for w in weights], activation)
    f, _ = _TORCH_TWINS[activation]
    h = x.detach().clone().requires_grad_(True)
    hs, zs = [h], []
    weights = [w.detach().clone().requires_grad_(True) for w in weights]
    for w in weights:
        z = hs[-1] @ w
        z.retain_grad()
        zs.append(z)
        out = f(z)
        out.retain_grad()
        hs.append(out)
    seed = torch.ones_like(hs[-1]) if dout is None else _as_float_tensor(dout, "dout").to(x)
    hs[-1].backward(seed)
    input_grads = [hs[layer].grad for layer in range(len(weights))]

    def stat(values, fn):
        return np.array([float(fn(v.detach())) for v in values])

    zs_np = [z.detach().cpu().numpy() for z in zs]
    return {
        "act_mean": stat(hs[1:], torch.mean),
        "act_std": stat(hs[1:], lambda t: t.std(unbiased=False)),
        "saturated": np.array([saturated_fraction(z, activation) for z in zs_np]),
        "dead": np.array([_dead(z, activation) for z in zs_np]),
        "grad_std": stat(input_grads, lambda t: t.std(unbiased=False)),
        "weight_grad_norm": stat([w.grad for w in weights], torch.linalg.norm),
        "activations": [h.detach() for h in hs[1:]],
        "input_grads": input_grads,
    }


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
