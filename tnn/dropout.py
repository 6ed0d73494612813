"""Topic 05: dropout and its relatives, with the lecture's convention: **keep_prob** is the
probability of KEEPING a unit (the lecture's p). PyTorch's ``nn.Dropout(p)`` and
``F.dropout(x, p)`` take the probability of DROPPING one: ``drop_prob = 1 - keep_prob``.

Randomness is separated from arithmetic: the samplers (:func:`dropout_mask`,
:func:`spatial_dropout_mask`, :func:`stochastic_depth_gates`) take an explicit
``np.random.Generator`` / ``torch.Generator``; every forward and backward pass takes the
sampled mask itself, so the NumPy reference and its torch twin can be compared exactly, and
the backward pass provably reuses the forward's mask.

============================  ====================================  =========================
idea                          training time                         test time
============================  ====================================  =========================
vanilla dropout               ``x * mask``                          ``x * keep_prob``
inverted dropout              ``x * mask / keep_prob``              ``x`` (nothing to do)
DropConnect (inverted)        ``x @ (W * mask / keep_prob) + b``    ``x @ W + b``
spatial dropout (inverted)    whole channels: mask of shape (N, C)  ``x``
stochastic depth              ``h + gate_l * f(h W_l)``             ``h + survival_l f(h W_l)``
============================  ====================================  =========================

Masks are boolean arrays, True where the unit (weight, channel, block) is kept. Every
function keeps the input's float dtype (float32 stays float32) and never writes into its
arguments. The experiments of lecture 05 (the exact 4-mask check, the Monte-Carlo check,
the keep-probability sweep on the digits MLP, MC dropout) live in
:mod:`tnn.dropout_experiments`, stochastic depth in :mod:`tnn.stochastic_depth`; both are
re-exported here: ``from tnn import dropout`` gives
the whole topic.
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

__all__ = [
    "check_keep_prob",
    "dropout_mask",
    "dropout_mask_torch",
    "vanilla_dropout_forward",
    "vanilla_dropout_forward_torch",
    "vanilla_dropout_predict",
    "vanilla_dropout_predict_torch",
    "vanilla_dropout_backward",
    "dropout_test_time",
    "vanilla_dropout_backward_torch",
    "inverted_dropout_forward",
    "inverted_dropout_forward_torch",
    "inverted_dropout_backward",
    "inverted_dropout_backward_torch",
    "mask_from_torch_output",
    "dropconnect_forward",
    "dropconnect_forward_torch",
    "dropconnect_backward",
    "dropconnect_backward_torch",
    "spatial_dropout_mask",
    "spatial_dropout_mask_torch",
    "spatial_dropout_forward",
    "spatial_dropout_forward_torch",
]


# --------------------------------------------------------------------------------------------
# validation shared by both twins
# --------------------------------------------------------------------------------------------
def check_keep_prob(keep_prob, name: str = "keep_prob") -> float:
    """Return ``keep_prob`` as a float in (0, 1]; the message names PyTorch's opposite p."""
    if isinstance(keep_prob, bool) or not isinstance(keep_prob, numbers.Real):
        raise TypeError(f"{name} must be a real number in (0, 1], the probability of KEEPING a "
                        f"unit; got {_describe(keep_prob)}.")
    keep_prob = float(keep_prob)
    if not (0.0 < keep_prob <= 1.0):
        raise ValueError(
            f"{name} must be in (0, 1], the probability of KEEPING a unit; got {keep_prob}. "
            f"(keep_prob = 0 would drop everything. PyTorch's nn.Dropout(p) takes the "
            f"probability of DROPPING a unit: keep_prob = 1 - p.)")
    return keep_prob


def _check_mask_shape(mask_shape, x_shape, name: str = "mask") -> None:
    if tuple(mask_shape) != tuple(x_shape):
        raise ValueError(f"{name} must have the shape of x, {tuple(x_shape)} (one entry per "
                         f"unit); got shape {tuple(mask_shape)}. Draw it with "
                         f"dropout_mask(rng, x.shape, keep_prob).")


def _as_mask(mask, name: str = "mask") -> np.ndarray:
    """A boolean array: bool masks as they are, 0/1 numbers compared with 0."""
    if mask is None or isinstance(mask, str | bytes):
        raise TypeError(f"{name} must be a boolean array (True = keep); got {_describe(mask)}.")
    if isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a NumPy array here; got {_describe(mask)}. Use the "
                        f"*_torch twin for tensors.")
    arr = np.asarray(mask)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a boolean array (True = keep); got {_describe(mask)}.")
    return arr if arr.dtype == bool else arr != 0


def _as_mask_torch(mask, like: torch.Tensor, name: str = "mask") -> torch.Tensor:
    if isinstance(mask, torch.Tensor):
        t = mask
    elif isinstance(mask, np.ndarray):
        t = torch.as_tensor(_as_mask(mask, name))
    else:
        raise TypeError(f"{name} must be a boolean tensor (True = keep); got {_describe(mask)}.")
    if t.is_complex():
        raise TypeError(f"{name} must be a boolean tensor (True = keep); got {_describe(mask)}.")
    t = t if t.dtype == torch.bool else t != 0
    return t.to(like.device)


def _scale(keep_prob: float, dtype) -> np.ndarray:
    return np.asarray(1.0 / keep_prob, dtype=dtype)


# --------------------------------------------------------------------------------------------
# sampling masks
# --------------------------------------------------------------------------------------------
def dropout_mask(rng: np.random.Generator, shape, keep_prob: float) -> np.ndarray:
    """A boolean mask, True with probability ``keep_prob`` independently per entry.

    Drawn as ``rng.random(shape) < keep_prob`` (one uniform per entry), as in the lecture's
    ``U1 = np.random.rand(*H1.shape) < p``.

    Parameters
    ----------
    rng : np.random.Generator
    shape : tuple of int
    keep_prob : float in (0, 1]

    Returns
    -------
    mask : ndarray of bool and shape ``shape``
    """
    check_rng(rng)
    keep_prob = check_keep_prob(keep_prob)
    return rng.random(tuple(shape)) < keep_prob


def dropout_mask_torch(generator: torch.Generator, shape, keep_prob: float) -> torch.Tensor:
    """Torch twin of :func:`dropout_mask`, on ``generator``'s device (a different stream)."""
    check_generator(generator)
    keep_prob = check_keep_prob(keep_prob)
    u = torch.rand(tuple(shape), generator=generator, device=generator.device)
    return u < keep_prob


# --------------------------------------------------------------------------------------------
# vanilla dropout: mask at training, multiply by keep_prob at test
# --------------------------------------------------------------------------------------------
def vanilla_dropout_forward(x, mask) -> np.ndarray:
    """Training-time vanilla dropout: ``x * mask`` (dropped units are 0, kept ones unscaled).

    Parameters
    ----------
    x : ndarray of any shape, float32 or float64
    mask : ndarray of bool and x's shape, True = keep

    Returns
    -------
    out : ndarray of x's shape and dtype
    """
    x = as_float_array(x)
    mask = _as_mask(mask)
    _check_mask_shape(mask.shape, x.shape)
    return np.where(mask, x, np.zeros((), dtype=x.dtype))


def vanilla_dropout_forward_torch(x, mask) -> torch.Tensor:
    """Torch twin of :func:`vanilla_dropout_forward`, on x's device."""
    x = as_float_tensor(x)
    mask = _as_mask_torch(mask, x)
    _check_mask_shape(mask.shape, x.shape)
    return torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device))


def vanilla_dropout_predict(x, keep_prob: float) -> np.ndarray:
    """Test-time vanilla dropout: every unit on, scaled by ``keep_prob`` (= E over masks).

    Parameters
    ----------
    x : ndarray of any shape, float32 or float64
    keep_prob : float in (0, 1]

    Returns
    -------
    out : ndarray of x's shape and dtype, ``keep_prob * x``
    """
    x = as_float_array(x)
    keep_prob = check_keep_prob(keep_prob)
    return x * np.asarray(keep_prob, dtype=x.dtype)


def vanilla_dropout_predict_torch(x, keep_prob: float) -> torch.Tensor:
    """Torch twin of :func:`vanilla_dropout_predict`."""
    x = as_float_tensor(x)
    return x * check_keep_prob(keep_prob)


def dropout_test_time(x, keep_prob: float, inverted: bool = True) -> np.ndarray:
    """A dropout layer at test time: every unit on, no mask.

    Inverted dropout already scaled at training time, so its test time is the identity;
    vanilla dropout scales here, by ``keep_prob``. Scaling in both places is a classic bug.

    Parameters
    ----------
    x : ndarray of any shape, float32 or float64
    keep_prob : float in (0, 1]
    inverted : bool

    Returns
    -------
    out : ndarray of x's shape and dtype (a new array)
    """
    x = as_float_array(x)
    keep_prob = check_keep_prob(keep_prob)
    return x.copy() if inverted else vanilla_dropout_predict(x, keep_prob)


def vanilla_dropout_backward(dout, mask) -> np.ndarray:
    """Backward pass of :func:`vanilla_dropout_forward`: ``dout * mask`` (the same mask).

    Parameters
    ----------
    dout : ndarray, the upstream gradient, of the forward input's shape
    mask : ndarray of bool, the mask the forward pass used

    Returns
    -------
    dx : ndarray of dout's shape and dtype
    """
    return vanilla_dropout_forward(dout, mask)  # the layer is linear in x: same op


def vanilla_dropout_backward_torch(dout, mask) -> torch.Tensor:
    """Torch twin of :func:`vanilla_dropout_backward`."""
    return vanilla_dropout_forward_torch(dout, mask)


# --------------------------------------------------------------------------------------------
# inverted dropout: divide by keep_prob at training, identity at test
# --------------------------------------------------------------------------------------------
def inverted_dropout_forward(x, mask, keep_prob: float) -> np.ndarray:
    """Training-time inverted dropout: ``x * mask / keep_prob``.

    The kept units are scaled up by ``1 / keep_prob`` so that the expected output over masks
    equals ``x``: at test time the layer is the identity.

    Parameters
    ----------
    x : ndarray of any shape, float32 or float64
    mask : ndarray of bool and x's shape, True = keep
    keep_prob : float in (0, 1], the probability of KEEPING a unit (PyTorch's p is 1 - it)

    Returns
    -------
    out : ndarray of x's shape and dtype
    """
    x = as_float_array(x)
    mask = _as_mask(mask)
    keep_prob = check_keep_prob(keep_prob)
    _check_mask_shape(mask.shape, x.shape)
    return np.where(mask, x * _scale(keep_prob, x.dtype), np.zeros((), dtype=x.dtype))


def inverted_dropout_forward_torch(x, mask, keep_prob: float) -> torch.Tensor:
    """Torch twin of :func:`inverted_dropout_forward`, on x's device and dtype."""
    x = as_float_tensor(x)
    mask = _as_mask_torch(mask, x)
    keep_prob = check_keep_prob(keep_prob)
    _check_mask_shape(mask.shape, x.shape)
    return torch.where(mask, x / keep_prob, torch.zeros((), dtype=x.dtype, device=x.device))


def inverted_dropout_backward(dout, mask, keep_prob: float) -> np.ndarray:
    """Backward pass of :func:`inverted_dropout_forward`: ``dout * mask / keep_prob``.

    It must use the forward pass's own mask: a unit that was dropped passed nothing forward,
    so no gradient flows back through it.

    Parameters
    ----------
    dout : ndarray, dL/dout, of the forward input's shape
    mask : ndarray of bool, the mask the forward pass used
    keep_prob : float in (0, 1]

    Returns
    -------
    dx : ndarray of dout's shape and dtype
    """
    return inverted_dropout_forward(dout, mask, keep_prob)  # linear in x: same op


def inverted_dropout_backward_torch(dout, mask, keep_prob: float) -> torch.Tensor:
    """Torch twin of :func:`inverted_dropout_backward`."""
    return inverted_dropout_forward_torch(dout, mask, keep_prob)


def mask_from_torch_output(out) -> np.ndarray | torch.Tensor:
    """The mask PyTorch drew, read off its dropout output: ``out != 0``.

    Exact when the input has no zeros (a kept unit is ``x / (1 - p)``, non-zero).
    """
    return out != 0


# --------------------------------------------------------------------------------------------
# DropConnect: drop weights, not units (inverted scaling)
# --------------------------------------------------------------------------------------------
def _check_linear(x_shape, w_shape, b_shape, mask_shape) -> None:
    if len(x_shape) != 2 or len(w_shape) != 2 or x_shape[1] != w_shape[0]:
        raise ValueError(f"x must have shape (N, D_in) and w shape (D_in, D_out); got x "
                         f"{tuple(x_shape)} and w {tuple(w_shape)}.")
    if tuple(b_shape) != (w_shape[1],):
        raise ValueError(f"b must have shape (D_out,) = ({w_shape[1]},); got {tuple(b_shape)}.")
    _check_mask_shape(mask_shape, w_shape, "mask (one entry per weight)")


def dropconnect_forward(x, w, b, mask, keep_prob: float) -> np.ndarray:
    """A linear layer with DropConnect: ``x @ (w * mask / keep_prob) + b``.

    Parameters
    ----------
    x : ndarray of shape (N, D_in)
    w : ndarray of shape (D_in, D_out)
    b : ndarray of shape (D_out,)
    mask : ndarray of bool and shape (D_in, D_out), True = keep that weight
    keep_prob : float in (0, 1]

    Returns
    -------
    out : ndarray of shape (N, D_out)
    """
    x, w, b = as_float_array(x, "x"), as_float_array(w, "w"), as_float_array(b, "b")
    mask = _as_mask(mask)
    _check_linear(x.shape, w.shape, b.shape, mask.shape)
    return x @ inverted_dropout_forward(w, mask, keep_prob) + b  # (N, D_out)


def dropconnect_forward_torch(x, w, b, mask, keep_prob: float) -> torch.Tensor:
    """Torch twin of :func:`dropconnect_forward`."""
    x = as_float_tensor(x, "x")
    w, b = as_float_tensor(w, "w", like=x), as_float_tensor(b, "b", like=x)
    mask = _as_mask_torch(mask, x)
    _check_linear(x.shape, w.shape, b.shape, mask.shape)
    return x @ inverted_dropout_forward_torch(w, mask, keep_prob) + b


def dropconnect_backward(dout, x, w, mask, keep_prob: float):
    """Backward pass of :func:`dropconnect_forward`.

    Parameters
    ----------
    dout : ndarray of shape (N, D_out)
    x : ndarray of shape (N, D_in); w, mask : (D_in, D_out); keep_prob : float

    Returns
    -------
    dx : ndarray (N, D_in); dw : ndarray (D_in, D_out), zero where a weight was dropped;
    db : ndarray (D_out,)
    """
    dout, x, w = as_float_array(dout, "dout"), as_float_array(x, "x"), as_float_array(w, "w")
    mask = _as_mask(mask)
    _check_linear(x.shape, w.shape, (w.shape[1],), mask.shape)
    w_used = inverted_dropout_forward(w, mask, keep_prob)  # (D_in, D_out)
    dw = inverted_dropout_backward(x.T @ dout, mask, keep_prob)  # (D_in, D_out)
    return dout @ w_used.T, dw, dout.sum(axis=0)


def dropconnect_backward_torch(dout, x, w, mask, keep_prob: float):
    """Torch twin of :func:`dropconnect_backward`."""
    x = as_float_tensor(x, "x")
    dout, w = as_float_tensor(dout, "dout", like=x), as_float_tensor(w, "w", like=x)
    mask = _as_mask_torch(mask, x)
    _check_linear(x.shape, w.shape, (w.shape[1],), mask.shape)
    w_used = inverted_dropout_forward_torch(w, mask, keep_prob)
    dw = inverted_dropout_backward_torch(x.T @ dout, mask, keep_prob)
    return dout @ w_used.T, dw, dout.sum(dim=0)


# --------------------------------------------------------------------------------------------
# spatial dropout: whole channels of a conv feature map (what nn.Dropout2d does)
# --------------------------------------------------------------------------------------------
def _check_maps(x_shape, mask_shape) -> None:
    if len(x_shape) != 4:
        raise ValueError(f"x must be a batch of feature maps of shape (N, C, H, W); got shape "
                         f"{tuple(x_shape)}.")
    if tuple(mask_shape) != tuple(x_shape[:2]):
        raise ValueError(f"mask must have shape (N, C) = {tuple(x_shape[:2])}, one entry per "
                         f"channel of each example; got {tuple(mask_shape)}.")


def spatial_dropout_mask(rng: np.random.Generator, shape, keep_prob: float) -> np.ndarray:
    """A boolean (N, C) mask for feature maps of ``shape`` (N, C, H, W): one draw per channel."""
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(f"shape must be (N, C, H, W); got {shape}.")
    return dropout_mask(rng, shape[:2], keep_prob)


def spatial_dropout_mask_torch(generator: torch.Generator, shape, keep_prob: float):
    """Torch twin of :func:`spatial_dropout_mask`."""
    shape = tuple(shape)
    if len(shape) != 4:
        raise ValueError(f"shape must be (N, C, H, W); got {shape}.")
    return dropout_mask_torch(generator, shape[:2], keep_prob)


def spatial_dropout_forward(x, mask, keep_prob: float) -> np.ndarray:
    """Inverted spatial dropout: channel ``c`` of example ``n`` is zeroed when
    ``mask[n, c]`` is False, and every kept channel is divided by ``keep_prob``.

    Parameters
    ----------
    x : ndarray of shape (N, C, H, W), float32 or float64
    mask : ndarray of bool and shape (N, C)
    keep_prob : float in (0, 1]

    Returns
    -------
    out : ndarray of x's shape and dtype
    """
    x = as_float_array(x)
    mask = _as_mask(mask)
    _check_maps(x.shape, mask.shape)
    full = np.broadcast_to(mask[:, :, None, None], x.shape)  # (N, C, H, W), a view
    return inverted_dropout_forward(x, full, keep_prob)


def spatial_dropout_forward_torch(x, mask, keep_prob: float) -> torch.Tensor:
    """Torch twin of :func:`spatial_dropout_forward`."""
    x = as_float_tensor(x)
    mask = _as_mask_torch(mask, x)
    _check_maps(x.shape, mask.shape)
    return inverted_dropout_forward_torch(x, mask[:, :, None, None].expand(x.shape), keep_prob)



_REEXPORTED = ("tnn.dropout_experiments", "tnn.stochastic_depth")


def __getattr__(name: str):
    """The experiments and stochastic depth under the topic's one name, loaded on first use:
    both modules import this one, so a re-export at import time would be a cycle."""
    import importlib

    if name.startswith("__"):  # the import system asks for __path__ and the like
        raise AttributeError(name)
    for module_name in _REEXPORTED:
        module = importlib.import_module(module_name)
        if name in module.__all__:
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    import importlib

    names = set(globals())
    for module_name in _REEXPORTED:
        names |= set(importlib.import_module(module_name).__all__)
    return sorted(names)
