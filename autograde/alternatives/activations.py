"""Assignment 01_activations: honest alternatives and classic bugs (see __init__.py)."""

from autograde.alternatives import Bug

ANSWERS = {
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


BUGS = {
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
    # right values on the CPU; on a GPU the comparison mixes devices
    "elu_torch_on_cpu": Bug("01_activations", "elu_torch", '''
def elu_torch(x, alpha=1.0):
    zero = torch.zeros(x.shape, dtype=x.dtype)   # on the CPU, whatever x's device
    return torch.where(x > zero, x, alpha * torch.expm1(torch.minimum(x, zero)))
''', {"test_elu_torch", "test_elu_torch_hidden"},
        ("elu_torch mixed devices", "device=x.device")),
}
