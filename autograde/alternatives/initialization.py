"""Assignment 03_initialization: honest alternatives (see __init__.py)."""

ANSWERS = {
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


BUGS: dict = {}
