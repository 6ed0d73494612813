"""Correct answers written differently from the solutions, and classic bugs, for every
graded function.

A grader must give full marks to any correct answer, not only to the solution's way of
writing it. :data:`ALTERNATIVES` holds, per assignment, an answer-cell source for every
answer cell (``grade_id -> source``) that differs from the solution in the ways honest
students' answers do: ``np.where`` instead of a boolean mask (and the other way round),
``scipy.special``, explicit loops, torch inside a NumPy function, autograd for a backward
pass, ``import numpy as np`` / ``import torch`` repeated in a cell, a plot that sets
``plt.rcParams``, debug output on stderr, ``logging`` and tqdm progress bars.
:func:`honest_hand_in` turns them into a hand-in (every answer cell replaced).

:data:`CLASSIC_BUGS` holds answers that are right on a CPU for the values but wrong all the
same: a function that writes into its caller's array, a torch twin that builds its tensors
on the CPU whatever the input's device. Each must lose exactly its own question's points,
with a message that says what to fix.

``tests/test_honest_answers.py`` grades both end to end.
"""

from __future__ import annotations

from dataclasses import dataclass

from autograde import corpus

ACTIVATIONS = {
    "sigmoid": '''
import numpy as np
from scipy.special import expit


def sigmoid(x):
    """Logistic sigmoid, elementwise, with SciPy's stable expit."""
    return expit(np.asarray(x))
''',
    "sigmoid_grad": '''
import sys


def sigmoid_grad(x):
    """sigma'(x) written with exp(-|x|), which never overflows: e / (1 + e)^2."""
    e = np.exp(-np.abs(np.asarray(x)))
    print("sigmoid_grad called on", np.shape(x), file=sys.stderr)  # a debug line
    return e / (1.0 + e) ** 2
''',
    "tanh_grad": '''
def tanh_grad(x):
    """1 / cosh(x)^2 (cosh overflows to inf far out, and 1 / inf is the right 0)."""
    with np.errstate(over="ignore"):
        return 1.0 / np.cosh(x) ** 2
''',
    "relu": '''
import numpy as np


def relu(x):
    """max(0, x) on a copy, with a boolean mask."""
    out = np.array(x, copy=True)
    out[out < 0] = 0
    return out


def relu_grad(x):
    return np.heaviside(np.asarray(x, dtype=float), 0.0)
''',
    "leaky_relu": '''
def leaky_relu(x, negative_slope=0.01):
    """An explicit loop over every element."""
    x = np.asarray(x)
    out = np.empty_like(x)
    for index in np.ndindex(x.shape):
        value = x[index]
        out[index] = value if value > 0 else negative_slope * value
    return out


def leaky_relu_grad(x, negative_slope=0.01):
    x = np.asarray(x, dtype=float)
    return 1.0 * (x > 0) + negative_slope * (x <= 0)
''',
    "elu": '''
import torch


def elu(x, alpha=1.0):
    """PyTorch's ELU on a tensor that shares x's memory, back to NumPy."""
    x = np.asarray(x)
    return torch.nn.functional.elu(torch.from_numpy(x), alpha=alpha).numpy()


def selu(x):
    x = np.asarray(x)
    negative = SELU_ALPHA * (np.exp(np.minimum(x, 0.0)) - 1.0)
    return SELU_SCALE * np.where(x > 0, x, negative)
''',
    "measures": '''
import logging

import matplotlib.pyplot as plt

plt.rcParams["figure.figsize"] = (4, 3)
plt.rcParams["axes.grid"] = True
_z = np.linspace(-4, 4, 201)
_fig, _ax = plt.subplots()
_ax.plot(_z, 1 - np.tanh(_z) ** 2, label="tanh'")
_ax.axhline(0.1, ls="--", label="threshold")
_ax.legend()
plt.show()


def tanh_saturated_fraction(z, rel_threshold=0.1):
    z = np.asarray(z)
    local = 1.0 - np.tanh(z) ** 2
    return np.count_nonzero(local < rel_threshold) / local.size


def dead_unit_fraction(z):
    """A loop over the units (columns)."""
    z = np.asarray(z)
    dead = 0
    for unit in range(z.shape[1]):
        if np.max(z[:, unit]) <= 0:
            dead += 1
    logging.warning("dead_unit_fraction: %d of %d units dead", dead, z.shape[1])
    return dead / z.shape[1]
''',
    "elu_torch": '''
import torch


def elu_torch(x, alpha=1.0):
    """Positive part plus alpha * expm1 of the negative part: no branch, no new tensor."""
    return torch.clamp(x, min=0.0) + alpha * torch.expm1(torch.clamp(x, max=0.0))
''',
    "prelu": '''
def prelu(x, slope):
    """Channels moved last so that the slope broadcasts, then moved back."""
    x, slope = np.asarray(x), np.asarray(slope)
    last = np.moveaxis(x, 1, -1)                       # (..., C)
    out = np.maximum(last, 0) + slope * np.minimum(last, 0)
    return np.moveaxis(out, -1, 1)
''',
    "prelu_backward": '''
import numpy as np
import torch


def prelu_backward(dout, x, slope):
    """Autograd through PyTorch's prelu, in float64."""
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    at = torch.tensor(np.asarray(slope, dtype=np.float64), requires_grad=True)
    y = torch.nn.functional.prelu(xt, at)
    y.backward(torch.tensor(np.asarray(dout, dtype=np.float64)))
    return xt.grad.numpy(), at.grad.numpy()
''',
    "input_gradient_stds": '''
import logging

from scipy.special import expit
from tqdm.auto import tqdm


def _sigmoid_grad(z):
    s = expit(z)
    return s * (1.0 - s)


_ACTIVATIONS = {
    "sigmoid": (expit, _sigmoid_grad),
    "tanh": (np.tanh, lambda z: 1.0 / np.cosh(np.clip(z, -300, 300)) ** 2),
    "relu": (lambda z: np.where(z > 0, z, 0.0), lambda z: np.where(z > 0, 1.0, 0.0)),
}


def input_gradient_stds(x, weights, activation):
    f, f_grad = _ACTIVATIONS[activation]
    h, pre = np.asarray(x, dtype=np.float64), []
    for w in weights:
        pre.append(h @ w)
        h = f(pre[-1])
    grad = np.ones_like(h)
    stds = []
    for w, z in tqdm(list(zip(weights, pre))[::-1], desc="backward", leave=False):
        grad = (grad * f_grad(z)) @ w.T
        stds.append(grad.std())
    logging.warning("input_gradient_stds: %d layers, %s", len(weights), activation)
    return np.array(stds[::-1])
''',
}

PREPROCESSING = {
    "standardize": '''
import numpy as np


def standardize_fit(X, eps=EPS):
    """Sums in float64, by hand; back to X's dtype at the end."""
    X = np.asarray(X)
    n = X.shape[0]
    mean = X.sum(axis=0, dtype=np.float64) / n
    std = np.sqrt(((X - mean) ** 2).sum(axis=0) / n)
    std[std < eps] = 1.0
    return mean.astype(X.dtype), std.astype(X.dtype)


def standardize_transform(X, mean, std):
    out = np.array(X, copy=True)       # a copy of my own: in place on it is fine
    out -= mean
    out /= std
    return out
''',
    "mean_image": '''
def mean_image(images, layout="NHWC"):
    """A running sum over the images, in their dtype."""
    images = np.asarray(images)
    total = np.zeros(images.shape[1:], dtype=images.dtype)
    for image in images:
        total += image
    return total / images.shape[0]
''',
    "channel_mean": '''
import torch


def channel_mean(images, layout="NHWC"):
    t = torch.from_numpy(np.ascontiguousarray(images))
    if layout == "NHWC":
        return t.mean(dim=(0, 1, 2)).reshape(1, 1, -1).numpy()
    return t.mean(dim=(0, 2, 3)).reshape(-1, 1, 1).numpy()
''',
    "channel_std": '''
def channel_std(images, layout="NHWC", eps=EPS):
    """Channels first, every other axis flattened, one variance per row."""
    images = np.asarray(images)
    axis = 3 if layout == "NHWC" else 1
    rows = np.moveaxis(images, axis, 0).reshape(images.shape[axis], -1)   # (C, N*H*W)
    std = np.sqrt(rows.var(axis=1))
    std = np.where(std < eps, 1.0, std).astype(images.dtype)
    return std.reshape((1, 1, -1) if layout == "NHWC" else (-1, 1, 1))
''',
    "normalize_images": '''
import sys


def normalize_images(images, mean, std=None):
    images = np.asarray(images)
    centred = np.subtract(images, mean)
    if std is None:
        print("normalize_images: centring only", file=sys.stderr)
        return centred
    return np.divide(centred, std)
''',
    "normalize_images_torch": '''
import numpy as np
import torch


def _like(value, images):
    """A NumPy array or a tensor as a tensor of images' dtype on images' device."""
    if not isinstance(value, torch.Tensor):
        value = torch.from_numpy(np.asarray(value))
    return value.to(images)


def normalize_images_torch(images, mean, std):
    return torch.div(images - _like(mean, images), _like(std, images))
''',
    "standardize_backward": '''
def standardize_backward(x, dout, eps=EPS):
    """Feature by feature, in float64: the direct path minus the paths through the mean
    and the std."""
    x, dout = np.asarray(x), np.asarray(dout)
    x64, d64 = x.astype(np.float64), dout.astype(np.float64)
    dx = np.empty_like(x64)
    for j in range(x.shape[1]):
        col, g = x64[:, j], d64[:, j]
        mu, sigma = col.mean(), col.std()
        if sigma < eps:  # only centred: sigma is the constant 1, no path through it
            dx[:, j] = g - g.mean()
            continue
        y = (col - mu) / sigma
        dx[:, j] = (g - g.mean() - y * np.mean(g * y)) / sigma
    return dx.astype(x.dtype)
''',
    "select_features": '''
def select_features(X, y, k):
    """Pearson correlation from z-scores; a constant feature scores 0."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    spread = X.std(axis=0) * y.std()                                   # (D,)
    cov = ((X - X.mean(axis=0)) * (y - y.mean())[:, None]).mean(axis=0)  # (D,)
    score = np.zeros(X.shape[1])
    ok = spread > 0
    score[ok] = np.abs(cov[ok] / spread[ok])
    return np.argsort(-score, kind="stable")[:k]
''',
    "cross_val_accuracy": '''
from tqdm.auto import tqdm


def cross_val_accuracy(X, y, folds, k, leaky):
    X, y, folds = np.asarray(X), np.asarray(y), np.asarray(folds)
    right = np.zeros(len(y), dtype=bool)
    fixed = select_features(X, y, k) if leaky else None
    for fold in tqdm(sorted(set(folds.tolist())), desc="folds", leave=False):
        test = np.flatnonzero(folds == fold)
        train = np.flatnonzero(folds != fold)
        cols = fixed if leaky else select_features(X[train], y[train], k)
        pred = nearest_neighbour_predict(X[np.ix_(train, cols)], y[train], X[np.ix_(test, cols)])
        right[test] = pred == y[test]
    return float(right.mean())
''',
}

INITIALIZATION = {
    "fan_in": '''
import math


def fan_in(shape):
    return shape[0] if len(shape) == 2 else math.prod(shape[1:])
''',
    "initializers": '''
import math

import numpy as np


def xavier_normal(rng, shape):
    """rng.normal(0, std) draws the same numbers as std * rng.standard_normal()."""
    return rng.normal(loc=0.0, scale=1.0 / math.sqrt(fan_in(shape)), size=shape)


def kaiming_normal(rng, shape):
    return rng.normal(0.0, math.sqrt(2.0 / fan_in(shape)), size=shape)
''',
    "layer_statistics": '''
import torch


def layer_statistics(x, weights, activation):
    f = np.tanh if activation == "tanh" else (lambda z: np.where(z > 0, z, 0.0))
    means, stds = [], []
    h = np.asarray(x)
    for w in weights:
        h = f(h @ w)
        means.append(float(h.mean()))
        stds.append(float(h.std()))
    return np.array(means), np.array(stds)
''',
    "layer_backward": '''
def layer_backward(dout, h_in, w, activation):
    """einsum with named axes: n examples, i inputs, o outputs."""
    z = np.matmul(h_in, w)
    if activation == "tanh":
        t = np.tanh(z)
        dz = dout * (1.0 - t) * (1.0 + t)
    else:
        dz = np.where(z > 0, dout, 0)
    return np.einsum("no,io->ni", dz, w), np.einsum("ni,no->io", h_in, dz)
''',
    "gradient_statistics": '''
import sys

from tqdm.auto import tqdm


def gradient_statistics(x, weights, activation, dout):
    f = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[activation]
    inputs = [np.asarray(x)]
    for w in weights[:-1]:
        inputs.append(f(inputs[-1] @ w))
    dh_stds, dw_stds = [], []
    grad = np.asarray(dout)
    for layer in tqdm(range(len(weights) - 1, -1, -1), desc="backward", leave=False):
        grad, dw = layer_backward(grad, inputs[layer], weights[layer], activation)
        dh_stds.insert(0, float(np.std(grad)))
        dw_stds.insert(0, float(np.std(dw)))
    print(f"gradient_statistics: {len(weights)} layers", file=sys.stderr)
    return np.array(dh_stds), np.array(dw_stds)
''',
    "conv_output_size": '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Count the window positions one by one."""
    span = dilation * (kernel_size - 1) + 1
    padded = size + 2 * padding
    count, start = 0, 0
    while start + span <= padded:
        count += 1
        start += stride
    return count
''',
    "receptive_field": '''
import numpy as np


def receptive_field(layers):
    """From the last layer back to the input: r <- (r - 1) * stride + kernel_size."""
    field = 1
    for kernel_size, stride in reversed(layers):
        field = (field - 1) * stride + kernel_size
    return field
''',
}

#: assignment -> {answer cell grade_id -> source}
ALTERNATIVES = {
    "01_activations": ACTIVATIONS,
    "02_preprocessing": PREPROCESSING,
    "03_initialization": INITIALIZATION,
}


def honest_hand_in(aid: str, root=None):
    """The released notebook of ``aid`` with every answer cell replaced by its alternative."""
    kwargs = {} if root is None else {"root": root}
    return corpus.filled_in(aid, replace={gid: src.strip("\n") + "\n"
                                          for gid, src in ALTERNATIVES[aid].items()}, **kwargs)


@dataclass
class Bug:
    """A classic bug: the answer cell it replaces, the test cells it must lose (all others
    keep their points), and words its feedback must contain."""

    aid: str
    cell: str
    source: str
    loses: set
    says: tuple


CLASSIC_BUGS = {
    # right values, but the caller's array is zeroed where it was negative
    "relu_in_place": Bug("01_activations", "relu", '''
def relu(x):
    x = np.asarray(x)
    x[x < 0] = 0
    return x


def relu_grad(x):
    x = np.asarray(x)
    return (x > 0).astype(x.dtype)
''', {"test_relu", "test_relu_hidden"},
        ("relu modified its input x in place", "return a new array")),
    # right values, but the caller's training data is centred in place
    "standardize_in_place": Bug("02_preprocessing", "standardize", '''
def standardize_fit(X, eps=EPS):
    X = np.asarray(X)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std = np.where(std < eps, 1.0, std).astype(X.dtype)
    return mean, std


def standardize_transform(X, mean, std):
    X = np.asarray(X)
    X -= mean
    return X / std
''', {"test_standardize", "test_standardize_hidden"},
        ("standardize_transform modified its input X in place", "return a new array")),
    # right values on the CPU; on a GPU the comparison mixes devices
    "elu_torch_on_cpu": Bug("01_activations", "elu_torch", '''
def elu_torch(x, alpha=1.0):
    zero = torch.zeros(x.shape, dtype=x.dtype)   # on the CPU, whatever x's device
    return torch.where(x > zero, x, alpha * torch.expm1(torch.minimum(x, zero)))
''', {"test_elu_torch", "test_elu_torch_hidden"},
        ("elu_torch mixed devices", "device=x.device")),
    # right values on the CPU; the statistics never move to the images' device
    "normalize_torch_on_cpu": Bug("02_preprocessing", "normalize_images_torch", '''
def normalize_images_torch(images, mean, std):
    mean = torch.as_tensor(mean, dtype=images.dtype)   # stays on the CPU
    std = torch.as_tensor(std, dtype=images.dtype)
    return (images - mean) / std
''', {"test_normalize_images_torch", "test_normalize_images_torch_hidden"},
        ("normalize_images_torch mixed devices", "device=x.device")),
}


def bugs_hand_in(aid: str, root=None):
    """The solution's answers to ``aid`` with every classic bug of ``aid`` in place (each bug
    is in an answer cell of its own, so each must cost only its own test cells)."""
    kwargs = {} if root is None else {"root": root}
    replace = {bug.cell: bug.source.strip("\n") + "\n" for bug in CLASSIC_BUGS.values()
               if bug.aid == aid}
    return corpus.filled_in(aid, replace=replace, **kwargs)


__all__ = ["ALTERNATIVES", "CLASSIC_BUGS", "Bug", "honest_hand_in", "bugs_hand_in"]
