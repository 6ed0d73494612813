"""One probe of a deep network, layer by layer: forward and backward statistics.

A stack of fully connected layers ``z_l = c_l h_{l-1} W_l``, ``h_l = f(z_l)`` (no bias; the
optional scale ``c_l`` lets an experiment rescale large matrices without copying them) is
pushed forward, and, given the upstream gradient ``dL/dh_L``, backward. :func:`layer_stats`
(NumPy, backward pass by hand) and :func:`layer_stats_torch` (torch, backward pass by
autograd) return the same :class:`LayerStats`: what fastai's ``ActivationStats`` records,
for one batch.

Topic 01 (``probe_deep_network``: vanishing gradients, saturation, dead units) and topic 03
(``init_experiment``: the initialization experiment) both read this one probe.

The backward pass uses

- ``dL/dz_l = dL/dh_l * f'(z_l)``,
- ``dL/dW_l = h_{l-1}^T dL/dz_l`` (the gradient of the effective weight ``c_l W_l``),
- ``dL/dh_{l-1} = c_l dL/dz_l W_l^T``.

``dL/dW_l`` has ``D_{l-1} x D_l`` entries (16 million for width 4096); its norm and std are
computed from two N x N Gram matrices instead when the batch is small, without forming it
(see :func:`weight_grad_moments`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from tnn._validate import (
    as_float_array,
    as_float_tensor,
    check_choice,
    check_int,
    check_scales,
    check_weight_chain,
    hist_range,
)

__all__ = ["LayerStats", "layer_stats", "layer_stats_torch", "weight_grad_moments",
           "weight_grad_moments_torch", "SATURATION_THRESHOLD"]

#: A unit counts as saturated where ``|f'(z)|`` is below this share of ``f'``'s peak.
SATURATION_THRESHOLD = 0.1


@dataclass
class LayerStats:
    """Per-layer statistics of one batch; every array has shape (L,), one entry per layer.

    Attributes
    ----------
    pre_mean, pre_std : ndarray (L,)
        Mean and (population) std of the pre-activations ``z_l`` over all N x D_l entries.
    mean, std : ndarray (L,)
        Mean and std of the layer outputs ``h_l = f(z_l)``.
    saturated : ndarray (L,)
        Share of the ``z_l`` entries where ``|f'(z)| < 0.1 * max|f'|``
        (:func:`tnn.activations.saturated_fraction`).
    dead : ndarray (L,)
        For ReLU, the share of the D_l units with ``z <= 0`` on every example
        (:func:`tnn.activations.dead_unit_fraction`); 0 for the other activations, whose
        gradient never vanishes exactly.
    hist : list of L ``(counts, edges)`` pairs, or None when ``bins`` is None
        Histograms of ``h_l``; the range is [-1, 1] for tanh, [0, 1] for sigmoid, the layer's
        own min and max otherwise.
    activations : list of L arrays (tensors for the torch twin) ``h_l`` of shape (N, D_l)
    grad_std : ndarray (L,) or None
        With a backward pass: the std of ``dL/dh`` at each layer's *input* (index 0 is the
        network input ``x``).
    weight_grad_norm, weight_grad_std : ndarray (L,) or None
        With a backward pass: the Frobenius norm and the std of the entries of ``dL/dW_l``.
    input_grads : list of L arrays (tensors) or None
        With a backward pass: ``dL/dh_{l-1}``, the gradient at each layer's input.
    """

    pre_mean: np.ndarray
    pre_std: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    saturated: np.ndarray
    dead: np.ndarray
    hist: list | None
    activations: list
    grad_std: np.ndarray | None = None
    weight_grad_norm: np.ndarray | None = None
    weight_grad_std: np.ndarray | None = None
    input_grads: list | None = None

    @property
    def depth(self) -> int:
        """Number of layers L."""
        return len(self.mean)

    @property
    def sq_mean(self) -> np.ndarray:
        """Second moment ``E[h_l^2] = std^2 + mean^2`` of each layer's output, shape (L,)."""
        return self.std ** 2 + self.mean ** 2


def _registry():
    from tnn.activations import ACTIVATIONS  # the registry of elementwise activations

    return ACTIVATIONS


def _check_bins(bins):
    return None if bins is None else check_int(bins, "bins")


def weight_grad_moments(h, dz) -> tuple[float, float]:
    """Frobenius norm and entry std of ``dW = h^T dz`` (D_in, D_out).

    When ``N`` is small next to the widths, ``dW`` is not formed: ``sum(dW) = sum_n (sum_i
    h_ni)(sum_j dz_nj)`` and ``sum(dW^2) = ||h^T dz||_F^2 = sum_{n,m} (h h^T)_{nm}
    (dz dz^T)_{nm}`` need only N x N Gram matrices, computed in float64 (16 x 16 instead of
    4096 x 4096 in the initialization experiment). Otherwise ``dW`` is formed in the inputs'
    dtype, whichever takes fewer multiplications.

    Parameters
    ----------
    h : ndarray of shape (N, D_in)
    dz : ndarray of shape (N, D_out)

    Returns
    -------
    norm, std : float
    """
    n, d_in, d_out = h.shape[0], h.shape[1], dz.shape[1]
    if n * n * (d_in + d_out) >= n * d_in * d_out:  # forming dW is no dearer
        dw = h.T @ dz  # (D_in, D_out)
        return float(np.linalg.norm(dw)), float(dw.std(dtype=np.float64))
    h = np.asarray(h, dtype=np.float64)  # (N, D_in)
    dz = np.asarray(dz, dtype=np.float64)  # (N, D_out)
    count = d_in * d_out
    total = float(h.sum(axis=1) @ dz.sum(axis=1))
    sq_total = max(float(np.sum((h @ h.T) * (dz @ dz.T))), 0.0)
    mean, sq_mean = total / count, sq_total / count
    return math.sqrt(sq_total), math.sqrt(max(sq_mean - mean * mean, 0.0))


def weight_grad_moments_torch(h, dz) -> tuple[float, float]:
    """Torch twin of :func:`weight_grad_moments`, on the tensors' device (the Gram route in
    float64, except on Apple's MPS, which has no float64)."""
    n, d_in, d_out = h.shape[0], h.shape[1], dz.shape[1]
    if n * n * (d_in + d_out) >= n * d_in * d_out:
        dw = h.T @ dz  # (D_in, D_out)
        return float(torch.linalg.norm(dw)), float(dw.double().std(unbiased=False))
    wide = torch.float32 if h.device.type == "mps" else torch.float64
    h, dz = h.to(wide), dz.to(wide)  # (N, D_in), (N, D_out)
    count = d_in * d_out
    total = float(h.sum(dim=1) @ dz.sum(dim=1))
    sq_total = max(float(torch.sum((h @ h.T) * (dz @ dz.T))), 0.0)
    mean, sq_mean = total / count, sq_total / count
    return math.sqrt(sq_total), math.sqrt(max(sq_mean - mean * mean, 0.0))


def layer_stats(x, weights: Sequence, activation: str = "tanh", *, dout=None, scales=None,
                bins: int | None = 50) -> LayerStats:
    """Push ``x`` through ``h_l = f(c_l h_{l-1} W_l)`` (and back, given ``dout``).

    Parameters
    ----------
    x : ndarray of shape (N, D_0)
    weights : sequence of L ndarrays, ``weights[l]`` of shape (D_l, D_{l+1})
    activation : str, a key of :data:`tnn.activations.ACTIVATIONS`
    dout : ndarray of shape (N, D_L), optional
        Upstream gradient ``dL/dh_L``; the backward pass runs only when it is given (pass
        ones for the loss "sum of the last layer's outputs").
    scales : sequence of L floats, optional
        Layer l uses ``scales[l] * weights[l]``, computed as ``(h @ W_l) * scales[l]`` so
        that no scaled copy of a large matrix is made.
    bins : int >= 1 or None, default 50
        Histogram bins per layer; None skips the histograms.

    Returns
    -------
    stats : LayerStats
        Arrays of shape (L,) in float64; ``activations`` and ``input_grads`` in ``x``'s
        (promoted) dtype.
    """
    x = as_float_array(x)
    weights = [as_float_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
    registry = _registry()
    check_choice(activation, "activation", tuple(registry))
    bins = _check_bins(bins)
    check_weight_chain(x.shape, [w.shape for w in weights])
    scales = check_scales(scales, len(weights))
    act = registry[activation]
    h, acts, zs, local = x, [], [], []
    for w, c in zip(weights, scales, strict=True):
        z = h @ w  # (N, D_out)
        if c != 1.0:
            z *= z.dtype.type(c)
        zs.append(z)
        local.append(np.asarray(act.grad(z)))  # f'(z): (N, D_out)
        h = np.asarray(act.f(z))  # (N, D_out)
        acts.append(h)
    threshold = SATURATION_THRESHOLD * act.peak_grad
    stats = LayerStats(
        pre_mean=np.array([z.mean() for z in zs], dtype=np.float64),
        pre_std=np.array([z.std() for z in zs], dtype=np.float64),
        mean=np.array([h.mean() for h in acts], dtype=np.float64),
        std=np.array([h.std() for h in acts], dtype=np.float64),
        saturated=np.array([np.mean(np.abs(d) < threshold) for d in local], dtype=np.float64),
        dead=np.array([np.mean(np.all(z <= 0, axis=0)) if activation == "relu" else 0.0
                       for z in zs], dtype=np.float64),
        hist=None if bins is None else [
            np.histogram(h, bins=bins, range=hist_range(activation, h.min(), h.max()))
            for h in acts],
        activations=acts,
    )
    if dout is None:
        return stats
    grad = as_float_array(dout, "dout")
    if grad.shape != acts[-1].shape:
        raise ValueError(f"dout must have shape {acts[-1].shape}; got {grad.shape}.")
    depth = len(weights)
    grad_std, norms, stds = np.zeros(depth), np.zeros(depth), np.zeros(depth)
    input_grads = [None] * depth
    inputs = [x, *acts[:-1]]  # h_{l-1}: what layer l multiplies by W_l
    for layer in reversed(range(depth)):
        dz = grad * local[layer]  # dL/dz_l: (N, D_out)
        norms[layer], stds[layer] = weight_grad_moments(inputs[layer], dz)  # of h^T dz
        scale = grad.dtype.type(scales[layer])  # in the upstream gradient's dtype
        grad = dz @ weights[layer].T  # (N, D_in)
        if scale != 1:
            grad = grad * scale
        input_grads[layer] = grad
        grad_std[layer] = grad.std()
    stats.grad_std, stats.weight_grad_norm, stats.weight_grad_std = grad_std, norms, stds
    stats.input_grads = input_grads
    return stats


def layer_stats_torch(x, weights: Sequence, activation: str = "tanh", *, dout=None,
                      scales=None, bins: int | None = 50) -> LayerStats:
    """Torch twin of :func:`layer_stats`, on ``x``'s device; the backward pass is autograd's.

    ``x`` and ``weights`` may be arrays or tensors (weights follow ``x``'s device and dtype).
    The statistics and histograms come back as NumPy arrays; ``activations`` and
    ``input_grads`` stay tensors on the device.
    """
    x = as_float_tensor(x)
    weights = [as_float_tensor(w, f"weights[{i}]", like=x) for i, w in enumerate(weights)]
    registry = _registry()
    check_choice(activation, "activation", tuple(registry))
    bins = _check_bins(bins)
    check_weight_chain(tuple(x.shape), [tuple(w.shape) for w in weights])
    scales = check_scales(scales, len(weights))
    act = registry[activation]
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
            h = act.f_torch(z)
            acts.append(h)
        if backward:
            seed = as_float_tensor(dout, "dout", like=x)
            if seed.shape != h.shape:
                raise ValueError(f"dout must have shape {tuple(h.shape)}; got {tuple(seed.shape)}.")
            h.backward(seed)

    def to_np(ts):
        return torch.stack([t.detach() for t in ts]).double().cpu().numpy()

    threshold = SATURATION_THRESHOLD * act.peak_grad
    with torch.no_grad():
        zs_d = [z.detach() for z in zs]
        saturated = to_np([(act.grad_torch(z).abs() < threshold).double().mean() for z in zs_d])
        if activation == "relu":
            dead = to_np([(z <= 0).all(dim=0).double().mean() for z in zs_d])
        else:
            dead = np.zeros(len(zs))
    hist = None
    if bins is not None:
        hist = []
        for a in acts:
            lo, hi = hist_range(activation, a.min().item(), a.max().item())
            counts = torch.histc(a.detach().float(), bins=bins, min=lo, max=hi)
            hist.append((counts.cpu().numpy().astype(np.int64), np.linspace(lo, hi, bins + 1)))
    stats = LayerStats(
        pre_mean=to_np([z.mean() for z in zs]),
        pre_std=to_np([z.std(unbiased=False) for z in zs]),
        mean=to_np([a.mean() for a in acts]),
        std=to_np([a.std(unbiased=False) for a in acts]),
        saturated=saturated,
        dead=dead,
        hist=hist,
        activations=[a.detach() for a in acts],
    )
    if backward:
        stats.input_grads = [t.grad for t in inputs]
        stats.grad_std = to_np([g.std(unbiased=False) for g in stats.input_grads])
        moments = [weight_grad_moments_torch(t.detach(), z.grad)
                   for t, z in zip(inputs, zs, strict=True)]
        stats.weight_grad_norm = np.array([m[0] for m in moments])
        stats.weight_grad_std = np.array([m[1] for m in moments])
    return stats
