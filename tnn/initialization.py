"""Topic 03: weight initialization, the layer-statistics experiment, conv shapes.

This module is the topic's one name: ``from tnn import initialization`` gives every public
function of the topic. It defines one layer's forward and backward pass and the layer
statistics they chain; the rest lives in modules of its own and is re-exported here:

- :mod:`tnn.initializers`  fan-in and fan-out, :func:`gain`, the initializers
- :mod:`tnn.init_schemes`  the lecture's experiment: :class:`InitScheme`,
  :data:`LECTURE_SCHEMES` and :data:`LECTURE_FIGURES`, :func:`init_experiment`
- :mod:`tnn.init_training` constant-init symmetry, LSUV, torch.nn.init's conventions
- :mod:`tnn.convgeometry`  conv output sizes, receptive fields, AlexNet layer by layer
- :mod:`tnn.layerstats`    the per-layer probe shared with topic 01

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

One layer's forward and backward pass, ``layer_forward`` / ``layer_backward``, are what
:func:`layer_statistics` chains; its backward pass records the std of ``dL/dh`` at every
layer's input and of every ``dL/dW``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tnn import activations as A
from tnn._validate import (
    as_float_array,
    as_float_tensor,
    check_choice,
    check_int,
    check_scales,
    check_weight_chain,
    hist_range,
)
from tnn.convgeometry import (
    ALEXNET_CAFFE,
    ALEXNET_TORCHVISION,
    alexnet_shape_table,
    alexnet_torch,
    conv_output_size,
    receptive_field,
    receptive_field_step,
    receptive_fields,
    torch_output_shapes,
)
from tnn.init_schemes import (
    FIGURE_SOURCES,
    LECTURE_FIGURES,
    LECTURE_SCHEMES,
    InitScheme,
    init_experiment,
    init_experiment_torch,
    sample_experiment,
    sample_experiment_torch,
    scheme_weights,
    scheme_weights_torch,
    statistics_dict,
)
from tnn.init_training import (
    hidden_unit_spread,
    lsuv_init,
    lsuv_init_torch,
    torch_init_comparison,
    train_two_layer_sgd,
    train_two_layer_sgd_torch,
)
from tnn.initializers import (
    constant_init,
    constant_init_torch,
    fan_in,
    fan_out,
    gain,
    kaiming_normal,
    kaiming_normal_torch,
    orthogonal,
    orthogonal_torch,
    xavier_normal,
    xavier_normal_torch,
)
from tnn.layerstats import LayerStats, layer_stats_torch, weight_grad_moments

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
    "InitScheme",
    "statistics_dict",
    "LECTURE_SCHEMES",
    "LECTURE_FIGURES",
    "FIGURE_SOURCES",
    "layer_forward",
    "layer_forward_torch",
    "layer_backward",
    "layer_backward_torch",
    "layer_statistics",
    "layer_statistics_torch",
    "LayerStats",
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
    "receptive_field_step",
    "receptive_field",
    "receptive_fields",
    "ALEXNET_CAFFE",
    "ALEXNET_TORCHVISION",
    "alexnet_shape_table",
    "alexnet_torch",
    "torch_output_shapes",
]


# --------------------------------------------------------------------------------------------
# One layer of the experiment, forward and backward
# --------------------------------------------------------------------------------------------
def _check_layer(h_in, w, activation: str, dout=None) -> None:
    """Shapes of one layer ``h_out = f(h_in @ w)``: (N, D_in) @ (D_in, D_out) -> (N, D_out)."""
    check_choice(activation, "activation", tuple(A.ACTIVATIONS))
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
    activation : str, a key of :data:`tnn.activations.ACTIVATIONS`

    Returns
    -------
    h_out : ndarray of shape (N, D_out), the inputs' (promoted) dtype
    """
    h_in, w = as_float_array(h_in, "h_in"), as_float_array(w, "w")
    _check_layer(h_in, w, activation)
    f = A.ACTIVATIONS[activation].f
    return np.asarray(f(h_in @ w))  # (N, D_out)


def layer_forward_torch(h_in, w, activation: str = "tanh") -> torch.Tensor:
    """Torch twin of :func:`layer_forward`, on ``h_in``'s device."""
    h_in = as_float_tensor(h_in, "h_in")
    w = as_float_tensor(w, "w", like=h_in)
    _check_layer(h_in, w, activation)
    return A.ACTIVATIONS[activation].f_torch(h_in @ w)  # (N, D_out)


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
    activation : str, a key of :data:`tnn.activations.ACTIVATIONS`

    Returns
    -------
    dh_in : ndarray of shape (N, D_in)
    dw : ndarray of shape (D_in, D_out)
        Both in the inputs' (promoted) dtype.
    """
    dout = as_float_array(dout, "dout")
    h_in, w = as_float_array(h_in, "h_in"), as_float_array(w, "w")
    _check_layer(h_in, w, activation, dout)
    df = A.ACTIVATIONS[activation].grad
    dz = dout * np.asarray(df(h_in @ w))  # (N, D_out)
    return dz @ w.T, h_in.T @ dz  # (N, D_in), (D_in, D_out)


def layer_backward_torch(dout, h_in, w, activation: str = "tanh"):
    """Torch twin of :func:`layer_backward`, by hand with torch operations (no autograd), on
    ``h_in``'s device; returns ``(dh_in, dw)`` as tensors."""
    h_in = as_float_tensor(h_in, "h_in")
    w = as_float_tensor(w, "w", like=h_in)
    dout = as_float_tensor(dout, "dout", like=h_in)
    _check_layer(h_in, w, activation, dout)
    df = A.ACTIVATIONS[activation].grad_torch
    dz = dout * df(h_in @ w)  # (N, D_out)
    return dz @ w.T, h_in.T @ dz  # (N, D_in), (D_in, D_out)


# --------------------------------------------------------------------------------------------
# Layer statistics: the forward pass of the experiment
# --------------------------------------------------------------------------------------------
def layer_statistics(x, weights: Sequence, activation: str = "tanh", bins: int = 50, *,
                     scales=None, dout=None) -> dict:
    """Forward ``h_l = f(h_{l-1} W_l)`` and record every layer's statistics.

    Parameters
    ----------
    x : ndarray of shape (N, D_0)
    weights : sequence of L ndarrays, ``weights[l]`` of shape (D_l, D_{l+1})
    activation : str, a key of :data:`tnn.activations.ACTIVATIONS`
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
    check_choice(activation, "activation", tuple(A.ACTIVATIONS))
    bins = check_int(bins, "bins")
    check_weight_chain(x.shape, [w.shape for w in weights])
    scales = check_scales(scales, len(weights))
    act = A.ACTIVATIONS[activation]
    f, df = act.f, act.grad
    h, acts, zs = x, [], []
    for w, c in zip(weights, scales, strict=True):
        z = h @ w  # (N, D_out)
        if c != 1.0:
            z *= z.dtype.type(c)
        zs.append(z)
        h = np.asarray(f(z))  # (N, D_out)
        acts.append(h)
    hist = [np.histogram(h, bins=bins, range=hist_range(activation, h.min(), h.max()))
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
            weight_grad_std[layer] = weight_grad_moments(inputs[layer], dz)[1]  # std of h^T dz
            grad = (dz @ weights[layer].T) * grad.dtype.type(scales[layer])  # (N, D_in)
            grad_std[layer] = grad.std()
        stats["grad_std"] = grad_std
        stats["weight_grad_std"] = weight_grad_std
    return stats


def layer_statistics_torch(x, weights: Sequence, activation: str = "tanh", bins: int = 50, *,
                           scales=None, dout=None) -> dict:
    """Torch twin of :func:`layer_statistics`, computed on ``x``'s device.

    ``x`` and ``weights`` may be arrays or tensors (weights follow ``x``'s device and dtype).
    The backward pass (with ``dout``) is torch.autograd's. The statistics and histograms come
    back as NumPy arrays; ``activations`` stay tensors on the device. This is the shared
    probe :func:`tnn.layerstats.layer_stats_torch`, seen through :func:`layer_statistics`'s
    keys.
    """
    return statistics_dict(layer_stats_torch(x, weights, activation, dout=dout,
                                              scales=scales, bins=check_int(bins, "bins")))
