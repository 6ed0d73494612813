"""Topic 03, initialization seen through training: constant weights never break symmetry,
LSUV rescales a network to unit variance on real data, and torch.nn.init's conventions next
to ours. :mod:`tnn.initialization` re-exports everything here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from tnn._validate import (
    as_float_array,
    as_float_tensor,
    check_choice,
    check_int,
    check_positive,
    check_weight_chain,
)
from tnn.activations import ACTIVATIONS
from tnn.initializers import kaiming_normal, xavier_normal

__all__ = [
    "train_two_layer_sgd",
    "train_two_layer_sgd_torch",
    "hidden_unit_spread",
    "lsuv_init",
    "lsuv_init_torch",
    "torch_init_comparison",
]


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
    steps = check_int(steps, "steps", minimum=0)
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
    x = as_float_tensor(x)
    y = as_float_tensor(y, "y", like=x)
    w1 = as_float_tensor(w1, "w1", like=x).detach().clone().requires_grad_(True)
    w2 = as_float_tensor(w2, "w2", like=x).detach().clone().requires_grad_(True)
    _check_two_layer(x, y, w1, w2)
    lr = check_positive(lr, "lr")
    steps = check_int(steps, "steps", minimum=0)
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
    activation : str, a key of :data:`tnn.activations.ACTIVATIONS`
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
    check_choice(activation, "activation", tuple(ACTIVATIONS))
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter")
    check_weight_chain(x.shape, [w.shape for w in weights])
    f = ACTIVATIONS[activation].f
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
    x = as_float_tensor(x)
    weights = [as_float_tensor(w, f"weights[{i}]", like=x).clone() for i, w in enumerate(weights)]
    check_choice(activation, "activation", tuple(ACTIVATIONS))
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter")
    check_weight_chain(tuple(x.shape), [tuple(w.shape) for w in weights])
    f = ACTIVATIONS[activation].f_torch
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
    fi = check_int(fan_in, "fan_in")
    fo = check_int(fan_out, "fan_out")
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
