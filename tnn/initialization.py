"""Topic 03: weight initialization, the layer-statistics experiment, conv shapes.

Each idea comes twice, side by side: the NumPy reference (``xavier_normal``) and its PyTorch
twin (``xavier_normal_torch``) with the same arguments in the same order. Randomness is kept
apart from arithmetic: initializers take an explicit ``np.random.Generator`` (or
``torch.Generator``), and the experiment functions take the input batch and the *unit-normal*
weights already sampled, so the NumPy and torch paths can be fed identical numbers.

Weight layouts
--------------
- A fully connected weight has the lecture's layout ``(D_in, D_out)`` and acts as ``x @ W``
  (PyTorch's ``nn.Linear.weight`` is the transpose, ``(D_out, D_in)``).
- A convolution weight has PyTorch's layout ``(C_out, C_in, k_h, k_w)``; its fan-in is
  ``C_in * k_h * k_w``, the number of inputs one output value sums over.

The lecture's experiment
------------------------
Seven layers of width 4096 (six weight matrices), a batch of 16 standard-normal inputs, and
``h_l = f(h_{l-1} W_l)`` with one of five initializations (:data:`LECTURE_SCHEMES`). The
per-layer reference means and standard deviations are in :data:`LECTURE_FIGURES` (the tests
reproduce them within 0.03); :data:`FIGURE_SOURCES` says which rows the slides print and
which come from a measurement or from theory. One layer's forward and backward pass,
``layer_forward`` / ``layer_backward``, are what :func:`layer_statistics` chains; its backward
pass records the std of ``dL/dh`` at every layer's input and of every ``dL/dW``.
"""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from tnn import activations as A
from tnn._validate import (
    _describe,
    as_float_array,
    check_choice,
    check_positive,
    check_weight_chain,
)

__all__ = [
    "fan_in",
    "fan_out",
    "constant_init",
    "constant_init_torch",
    "xavier_normal",
    "xavier_normal_torch",
    "kaiming_normal",
    "kaiming_normal_torch",
    "orthogonal",
    "orthogonal_torch",
    "InitScheme",
    "LECTURE_SCHEMES",
    "LECTURE_FIGURES",
    "FIGURE_SOURCES",
    "layer_forward",
    "layer_forward_torch",
    "layer_backward",
    "layer_backward_torch",
    "layer_statistics",
    "layer_statistics_torch",
    "sample_experiment",
    "sample_experiment_torch",
    "scheme_weights",
    "scheme_weights_torch",
    "init_experiment",
    "init_experiment_torch",
    "train_two_layer_sgd",
    "train_two_layer_sgd_torch",
    "hidden_unit_spread",
    "lsuv_init",
    "lsuv_init_torch",
    "torch_init_comparison",
    "conv_output_size",
    "receptive_field",
    "receptive_fields",
    "ALEXNET_CAFFE",
    "ALEXNET_TORCHVISION",
    "alexnet_shape_table",
    "alexnet_torch",
    "torch_output_shapes",
]


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------
def _check_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {_describe(value)}.")
    return int(value)


def _check_shape(shape, name: str = "shape") -> tuple[int, ...]:
    """A weight shape: (D_in, D_out) for a linear layer or (C_out, C_in, k_h[, k_w]) for conv."""
    if isinstance(shape, numbers.Integral) or not isinstance(shape, Sequence | tuple):
        raise TypeError(
            f"{name} must be a tuple of ints such as (D_in, D_out) or (C_out, C_in, k, k); got "
            f"{_describe(shape)}."
        )
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(
            f"{name} must have at least 2 entries, (D_in, D_out) for a linear layer or "
            f"(C_out, C_in, k_h, k_w) for a convolution; got {shape}."
        )
    for i, d in enumerate(shape):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise ValueError(f"{name}[{i}] must be a positive int; got {d!r} in {shape}.")
    return tuple(int(d) for d in shape)


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a np.random.Generator; got {_describe(rng)}. Create one with "
            f"np.random.default_rng(seed)."
        )
    return rng


def _check_generator(generator) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator; got {_describe(generator)}. Create one with "
            f"tnn.device.torch_generator(seed, device)."
        )
    return generator


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
    shape = _check_shape(shape)
    if len(shape) == 2:
        return shape[0]
    return shape[1] * math.prod(shape[2:])


def fan_out(shape) -> int:
    """Number of outputs each input feeds: ``D_out``, or ``C_out * k_h * k_w`` for conv."""
    shape = _check_shape(shape)
    if len(shape) == 2:
        return shape[1]
    return shape[0] * math.prod(shape[2:])


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
    shape = _check_shape(shape)
    return np.full(shape, float(value), dtype=dtype)


def constant_init_torch(shape, value: float = 0.0, dtype=torch.float32, device="cpu"):
    """Torch twin of :func:`constant_init`."""
    shape = _check_shape(shape)
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
    _check_rng(rng)
    std = check_positive(gain, "gain") / math.sqrt(fan_in(shape))
    return rng.standard_normal(tuple(shape), dtype=dtype) * np.asarray(std, dtype=dtype)


def xavier_normal_torch(generator, shape, gain: float = 1.0, dtype=torch.float32):
    """Torch twin of :func:`xavier_normal`, sampled on ``generator``'s device."""
    _check_generator(generator)
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
    _check_rng(rng)
    a = check_positive(negative_slope, "negative_slope", allow_zero=True)
    std = math.sqrt(2.0 / ((1.0 + a * a) * fan_in(shape)))
    return rng.standard_normal(tuple(shape), dtype=dtype) * np.asarray(std, dtype=dtype)


def kaiming_normal_torch(generator, shape, negative_slope: float = 0.0, dtype=torch.float32):
    """Torch twin of :func:`kaiming_normal`, sampled on ``generator``'s device."""
    _check_generator(generator)
    a = check_positive(negative_slope, "negative_slope", allow_zero=True)
    std = math.sqrt(2.0 / ((1.0 + a * a) * fan_in(shape)))
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
    _check_rng(rng)
    shape = _check_shape(shape)
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
    _check_generator(generator)
    shape = _check_shape(shape)
    gain = check_positive(gain, "gain")
    rows, cols = shape[0], math.prod(shape[1:])
    flat = torch.randn((max(rows, cols), min(rows, cols)), generator=generator,
                       dtype=torch.float64, device=generator.device)
    q, r = torch.linalg.qr(flat)
    q = q * torch.sign(torch.diagonal(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).to(dtype)


# --------------------------------------------------------------------------------------------
# The schemes of the lecture's experiment
# --------------------------------------------------------------------------------------------
_INITS = ("fixed", "xavier", "kaiming")


@dataclass(frozen=True)
class InitScheme:
    """One row of the lecture's experiment: an activation and a rule for the weight std.

    Attributes
    ----------
    activation : str
        A key of :data:`tnn.activations.ELEMENTWISE` ("tanh", "relu", ...).
    init : {"fixed", "xavier", "kaiming"}
        "fixed": std = ``scale`` whatever the width (``0.01 * randn``);
        "xavier": std = ``scale / sqrt(fan_in)``; "kaiming": std = ``scale * sqrt(2 / fan_in)``.
    scale : float > 0, default 1
    """

    activation: str
    init: str
    scale: float = 1.0

    def __post_init__(self):
        check_choice(self.activation, "activation", tuple(A.ELEMENTWISE))
        check_choice(self.init, "init", _INITS)
        check_positive(self.scale, "scale")

    def std(self, fan_in: int) -> float:
        """The weight standard deviation for a layer with ``fan_in`` inputs."""
        if self.init == "fixed":
            return float(self.scale)
        if self.init == "xavier":
            return self.scale / math.sqrt(fan_in)
        return self.scale * math.sqrt(2.0 / fan_in)

    @property
    def label(self) -> str:
        """Short name, e.g. ``tanh, 0.05*randn`` or ``relu, Kaiming``."""
        if self.init == "fixed":
            rule = f"{self.scale:g}*randn"
        else:
            rule = self.init.capitalize() + (f" x{self.scale:g}" if self.scale != 1 else "")
        return f"{self.activation}, {rule}"


LECTURE_SCHEMES = (
    InitScheme("tanh", "fixed", 0.01),
    InitScheme("tanh", "fixed", 0.05),
    InitScheme("tanh", "xavier"),
    InitScheme("relu", "xavier"),
    InitScheme("relu", "kaiming"),
)

# Per-layer reference figures (layers 1..6) for the five schemes. Only three rows are printed
# on the source lecture's slides; :data:`FIGURE_SOURCES` says where each row comes from.
# "tanh, 0.01*randn": the slide shows only histograms collapsing to 0; these are what the
# experiment gives (the tests hold them within 0.03 too). "relu, Kaiming": the slide says
# "stable"; these are the fixed point, Var(z) = 2 and E[h^2] = 1, so mean
# sqrt(2) / sqrt(2 pi) = sqrt(1/pi) = 0.564 and std sqrt(1 - 1/pi) = 0.826.
LECTURE_FIGURES = {
    "tanh, 0.01*randn": {"mean": (0.0,) * 6, "std": (0.49, 0.29, 0.18, 0.11, 0.07, 0.05)},
    "tanh, 0.05*randn": {"mean": (0.0,) * 6, "std": (0.87, 0.85, 0.85, 0.85, 0.85, 0.85)},
    "tanh, Xavier": {"mean": (0.0,) * 6, "std": (0.63, 0.49, 0.41, 0.36, 0.32, 0.30)},
    "relu, Xavier": {"mean": (0.39, 0.28, 0.20, 0.14, 0.10, 0.07),
                     "std": (0.58, 0.41, 0.30, 0.21, 0.15, 0.10)},
    "relu, Kaiming": {"mean": (math.sqrt(1 / math.pi),) * 6,
                      "std": (math.sqrt(1 - 1 / math.pi),) * 6},
}

#: Where each row of :data:`LECTURE_FIGURES` comes from, for tables that print them.
FIGURE_SOURCES = {
    "tanh, 0.01*randn": "measured; the slide shows histograms only",
    "tanh, 0.05*randn": "slide",
    "tanh, Xavier": "slide",
    "relu, Xavier": "slide",
    "relu, Kaiming": "theory; the slide says 'stable'",
}


def _as_scheme(scheme) -> InitScheme:
    if isinstance(scheme, InitScheme):
        return scheme
    if isinstance(scheme, tuple | list) and 2 <= len(scheme) <= 3:
        return InitScheme(*scheme)
    raise TypeError(
        f"scheme must be an InitScheme or a tuple (activation, init[, scale]) such as "
        f"('relu', 'kaiming'); got {_describe(scheme)}."
    )


# --------------------------------------------------------------------------------------------
# One layer of the experiment, forward and backward
# --------------------------------------------------------------------------------------------
def _check_layer(h_in, w, activation: str, dout=None) -> None:
    """Shapes of one layer ``h_out = f(h_in @ w)``: (N, D_in) @ (D_in, D_out) -> (N, D_out)."""
    check_choice(activation, "activation", tuple(A.ELEMENTWISE))
    if len(h_in.shape) != 2:
        raise ValueError(f"h_in must have shape (N, D_in); got shape {tuple(h_in.shape)}.")
    if len(w.shape) != 2 or w.shape[0] != h_in.shape[1]:
        raise ValueError(
            f"w must have shape (D_in, D_out) = ({h_in.shape[1]}, D_out) to multiply h_in of "
            f"shape {tuple(h_in.shape)}; got {tuple(w.shape)}."
        )
    if dout is not None and tuple(dout.shape) != (h_in.shape[0], w.shape[1]):
        raise ValueError(
            f"dout is dL/dh_out and must have the output's shape (N, D_out) = "
            f"({h_in.shape[0]}, {w.shape[1]}); got {tuple(dout.shape)}."
        )


def layer_forward(h_in, w, activation: str = "tanh") -> np.ndarray:
    """One layer of the experiment: ``h_out = f(h_in @ w)`` (no bias).

    Parameters
    ----------
    h_in : ndarray of shape (N, D_in), float32 or float64
    w : ndarray of shape (D_in, D_out)
    activation : str, a key of :data:`tnn.activations.ELEMENTWISE`

    Returns
    -------
    h_out : ndarray of shape (N, D_out), the inputs' (promoted) dtype
    """
    h_in, w = as_float_array(h_in, "h_in"), as_float_array(w, "w")
    _check_layer(h_in, w, activation)
    f = A.ELEMENTWISE[activation][0]
    return np.asarray(f(h_in @ w))  # (N, D_out)


def layer_forward_torch(h_in, w, activation: str = "tanh") -> torch.Tensor:
    """Torch twin of :func:`layer_forward`, on ``h_in``'s device."""
    h_in = _as_tensor(h_in, "h_in")
    w = _as_tensor(w, "w", like=h_in)
    _check_layer(h_in, w, activation)
    return A._TORCH_TWINS[activation][0](h_in @ w)  # (N, D_out)


def layer_backward(dout, h_in, w, activation: str = "tanh") -> tuple[np.ndarray, np.ndarray]:
    """Backward pass of :func:`layer_forward`: from ``dL/dh_out`` to ``dL/dh_in`` and ``dL/dW``.

    With ``z = h_in @ w`` and ``h_out = f(z)``, the chain rule gives, entry by entry,

    - ``dL/dz = dL/dh_out * f'(z)`` (elementwise: each ``z_nj`` feeds only ``h_out_nj``);
    - ``dL/dW = h_in^T @ dL/dz``: ``W_ij`` meets every example ``n`` through
      ``z_nj = sum_i h_in_ni W_ij``, so its gradient sums ``h_in_ni dL/dz_nj`` over the batch;
    - ``dL/dh_in = dL/dz @ W^T``: ``h_in_ni`` feeds every output ``j`` of its example.

    Each gradient has the shape of what it differentiates. ``z`` is recomputed from the
    inputs (no cache), so the function is pure.

    Parameters
    ----------
    dout : ndarray of shape (N, D_out)
        Upstream gradient ``dL/dh_out``.
    h_in : ndarray of shape (N, D_in), float32 or float64
    w : ndarray of shape (D_in, D_out)
    activation : str, a key of :data:`tnn.activations.ELEMENTWISE`

    Returns
    -------
    dh_in : ndarray of shape (N, D_in)
    dw : ndarray of shape (D_in, D_out)
        Both in the inputs' (promoted) dtype.
    """
    dout = as_float_array(dout, "dout")
    h_in, w = as_float_array(h_in, "h_in"), as_float_array(w, "w")
    _check_layer(h_in, w, activation, dout)
    df = A.ELEMENTWISE[activation][1]
    dz = dout * np.asarray(df(h_in @ w))  # (N, D_out)
    return dz @ w.T, h_in.T @ dz  # (N, D_in), (D_in, D_out)


def layer_backward_torch(dout, h_in, w, activation: str = "tanh"):
    """Torch twin of :func:`layer_backward`, by hand with torch operations (no autograd), on
    ``h_in``'s device; returns ``(dh_in, dw)`` as tensors."""
    h_in = _as_tensor(h_in, "h_in")
    w = _as_tensor(w, "w", like=h_in)
    dout = _as_tensor(dout, "dout", like=h_in)
    _check_layer(h_in, w, activation, dout)
    df = A._TORCH_TWINS[activation][1]
    dz = dout * df(h_in @ w)  # (N, D_out)
    return dz @ w.T, h_in.T @ dz  # (N, D_in), (D_in, D_out)


# --------------------------------------------------------------------------------------------
# Layer statistics: the forward pass of the experiment
# --------------------------------------------------------------------------------------------
def _hist_range(activation: str, values_min: float, values_max: float) -> tuple[float, float]:
    if activation in ("tanh", "sigmoid"):
        return (-1.0, 1.0) if activation == "tanh" else (0.0, 1.0)
    lo, hi = float(values_min), float(values_max)
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _check_scales(scales, depth: int) -> list[float]:
    if scales is None:
        return [1.0] * depth
    scales = [check_positive(float(c), f"scales[{i}]") for i, c in enumerate(scales)]
    if len(scales) != depth:
        raise ValueError(f"scales must hold one number per weight matrix ({depth}); got "
                         f"{len(scales)}.")
    return scales


def layer_statistics(x, weights: Sequence, activation: str = "tanh", bins: int = 50, *,
                     scales=None, dout=None) -> dict:
    """Forward ``h_l = f(h_{l-1} W_l)`` and record every layer's statistics.

    Parameters
    ----------
    x : ndarray of shape (N, D_0)
    weights : sequence of L ndarrays, ``weights[l]`` of shape (D_l, D_{l+1})
    activation : str, a key of :data:`tnn.activations.ELEMENTWISE`
    bins : int >= 1
        Histogram bins per layer; tanh uses the range [-1, 1], sigmoid [0, 1], the others
        the layer's own min and max.
    scales : sequence of L floats, optional
        Use ``scales[l] * weights[l]`` as layer l's weight, computed as
        ``(h @ W_l) * scales[l]`` so that no scaled copy of a large matrix is made.
    dout : ndarray of shape (N, D_L), optional
        Upstream gradient ``dL/dh_L``. When given, the backward pass runs too:
        ``dL/dz_l = dL/dh_l * f'(z_l)``, ``dL/dW_l = h_{l-1}^T dL/dz_l`` and
        ``dL/dh_{l-1} = dL/dz_l W_l^T`` (see :func:`layer_backward`).

    Returns
    -------
    stats : dict
        ``mean``, ``std``: float64 ndarrays of shape (L,), the mean and (population) std of
        each layer's output ``h_l`` over the whole (N, D_l) array; ``sq_mean`` (L,): its
        second moment ``E[h_l^2] = std^2 + mean^2``; ``pre_mean``, ``pre_std``: mean and std
        of the pre-activations ``z_l = h_{l-1} W_l``; ``hist``: list of L ``(counts, edges)``
        pairs; ``activations``: list of the L arrays ``h_l`` (``x``'s dtype). With ``dout``:
        ``grad_std`` (L,), the std of ``dL/dh_{l}`` at each layer's *input* (index 0 is the
        network input), and ``weight_grad_std`` (L,), the std of the entries of
        ``dL/dW_l`` (index 0 is the first weight matrix).
    """
    x = as_float_array(x)
    weights = [as_float_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
    check_choice(activation, "activation", tuple(A.ELEMENTWISE))
    bins = _check_int(bins, "bins")
    check_weight_chain(x.shape, [w.shape for w in weights])
    scales = _check_scales(scales, len(weights))
    f, df, _ = A.ELEMENTWISE[activation]
    h, acts, zs = x, [], []
    for w, c in zip(weights, scales, strict=True):
        z = h @ w  # (N, D_out)
        if c != 1.0:
            z *= z.dtype.type(c)
        zs.append(z)
        h = np.asarray(f(z))  # (N, D_out)
        acts.append(h)
    hist = [np.histogram(h, bins=bins, range=_hist_range(activation, h.min(), h.max()))
            for h in acts]
    stats = {
        "mean": np.array([h.mean() for h in acts], dtype=np.float64),
        "std": np.array([h.std() for h in acts], dtype=np.float64),
        "pre_mean": np.array([z.mean() for z in zs], dtype=np.float64),
        "pre_std": np.array([z.std() for z in zs], dtype=np.float64),
        "hist": hist,
        "activations": acts,
    }
    stats["sq_mean"] = stats["std"] ** 2 + stats["mean"] ** 2
    if dout is not None:
        grad = as_float_array(dout, "dout")
        if grad.shape != acts[-1].shape:
            raise ValueError(f"dout must have shape {acts[-1].shape}; got {grad.shape}.")
        grad_std, weight_grad_std = np.zeros(len(weights)), np.zeros(len(weights))
        inputs = [x, *acts[:-1]]  # h_{l-1}: what layer l multiplies by W_l
        for layer in reversed(range(len(weights))):
            dz = grad * np.asarray(df(zs[layer]))  # (N, D_out)
            weight_grad_std[layer] = _outer_product_std(inputs[layer], dz)  # std of h^T dz
            grad = (dz @ weights[layer].T) * grad.dtype.type(scales[layer])  # (N, D_in)
            grad_std[layer] = grad.std()
        stats["grad_std"] = grad_std
        stats["weight_grad_std"] = weight_grad_std
    return stats


def _outer_product_std(h, dz) -> float:
    """Std of the entries of ``dW = h^T dz`` (D_in, D_out) without forming it.

    With ``N`` examples and D_in, D_out in the thousands, ``dW`` has millions of entries but
    its first two moments need only N x N Gram matrices:
    ``sum(dW) = sum_n (sum_i h_ni)(sum_j dz_nj)`` and
    ``sum(dW^2) = ||h^T dz||_F^2 = sum_{n,m} (h h^T)_{nm} (dz dz^T)_{nm}``.
    Computed in float64.
    """
    h = np.asarray(h, dtype=np.float64)  # (N, D_in)
    dz = np.asarray(dz, dtype=np.float64)  # (N, D_out)
    count = h.shape[1] * dz.shape[1]
    mean = float(h.sum(axis=1) @ dz.sum(axis=1)) / count
    sq_mean = float(np.sum((h @ h.T) * (dz @ dz.T))) / count
    return math.sqrt(max(sq_mean - mean * mean, 0.0))


def _as_tensor(x, name="x", like=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x
    else:
        t = torch.as_tensor(as_float_array(x, name))
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if like is not None:
        t = t.to(device=like.device, dtype=like.dtype)
    return t


def layer_statistics_torch(x, weights: Sequence, activation: str = "tanh", bins: int = 50, *,
                           scales=None, dout=None) -> dict:
    """Torch twin of :func:`layer_statistics`, computed on ``x``'s device.

    ``x`` and ``weights`` may be arrays or tensors (weights follow ``x``'s device and dtype).
    The backward pass (with ``dout``) is torch.autograd's. The statistics and histograms come
    back as NumPy arrays; ``activations`` stay tensors on the device.
    """
    x = _as_tensor(x)
    weights = [_as_tensor(w, f"weights[{i}]", like=x) for i, w in enumerate(weights)]
    check_choice(activation, "activation", tuple(A.ELEMENTWISE))
    bins = _check_int(bins, "bins")
    check_weight_chain(tuple(x.shape), [tuple(w.shape) for w in weights])
    scales = _check_scales(scales, len(weights))
    f = A._TORCH_TWINS[activation][0]
    backward = dout is not None
    h = x.detach().clone().requires_grad_(backward)
    inputs, acts, zs = [], [], []
    with torch.set_grad_enabled(backward):
        for w, c in zip(weights, scales, strict=True):
            if backward:
                h.retain_grad()  # keep dL/dh for the input of every layer
            inputs.append(h)
            z = h @ w
            if c != 1.0:
                z = z * c
            if backward:
                z.retain_grad()  # dL/dz_l, for dL/dW_l = h_{l-1}^T dL/dz_l
            zs.append(z)
            h = f(z)
            acts.append(h)
        if backward:
            seed = _as_tensor(dout, "dout", like=x)
            if seed.shape != h.shape:
                raise ValueError(f"dout must have shape {tuple(h.shape)}; got {tuple(seed.shape)}.")
            h.backward(seed)
    hist = []
    for h in acts:
        lo, hi = _hist_range(activation, h.min().item(), h.max().item())
        counts = torch.histc(h.detach().float(), bins=bins, min=lo, max=hi)
        hist.append((counts.cpu().numpy().astype(np.int64), np.linspace(lo, hi, bins + 1)))

    def to_np(ts):
        return torch.stack([t.detach() for t in ts]).double().cpu().numpy()

    stats = {
        "mean": to_np([h.mean() for h in acts]),
        "std": to_np([h.std(unbiased=False) for h in acts]),
        "pre_mean": to_np([z.mean() for z in zs]),
        "pre_std": to_np([z.std(unbiased=False) for z in zs]),
        "hist": hist,
        "activations": [h.detach() for h in acts],
    }
    stats["sq_mean"] = stats["std"] ** 2 + stats["mean"] ** 2
    if backward:
        stats["grad_std"] = to_np([h.grad.std(unbiased=False) for h in inputs])
        stats["weight_grad_std"] = np.array([_outer_product_std_torch(h.detach(), z.grad)
                                             for h, z in zip(inputs, zs, strict=True)])
    return stats


def _outer_product_std_torch(h, dz) -> float:
    """Torch twin of :func:`_outer_product_std`, on the tensors' device (float64 except on
    Apple's MPS, which has no float64)."""
    wide = torch.float32 if h.device.type == "mps" else torch.float64
    h, dz = h.to(wide), dz.to(wide)  # (N, D_in), (N, D_out)
    count = h.shape[1] * dz.shape[1]
    mean = float(h.sum(dim=1) @ dz.sum(dim=1)) / count
    sq_mean = float(torch.sum((h @ h.T) * (dz @ dz.T))) / count
    return math.sqrt(max(sq_mean - mean * mean, 0.0))


# --------------------------------------------------------------------------------------------
# The experiment: one batch, one set of unit-normal weights, rescaled per scheme
# --------------------------------------------------------------------------------------------
def sample_experiment(rng, depth: int = 6, width: int = 4096, batch: int = 16,
                      dtype=np.float32) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sample the lecture's input batch and ``depth`` unit-normal (width, width) matrices.

    Every scheme of the experiment rescales the same unit-normal matrices, so the schemes
    differ only in their scale, and the sampling (the slow part on a CPU) happens once.

    Parameters
    ----------
    rng : np.random.Generator
    depth : int, default 6 (weight matrices: 7 layers counting the input)
    width : int, default 4096
    batch : int, default 16
    dtype : np.float32 (default) or np.float64

    Returns
    -------
    x : ndarray of shape (batch, width), standard normal
    unit_weights : list of ``depth`` ndarrays of shape (width, width), standard normal
    """
    _check_rng(rng)
    depth, width, batch = (_check_int(v, n) for v, n in
                           ((depth, "depth"), (width, "width"), (batch, "batch")))
    x = rng.standard_normal((batch, width), dtype=dtype)  # (N, D)
    unit = [rng.standard_normal((width, width), dtype=dtype) for _ in range(depth)]  # (D, D)
    return x, unit


def sample_experiment_torch(generator, depth: int = 6, width: int = 4096, batch: int = 16,
                            dtype=torch.float32):
    """Torch twin of :func:`sample_experiment`, sampled on ``generator``'s device."""
    _check_generator(generator)
    depth, width, batch = (_check_int(v, n) for v, n in
                           ((depth, "depth"), (width, "width"), (batch, "batch")))
    kw = {"generator": generator, "dtype": dtype, "device": generator.device}
    x = torch.randn((batch, width), **kw)
    return x, [torch.randn((width, width), **kw) for _ in range(depth)]


def scheme_weights(unit_weights: Sequence, scheme) -> list[np.ndarray]:
    """Rescale unit-normal matrices ``(D_in, D_out)`` to the scheme's std ``std(D_in)``."""
    scheme = _as_scheme(scheme)
    out = []
    for i, u in enumerate(unit_weights):
        u = as_float_array(u, f"unit_weights[{i}]")
        out.append(u * u.dtype.type(scheme.std(u.shape[0])))  # (D_in, D_out), u's dtype
    return out


def scheme_weights_torch(unit_weights: Sequence, scheme) -> list[torch.Tensor]:
    """Torch twin of :func:`scheme_weights`."""
    scheme = _as_scheme(scheme)
    return [_as_tensor(u, f"unit_weights[{i}]") * scheme.std(u.shape[0])
            for i, u in enumerate(unit_weights)]


def init_experiment(x, unit_weights: Sequence, schemes=LECTURE_SCHEMES, backward: bool = False,
                    bins: int = 50, dout=None) -> dict:
    """Run :func:`layer_statistics` for every scheme on the same batch and unit weights.

    Layer l of a scheme uses ``scheme.std(D_in) * unit_weights[l]``, applied through
    ``scales`` so that the large matrices are never copied.

    Parameters
    ----------
    x : ndarray of shape (N, D)
    unit_weights : sequence of L ndarrays of shape (D, D), standard normal
    schemes : sequence of InitScheme (or ``(activation, init[, scale])`` tuples)
    backward : bool
        Also run the backward pass from the upstream gradient ``dout`` and add ``grad_std``
        (L,): the std of ``dL/dh`` at each layer's input, ``grad_std[0]`` at the network
        input, and ``weight_grad_std`` (L,): the std of the entries of ``dL/dW_l``.
    bins : int
    dout : ndarray of shape (N, D_L), optional
        ``dL/dh_L``; ones (loss = sum of the outputs) when omitted. A standard-normal
        ``dout``, independent of the forward pass, isolates what the weights do to gradients.

    Returns
    -------
    results : dict mapping ``scheme.label`` to the dict of :func:`layer_statistics`, plus
        ``scheme``
    """
    x = as_float_array(x)
    unit = [as_float_array(u, f"unit_weights[{i}]") for i, u in enumerate(unit_weights)]
    if backward and dout is None:
        dout = np.ones((x.shape[0], unit[-1].shape[1]), dtype=x.dtype)
    results = {}
    for scheme in schemes:
        scheme = _as_scheme(scheme)
        scales = [scheme.std(u.shape[0]) for u in unit]
        stats = layer_statistics(x, unit, scheme.activation, bins=bins, scales=scales,
                                 dout=dout if backward else None)
        stats["scheme"] = scheme
        results[scheme.label] = stats
    return results


def init_experiment_torch(x, unit_weights: Sequence, schemes=LECTURE_SCHEMES,
                          backward: bool = False, bins: int = 50, dout=None) -> dict:
    """Torch twin of :func:`init_experiment`, on ``x``'s device (autograd for ``backward``)."""
    x = _as_tensor(x)
    unit = [_as_tensor(u, f"unit_weights[{i}]", like=x) for i, u in enumerate(unit_weights)]
    if backward and dout is None:
        dout = torch.ones((x.shape[0], unit[-1].shape[1]), dtype=x.dtype, device=x.device)
    results = {}
    for scheme in schemes:
        scheme = _as_scheme(scheme)
        scales = [scheme.std(u.shape[0]) for u in unit]
        stats = layer_statistics_torch(x, unit, scheme.activation, bins=bins, scales=scales,
                                       dout=dout if backward else None)
        stats["scheme"] = scheme
        results[scheme.label] = stats
    return results


# --------------------------------------------------------------------------------------------
# Constant initialization: symmetry is never broken
# --------------------------------------------------------------------------------------------
def _check_two_layer(x, y, w1, w2):
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must have shape (N, D) and y shape (N, C); got {x.shape}, {y.shape}.")
    if tuple(w1.shape) != (x.shape[1], w1.shape[1]) or w1.ndim != 2:
        raise ValueError(f"w1 must have shape (D, H) = ({x.shape[1]}, H); got {tuple(w1.shape)}.")
    if tuple(w2.shape) != (w1.shape[1], y.shape[1]):
        raise ValueError(
            f"w2 must have shape (H, C) = ({w1.shape[1]}, {y.shape[1]}); got {tuple(w2.shape)}.")


def train_two_layer_sgd(x, y, w1, w2, lr: float = 0.1, steps: int = 20) -> dict:
    """Full-batch gradient descent on ``out = tanh(x W1) W2`` with loss ``mean((out-y)^2)/2``.

    Backward by hand: ``dout = (out - y) / N``; ``dW2 = h^T dout``; ``dh = dout W2^T``;
    ``dz = dh (1 - h^2)``; ``dW1 = x^T dz``. If all of W1's columns (hidden units) start equal
    and all of W2's rows too, every hidden unit computes the same ``h`` and receives the same
    ``dh``, so their updates are equal and they stay copies of each other forever.

    Parameters
    ----------
    x : ndarray of shape (N, D)
    y : ndarray of shape (N, C)
    w1 : ndarray of shape (D, H)
    w2 : ndarray of shape (H, C)
    lr : float > 0
    steps : int >= 0

    Returns
    -------
    result : dict
        ``w1`` (D, H) and ``w2`` (H, C) after training, ``loss`` (steps + 1,) before each step
        and after the last, ``spread`` (steps + 1,): :func:`hidden_unit_spread` of W1.
    """
    x, y = as_float_array(x), as_float_array(y, "y")
    w1 = np.array(as_float_array(w1, "w1"), copy=True)
    w2 = np.array(as_float_array(w2, "w2"), copy=True)
    _check_two_layer(x, y, w1, w2)
    lr = check_positive(lr, "lr")
    steps = _check_int(steps, "steps", minimum=0)
    n = x.shape[0]
    losses, spread = [], [hidden_unit_spread(w1)]
    for step in range(steps + 1):
        h = np.tanh(x @ w1)  # (N, H)
        out = h @ w2  # (N, C)
        losses.append(0.5 * float(np.mean(np.sum((out - y) ** 2, axis=1))))
        if step == steps:
            break
        dout = (out - y) / n  # (N, C)
        dw2 = h.T @ dout  # (H, C)
        dz = (dout @ w2.T) * (1.0 - h**2)  # (N, H)
        dw1 = x.T @ dz  # (D, H)
        w1 -= lr * dw1
        w2 -= lr * dw2
        spread.append(hidden_unit_spread(w1))
    return {"w1": w1, "w2": w2, "loss": np.array(losses), "spread": np.array(spread)}


def train_two_layer_sgd_torch(x, y, w1, w2, lr: float = 0.1, steps: int = 20) -> dict:
    """Torch twin of :func:`train_two_layer_sgd`; the gradients come from autograd."""
    x = _as_tensor(x)
    y = _as_tensor(y, "y", like=x)
    w1 = _as_tensor(w1, "w1", like=x).detach().clone().requires_grad_(True)
    w2 = _as_tensor(w2, "w2", like=x).detach().clone().requires_grad_(True)
    _check_two_layer(x, y, w1, w2)
    lr = check_positive(lr, "lr")
    steps = _check_int(steps, "steps", minimum=0)
    losses, spread = [], [hidden_unit_spread(w1.detach().cpu().numpy())]
    for step in range(steps + 1):
        loss = 0.5 * ((torch.tanh(x @ w1) @ w2 - y) ** 2).sum(dim=1).mean()
        losses.append(float(loss.detach()))
        if step == steps:
            break
        loss.backward()
        with torch.no_grad():
            w1 -= lr * w1.grad
            w2 -= lr * w2.grad
        w1.grad = None
        w2.grad = None
        spread.append(hidden_unit_spread(w1.detach().cpu().numpy()))
    return {"w1": w1.detach(), "w2": w2.detach(), "loss": np.array(losses),
            "spread": np.array(spread)}


def hidden_unit_spread(w1) -> float:
    """Largest difference between any hidden unit's incoming weights and unit 0's.

    Parameters
    ----------
    w1 : ndarray of shape (D, H), one column per hidden unit

    Returns
    -------
    spread : float, ``max |W1[:, j] - W1[:, 0]|``; 0 (up to rounding) while all units are
        copies
    """
    w1 = as_float_array(w1, "w1")
    if w1.ndim != 2:
        raise ValueError(f"w1 must have shape (D, H); got shape {w1.shape}.")
    return float(np.max(np.abs(w1 - w1[:, :1])))


# --------------------------------------------------------------------------------------------
# LSUV: layer-sequential unit-variance initialization (Mishkin and Matas 2015)
# --------------------------------------------------------------------------------------------
def lsuv_init(x, weights: Sequence, activation: str = "relu", tol: float = 0.01,
              max_iter: int = 10) -> dict:
    """Data-driven initialization: rescale each layer in turn to unit output variance.

    Going from the first layer to the last, with the earlier layers already fixed, push the
    batch through, measure the variance of this layer's output ``z_l = h_{l-1} W_l`` (before
    the nonlinearity, as in the paper), and divide ``W_l`` by ``sqrt(var)`` until
    ``|var - 1| < tol``. On one fixed batch a linear layer needs a single rescale; the loop
    matters when the variance is measured on fresh batches or through batch-dependent layers.
    The paper starts from orthonormal weights (:func:`orthogonal`); any start works here.

    Parameters
    ----------
    x : ndarray of shape (N, D_0)
        A batch of real inputs.
    weights : sequence of L ndarrays of shape (D_l, D_{l+1})
    activation : str, a key of :data:`tnn.activations.ELEMENTWISE`
    tol : float > 0
    max_iter : int >= 1

    Returns
    -------
    result : dict
        ``weights``: the L rescaled matrices (new arrays); ``std_before`` (L,): the std of
        ``z_l`` before layer l was rescaled (earlier layers already fixed); ``std_after`` (L,);
        ``iterations`` (L,): rescales per layer.
    """
    x = as_float_array(x)
    weights = [np.array(as_float_array(w, f"weights[{i}]"), copy=True)
               for i, w in enumerate(weights)]
    check_choice(activation, "activation", tuple(A.ELEMENTWISE))
    tol = check_positive(tol, "tol")
    max_iter = _check_int(max_iter, "max_iter")
    check_weight_chain(x.shape, [w.shape for w in weights])
    f = A.ELEMENTWISE[activation][0]
    h = x
    before, after, iters = [], [], []
    for layer, w in enumerate(weights):
        z = h @ w  # (N, D_out)
        before.append(float(z.std()))
        count = 0
        while abs(float(z.var()) - 1.0) >= tol and count < max_iter:
            w = w / w.dtype.type(np.sqrt(z.var()))  # (D_in, D_out)
            z = h @ w
            count += 1
        weights[layer] = w
        after.append(float(z.std()))
        iters.append(count)
        h = np.asarray(f(z))  # (N, D_out)
    return {"weights": weights, "std_before": np.array(before), "std_after": np.array(after),
            "iterations": np.array(iters)}


def lsuv_init_torch(x, weights: Sequence, activation: str = "relu", tol: float = 0.01,
                    max_iter: int = 10) -> dict:
    """Torch twin of :func:`lsuv_init`, on ``x``'s device; ``weights`` come back as tensors."""
    x = _as_tensor(x)
    weights = [_as_tensor(w, f"weights[{i}]", like=x).clone() for i, w in enumerate(weights)]
    check_choice(activation, "activation", tuple(A.ELEMENTWISE))
    tol = check_positive(tol, "tol")
    max_iter = _check_int(max_iter, "max_iter")
    check_weight_chain(tuple(x.shape), [tuple(w.shape) for w in weights])
    f = A._TORCH_TWINS[activation][0]
    h = x
    before, after, iters = [], [], []
    for layer, w in enumerate(weights):
        z = h @ w
        before.append(float(z.std(unbiased=False)))
        count = 0
        while abs(float(z.var(unbiased=False)) - 1.0) >= tol and count < max_iter:
            w = w / torch.sqrt(z.var(unbiased=False))
            z = h @ w
            count += 1
        weights[layer] = w
        after.append(float(z.std(unbiased=False)))
        iters.append(count)
        h = f(z)
    return {"weights": weights, "std_before": np.array(before), "std_after": np.array(after),
            "iterations": np.array(iters)}


# --------------------------------------------------------------------------------------------
# Our initializers next to torch.nn.init's conventions
# --------------------------------------------------------------------------------------------
def torch_init_comparison(fan_in: int = 512, fan_out: int = 2048, seed: int = 0) -> list[dict]:
    """Sample each convention once and compare its sample std with its formula.

    Weights are sampled in PyTorch's ``nn.Linear`` layout ``(fan_out, fan_in)`` for torch's
    initializers and in ours, ``(fan_in, fan_out)``, for ours.

    Returns
    -------
    rows : list of dict with ``name``, ``formula`` (text), ``std_formula`` and ``std_sample``
    """
    fi = _check_int(fan_in, "fan_in")
    fo = _check_int(fan_out, "fan_out")
    rng = np.random.default_rng(seed)

    def torch_sample(init_fn):
        # torch.nn.init draws from the global generator: seed a private copy of it
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            w = torch.empty(fo, fi)
            init_fn(w)
        return float(w.std(unbiased=False))

    def linear_default():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return float(torch.nn.Linear(fi, fo).weight.detach().std(unbiased=False))

    nn_init = torch.nn.init
    rows = [
        ("ours: xavier_normal", "1/sqrt(fan_in)", 1 / math.sqrt(fi),
         float(xavier_normal(rng, (fi, fo)).std())),
        ("torch: kaiming_normal_(nonlinearity='linear')", "1/sqrt(fan_in)", 1 / math.sqrt(fi),
         torch_sample(lambda w: nn_init.kaiming_normal_(w, nonlinearity="linear"))),
        ("torch: xavier_normal_", "sqrt(2/(fan_in+fan_out))", math.sqrt(2 / (fi + fo)),
         torch_sample(lambda w: nn_init.xavier_normal_(w))),
        ("ours: kaiming_normal", "sqrt(2/fan_in)", math.sqrt(2 / fi),
         float(kaiming_normal(rng, (fi, fo)).std())),
        ("torch: kaiming_normal_(mode='fan_in', nonlinearity='relu')", "sqrt(2/fan_in)",
         math.sqrt(2 / fi),
         torch_sample(lambda w: nn_init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"))),
        ("torch: kaiming_normal_(mode='fan_out', nonlinearity='relu')", "sqrt(2/fan_out)",
         math.sqrt(2 / fo),
         torch_sample(lambda w: nn_init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"))),
        ("torch: nn.Linear default (kaiming_uniform_, a=sqrt(5))",
         "U(-1/sqrt(fan_in), 1/sqrt(fan_in)): 1/sqrt(3 fan_in)", 1 / math.sqrt(3 * fi),
         linear_default()),
    ]
    return [{"name": n, "formula": t, "std_formula": s, "std_sample": v} for n, t, s, v in rows]


# --------------------------------------------------------------------------------------------
# Convolution geometry
# --------------------------------------------------------------------------------------------
def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis (PyTorch's formula).

    ``floor((size + 2 padding - dilation (kernel_size - 1) - 1) / stride + 1)``: the output
    is rounded *down*, so input pixels that do not fill a last window are ignored.

    Parameters
    ----------
    size : int >= 1, the input length ``H_in``
    kernel_size, stride, dilation : int >= 1
    padding : int >= 0

    Returns
    -------
    out : int >= 1
    """
    size = _check_int(size, "size")
    kernel_size = _check_int(kernel_size, "kernel_size")
    stride = _check_int(stride, "stride")
    padding = _check_int(padding, "padding", minimum=0)
    dilation = _check_int(dilation, "dilation")
    span = dilation * (kernel_size - 1) + 1  # input pixels one window covers
    if size + 2 * padding < span:
        raise ValueError(
            f"the window (kernel_size={kernel_size}, dilation={dilation}: {span} pixels) is "
            f"larger than the padded input ({size} + 2*{padding} = {size + 2 * padding}); use "
            f"a smaller kernel or more padding."
        )
    return (size + 2 * padding - span) // stride + 1


def _layer_ks(layer, i: int) -> tuple[int, int]:
    if isinstance(layer, dict):
        k, s, d = layer.get("kernel_size", 1), layer.get("stride", 1), layer.get("dilation", 1)
    elif isinstance(layer, tuple | list) and len(layer) in (2, 3):
        k, s, d = (*layer, 1) if len(layer) == 2 else layer
    else:
        raise TypeError(
            f"layers[{i}] must be a (kernel_size, stride) pair, a (kernel_size, stride, "
            f"dilation) triple or a dict with those keys; got {_describe(layer)}."
        )
    k, s, d = (_check_int(v, f"layers[{i}] {n}") for v, n in
               ((k, "kernel_size"), (s, "stride"), (d, "dilation")))
    return d * (k - 1) + 1, s


def receptive_fields(layers: Sequence) -> list[int]:
    """Receptive field on the network input after each layer.

    ``r_L = sum_{l=1..L} (k_l - 1) prod_{i<l} s_i + 1``: each layer widens the field by
    ``k_l - 1`` of its own input pixels, and one of those is ``prod_{i<l} s_i`` input pixels
    apart. Padding does not enter; a dilated kernel counts as ``dilation (k - 1) + 1``.

    Parameters
    ----------
    layers : sequence of ``(kernel_size, stride)`` pairs (or triples with dilation, or dicts)

    Returns
    -------
    fields : list of int, one per layer
    """
    r, jump, fields = 1, 1, []
    for i, layer in enumerate(layers):
        k, s = _layer_ks(layer, i)
        r += (k - 1) * jump  # (k_l - 1) * prod_{i<l} s_i
        jump *= s
        fields.append(r)
    return fields


def receptive_field(layers: Sequence) -> int:
    """Receptive field on the input of the whole stack (1 for an empty stack)."""
    fields = receptive_fields(layers)
    return fields[-1] if fields else 1


# AlexNet, layer by layer. Convolutions: out_channels, kernel_size, stride, padding, groups;
# pooling: kernel_size, stride; "lrn" and "dropout" keep the shape; "fc": out_features.
# Caffe's bvlc_alexnet normalizes before it pools (norm1 reads conv1's ReLU output, pool1
# reads norm1); its conv2, conv4 and conv5 have "group: 2" (one half per GPU in the paper).
ALEXNET_CAFFE = (
    {"name": "conv1", "type": "conv", "out_channels": 96, "kernel_size": 11, "stride": 4},
    {"name": "norm1", "type": "lrn"},
    {"name": "pool1", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "conv2", "type": "conv", "out_channels": 256, "kernel_size": 5, "padding": 2,
     "groups": 2},
    {"name": "norm2", "type": "lrn"},
    {"name": "pool2", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "conv3", "type": "conv", "out_channels": 384, "kernel_size": 3, "padding": 1},
    {"name": "conv4", "type": "conv", "out_channels": 384, "kernel_size": 3, "padding": 1,
     "groups": 2},
    {"name": "conv5", "type": "conv", "out_channels": 256, "kernel_size": 3, "padding": 1,
     "groups": 2},
    {"name": "pool5", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "fc6", "type": "fc", "out_features": 4096},
    {"name": "fc7", "type": "fc", "out_features": 4096},
    {"name": "fc8", "type": "fc", "out_features": 1000},
)
ALEXNET_TORCHVISION = (
    {"name": "conv1", "type": "conv", "out_channels": 64, "kernel_size": 11, "stride": 4,
     "padding": 2},
    {"name": "pool1", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "conv2", "type": "conv", "out_channels": 192, "kernel_size": 5, "padding": 2},
    {"name": "pool2", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "conv3", "type": "conv", "out_channels": 384, "kernel_size": 3, "padding": 1},
    {"name": "conv4", "type": "conv", "out_channels": 256, "kernel_size": 3, "padding": 1},
    {"name": "conv5", "type": "conv", "out_channels": 256, "kernel_size": 3, "padding": 1},
    {"name": "pool5", "type": "maxpool", "kernel_size": 3, "stride": 2},
    {"name": "avgpool", "type": "adaptiveavgpool", "output_size": 6},
    {"name": "drop6", "type": "dropout"},
    {"name": "fc6", "type": "fc", "out_features": 4096},
    {"name": "drop7", "type": "dropout"},
    {"name": "fc7", "type": "fc", "out_features": 4096},
    {"name": "fc8", "type": "fc", "out_features": 1000},
)
_LAYER_TYPES = ("conv", "maxpool", "lrn", "adaptiveavgpool", "dropout", "fc")


def alexnet_shape_table(spec: Sequence = ALEXNET_CAFFE, input_size: int = 227,
                        in_channels: int = 3, grouped: bool = False) -> list[dict]:
    """Output shape, parameter count and receptive field of every layer of a spec.

    Parameters
    ----------
    spec : sequence of dict, e.g. :data:`ALEXNET_CAFFE` or :data:`ALEXNET_TORCHVISION`
    input_size : int, the square input's side (227 for Caffe, 224 for torchvision)
    in_channels : int
    grouped : bool, default False
        Count a convolution with ``"groups": g`` as ``g`` convolutions side by side, each
        seeing ``C_in / g`` input channels: ``C_out (C_in / g) k^2`` weights instead of
        ``C_out C_in k^2``. Shapes and receptive fields do not change.

    Returns
    -------
    rows : list of dict
        ``name``, ``type``, ``shape`` ((C, H, W) or (features,)), ``params`` (weights plus
        biases), ``receptive_field`` (pixels of the input one output value sees; a fully
        connected layer sees all ``input_size`` of them).
    """
    size = _check_int(input_size, "input_size")
    channels = _check_int(in_channels, "in_channels")
    features = None  # set once the tensor is flattened
    r, jump = 1, 1
    rows = []
    for i, layer in enumerate(spec):
        kind = check_choice(layer.get("type"), f"spec[{i}]['type']", _LAYER_TYPES)
        params = 0
        if kind in ("conv", "maxpool", "adaptiveavgpool") and features is not None:
            raise ValueError(f"spec[{i}] ({layer.get('name')}) is spatial but follows an fc layer.")
        if kind in ("conv", "maxpool"):
            k, s = layer["kernel_size"], layer.get("stride", 1)
            size = conv_output_size(size, k, s, layer.get("padding", 0))
            r, jump = r + (k - 1) * jump, jump * s
            if kind == "conv":
                c_out = layer["out_channels"]
                groups = layer.get("groups", 1) if grouped else 1
                if channels % groups or c_out % groups:
                    raise ValueError(f"spec[{i}] ({layer.get('name')}): {groups} groups must "
                                     f"divide C_in = {channels} and C_out = {c_out}.")
                params = c_out * (channels // groups) * k * k + c_out
                channels = c_out
        elif kind == "adaptiveavgpool":
            out = layer["output_size"]
            if size % out:
                raise ValueError(f"adaptive pooling from {size} to {out} is not a fixed window.")
            s = size // out
            k = size - (out - 1) * s  # the fixed window that gives the same result
            size = out
            r, jump = r + (k - 1) * jump, jump * s
        elif kind == "dropout" and features is None:
            features = channels * size * size  # the classifier's input, flattened
        elif kind == "fc":
            n_in = features if features is not None else channels * size * size
            features = layer["out_features"]
            params = n_in * features + features
            r = input_size
        shape = (features,) if features is not None else (channels, size, size)
        rows.append({"name": layer.get("name", f"layer{i}"), "type": kind, "shape": shape,
                     "params": params, "receptive_field": r})
    return rows


def alexnet_torch(spec: Sequence = ALEXNET_CAFFE, input_size: int = 227, in_channels: int = 3,
                  dropout: float = 0.5, grouped: bool = False) -> torch.nn.Sequential:
    """Build the spec from ``torch.nn`` layers, one named module per row (plus ReLUs).

    ``input_size`` fixes the first fully connected layer's fan-in (torchvision's adaptive
    pooling makes it 256*6*6 for any input of at least 63 pixels). The Caffe variant's local
    response normalization is ``nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0)``. The original
    split conv2, conv4 and conv5 into two groups (one per GPU), which halves their parameters
    but changes no shape: ``grouped=True`` builds them with ``groups=2``, the default with one
    group. ``dropout`` is PyTorch's ``p``, the probability of dropping a unit.
    """
    nn = torch.nn
    table = alexnet_shape_table(spec, input_size, in_channels, grouped)
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    channels, flat = in_channels, False
    for i, (layer, row) in enumerate(zip(spec, table, strict=True)):
        kind, name = row["type"], row["name"]
        if kind in ("dropout", "fc") and not flat:
            modules["flatten"] = nn.Flatten()
            flat = True
        if kind == "conv":
            modules[name] = nn.Conv2d(channels, layer["out_channels"], layer["kernel_size"],
                                      stride=layer.get("stride", 1),
                                      padding=layer.get("padding", 0),
                                      groups=layer.get("groups", 1) if grouped else 1)
            modules["relu" + name[4:]] = nn.ReLU()
        elif kind == "maxpool":
            modules[name] = nn.MaxPool2d(layer["kernel_size"], stride=layer.get("stride", 1))
        elif kind == "lrn":
            modules[name] = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        elif kind == "adaptiveavgpool":
            modules[name] = nn.AdaptiveAvgPool2d(layer["output_size"])
        elif kind == "dropout":
            modules[name] = nn.Dropout(p=dropout)
        else:  # fc: its fan-in is the previous row's flattened shape
            n_in = math.prod(table[i - 1]["shape"]) if i else in_channels * input_size**2
            modules[name] = nn.Linear(n_in, layer["out_features"])
            if i + 1 < len(spec):
                modules["relu" + name[2:]] = nn.ReLU()
        channels = row["shape"][0]
    return nn.Sequential(modules)


def torch_output_shapes(model: torch.nn.Sequential, input_size: int, in_channels: int = 3,
                        device="cpu") -> dict[str, tuple[int, ...]]:
    """Run one input through ``model`` and return each named module's output shape.

    Returns
    -------
    shapes : dict mapping module name to the output shape without the batch axis
    """
    model = model.to(device).eval()
    h = torch.zeros((1, in_channels, input_size, input_size), device=device)
    shapes = {}
    with torch.no_grad():
        for name, module in model.named_children():
            h = module(h)
            shapes[name] = tuple(h.shape[1:])
    return shapes
