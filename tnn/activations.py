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

This module is the topic's one name: ``from tnn import activations`` gives every public
function of the topic. It defines the elementwise activations, their registry
:data:`ACTIVATIONS` (read by every topic that needs "an activation by name") and the
saturation measures; the rest is re-exported from :mod:`tnn.parametric_activations` (PReLU,
Maxout) and :mod:`tnn.activation_experiments` (the deep-network probe, a view of the shared
:mod:`tnn.layerstats`, and the SGD path of one linear unit).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.special
import torch

from tnn._validate import (
    as_float_array,
    as_float_tensor,
    check_choice,
    check_positive,
    check_real,
    unwrap_0d,
)
from tnn.activation_experiments import (
    linear_unit_sgd_path,
    probe_deep_network,
    probe_deep_network_torch,
    same_sign_fraction,
    sample_mlp_weights,
    settle_step,
    sgd_lr_sweep,
)
from tnn.parametric_activations import (
    maxout,
    maxout_backward,
    maxout_backward_torch,
    maxout_torch,
    prelu,
    prelu_backward,
    prelu_backward_torch,
    prelu_torch,
)

__all__ = [
    "SELU_ALPHA",
    "SELU_SCALE",
    "Activation",
    "ACTIVATIONS",
    "ELEMENTWISE",
    "get_activation",
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
    return unwrap_0d(np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False))


def sigmoid_torch(x):
    """Torch twin of :func:`sigmoid`: same stable two-branch form, on ``x``'s device."""
    x = as_float_tensor(x)
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
    return unwrap_0d((z / (1.0 + z) ** 2).astype(x.dtype, copy=False))


def sigmoid_grad_torch(x):
    """Torch twin of :func:`sigmoid_grad`."""
    x = as_float_tensor(x)
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
    return unwrap_0d(np.tanh(x))


def tanh_torch(x):
    """Torch twin of :func:`tanh`."""
    return torch.tanh(as_float_tensor(x))


def tanh_grad(x):
    """Derivative ``1 - tanh(x)^2``: 1 at 0, about 8.2e-9 at ``x = +-10``."""
    x = as_float_array(x)
    return unwrap_0d(1.0 - np.tanh(x) ** 2)


def tanh_grad_torch(x):
    """Torch twin of :func:`tanh_grad`."""
    return 1.0 - torch.tanh(as_float_tensor(x)) ** 2


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
    return unwrap_0d(np.maximum(x, 0).astype(x.dtype, copy=False))


def relu_torch(x):
    """Torch twin of :func:`relu`."""
    x = as_float_tensor(x)
    return torch.clamp(x, min=0)


def relu_grad(x):
    """Derivative of ReLU: 1 where ``x > 0``, else 0 (0 at the kink, as autograd does)."""
    x = as_float_array(x)
    return unwrap_0d((x > 0).astype(x.dtype))


def relu_grad_torch(x):
    """Torch twin of :func:`relu_grad`."""
    x = as_float_tensor(x)
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
    return unwrap_0d(np.where(x > 0, x, slope * x).astype(x.dtype, copy=False))


def leaky_relu_torch(x, negative_slope: float = 0.01):
    """Torch twin of :func:`leaky_relu`."""
    x = as_float_tensor(x)
    slope = check_real(negative_slope, "negative_slope")
    return torch.where(x > 0, x, slope * x)


def leaky_relu_grad(x, negative_slope: float = 0.01):
    """Derivative of Leaky ReLU: 1 where ``x > 0``, else ``negative_slope``."""
    x = as_float_array(x)
    slope = check_real(negative_slope, "negative_slope")
    return unwrap_0d(np.where(x > 0, 1.0, slope).astype(x.dtype))


def leaky_relu_grad_torch(x, negative_slope: float = 0.01):
    """Torch twin of :func:`leaky_relu_grad`."""
    x = as_float_tensor(x)
    slope = check_real(negative_slope, "negative_slope")
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope))


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
    return unwrap_0d(np.where(x > 0, x, neg).astype(x.dtype, copy=False))


def elu_torch(x, alpha: float = 1.0):
    """Torch twin of :func:`elu`."""
    x = as_float_tensor(x)
    alpha = check_positive(alpha, "alpha")
    return torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0)))


def elu_grad(x, alpha: float = 1.0):
    """Derivative of ELU: 1 for ``x > 0``, ``alpha * exp(x)`` for ``x <= 0``."""
    x = as_float_array(x)
    alpha = check_positive(alpha, "alpha")
    return unwrap_0d(np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0))).astype(x.dtype))


def elu_grad_torch(x, alpha: float = 1.0):
    """Torch twin of :func:`elu_grad`."""
    x = as_float_tensor(x)
    alpha = check_positive(alpha, "alpha")
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(torch.clamp(x, max=0)))


def selu(x):
    """Scaled ELU: ``SELU_SCALE * elu(x, SELU_ALPHA)``, the self-normalizing activation.

    With these two constants, zero-mean unit-variance inputs to a layer with
    ``N(0, 1/fan_in)`` weights give zero-mean unit-variance outputs.
    """
    x = as_float_array(x)
    return unwrap_0d((SELU_SCALE * elu(x, SELU_ALPHA)).astype(x.dtype, copy=False))


def selu_torch(x):
    """Torch twin of :func:`selu`."""
    return SELU_SCALE * elu_torch(x, SELU_ALPHA)


def selu_grad(x):
    """Derivative of SELU: ``SELU_SCALE`` for ``x > 0``, ``SELU_SCALE*SELU_ALPHA*exp(x)`` else.

    It jumps at 0, from ``SELU_SCALE * SELU_ALPHA = 1.758`` on the left to
    ``SELU_SCALE = 1.051`` on the right: SELU is continuous but not smooth there.
    """
    x = as_float_array(x)
    return unwrap_0d((SELU_SCALE * elu_grad(x, SELU_ALPHA)).astype(x.dtype, copy=False))


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
    return unwrap_0d(y.astype(x.dtype, copy=False))


def gelu_torch(x, approximate: str = "none"):
    """Torch twin of :func:`gelu`."""
    x = as_float_tensor(x)
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
    return unwrap_0d(dy.astype(x.dtype, copy=False))


def gelu_grad_torch(x, approximate: str = "none"):
    """Torch twin of :func:`gelu_grad`."""
    x = as_float_tensor(x)
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
# Registry of the elementwise activations: one row per activation
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Activation:
    """One elementwise activation: its NumPy reference and torch twin, with derivatives.

    Attributes
    ----------
    name : str
    f, grad : callables on ndarrays, ``f(x)`` and ``f'(x)``
    f_torch, grad_torch : their torch twins
    peak_grad : float
        The largest ``|f'(x)|`` (0.25 for sigmoid), the yardstick of "saturated".
    """

    name: str
    f: Callable
    grad: Callable
    f_torch: Callable
    grad_torch: Callable
    peak_grad: float


#: The elementwise activations by name: the one registry every topic reads.
ACTIVATIONS = {a.name: a for a in (
    Activation("sigmoid", sigmoid, sigmoid_grad, sigmoid_torch, sigmoid_grad_torch, 0.25),
    Activation("tanh", tanh, tanh_grad, tanh_torch, tanh_grad_torch, 1.0),
    Activation("relu", relu, relu_grad, relu_torch, relu_grad_torch, 1.0),
    Activation("leaky_relu", leaky_relu, leaky_relu_grad, leaky_relu_torch,
               leaky_relu_grad_torch, 1.0),
    Activation("elu", elu, elu_grad, elu_torch, elu_grad_torch, 1.0),
    Activation("selu", selu, selu_grad, selu_torch, selu_grad_torch, SELU_SCALE * SELU_ALPHA),
    # max of Phi(x) + x phi(x), at x = sqrt(2)
    Activation("gelu", gelu, gelu_grad, gelu_torch, gelu_grad_torch, 1.1289),
)}

#: ``name -> (f, f', peak of |f'|)``: the NumPy columns of :data:`ACTIVATIONS`, as tuples.
ELEMENTWISE = {name: (a.f, a.grad, a.peak_grad) for name, a in ACTIVATIONS.items()}


def get_activation(name: str) -> Activation:
    """The :class:`Activation` called ``name``, with a message listing the names otherwise."""
    check_choice(name, "activation", tuple(ACTIVATIONS))
    return ACTIVATIONS[name]


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
    check_choice(activation, "activation", tuple(ACTIVATIONS))
    rel_threshold = check_positive(rel_threshold, "rel_threshold")
    if z.size == 0:
        raise ValueError("z is empty; pass at least one pre-activation.")
    act = ACTIVATIONS[activation]
    return float(np.mean(np.abs(act.grad(z)) < rel_threshold * act.peak_grad))


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


