"""What the classroom handout's library runs in place of the references.

Each function here has the name and signature of a course-library function. In the
classroom handout (:mod:`autograde.handout`) its body replaces the reference's body, under the
reference's own signature and docstring, in the module named by :data:`MODULE_OF`; the
docstring gains the line in :data:`NOTES`. The bodies delegate to what the field ships
(SciPy, ``torch.nn.functional``, ``torch.autograd``, ``torch.nn.init``, scikit-learn), so the
lectures print the same numbers without the handout holding our implementation of anything a
student writes. Functions named ``_handout_*`` are helpers added to every module that
receives a body.

The files of this folder are parsed, never imported (this one first, then one per topic,
concatenated; a topic's file adds its own rows with ``MODULE_OF |= {...}`` and
``DELEGATE |= {...}``): the names the bodies use (``np``, ``torch``, ``as_float_array``, the
modules' private validators, ...) are those of the module they land in.
"""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

from __future__ import annotations

ACT, PRE, INIT = "tnn/activations.py", "tnn/preprocessing.py", "tnn/initialization.py"

# Where each substitute's function lived when it was written (for readers): the handout
# replaces a function of that name wherever the library defines it.
MODULE_OF = {
    **dict.fromkeys((
        "sigmoid", "sigmoid_torch", "sigmoid_grad", "sigmoid_grad_torch", "tanh_grad",
        "tanh_grad_torch", "relu", "relu_torch", "relu_grad", "relu_grad_torch", "leaky_relu",
        "leaky_relu_torch", "leaky_relu_grad", "leaky_relu_grad_torch", "prelu", "prelu_torch",
        "prelu_backward", "prelu_backward_torch", "elu", "elu_torch", "selu", "selu_torch",
        "dead_unit_fraction", "probe_deep_network"), ACT),
    **dict.fromkeys((
        "standardize_fit", "standardize_fit_torch", "standardize_transform",
        "standardize_backward", "standardize_backward_torch", "mean_image", "channel_mean",
        "channel_std", "normalize_images", "normalize_images_torch", "select_features",
        "cross_val_accuracy"), PRE),
    **dict.fromkeys((
        "fan_in", "xavier_normal", "xavier_normal_torch", "kaiming_normal",
        "kaiming_normal_torch", "layer_backward", "layer_backward_torch", "layer_statistics",
        "conv_output_size", "receptive_fields", "receptive_field"), INIT),
    "layer_stats": "tnn/layerstats.py",
}

_AUTOGRAD = "torch.autograd (the derivative of torch's own {op})"
# What the student reads in each replaced docstring: "In the handout this delegates to ...".
DELEGATE = {
    "sigmoid": "scipy.special.expit",
    "sigmoid_torch": "torch.sigmoid",
    "sigmoid_grad": _AUTOGRAD.format(op="torch.sigmoid"),
    "sigmoid_grad_torch": _AUTOGRAD.format(op="torch.sigmoid"),
    "tanh_grad": _AUTOGRAD.format(op="torch.tanh"),
    "tanh_grad_torch": _AUTOGRAD.format(op="torch.tanh"),
    "relu": "torch.nn.functional.relu",
    "relu_torch": "torch.nn.functional.relu",
    "relu_grad": _AUTOGRAD.format(op="F.relu"),
    "relu_grad_torch": _AUTOGRAD.format(op="F.relu"),
    "leaky_relu": "torch.nn.functional.leaky_relu",
    "leaky_relu_torch": "torch.nn.functional.leaky_relu",
    "leaky_relu_grad": _AUTOGRAD.format(op="F.leaky_relu"),
    "leaky_relu_grad_torch": _AUTOGRAD.format(op="F.leaky_relu"),
    "prelu": "torch.nn.functional.prelu",
    "prelu_torch": "torch.nn.functional.prelu",
    "prelu_backward": _AUTOGRAD.format(op="F.prelu"),
    "prelu_backward_torch": _AUTOGRAD.format(op="F.prelu"),
    "elu": "torch.nn.functional.elu",
    "elu_torch": "torch.nn.functional.elu",
    "selu": "torch.nn.functional.selu",
    "selu_torch": "torch.nn.functional.selu",
    "dead_unit_fraction": "torch.autograd (a unit is dead when F.relu passes it no gradient "
                          "for the whole batch)",
    "probe_deep_network": "probe_deep_network_torch (its backward pass is torch.autograd's)",
    "standardize_fit": "scikit-learn's StandardScaler",
    "standardize_fit_torch": "torch.var_mean",
    "standardize_transform": "scikit-learn's StandardScaler",
    "standardize_backward": "torch.autograd through standardize_batch_torch",
    "standardize_backward_torch": "torch.autograd through standardize_batch_torch",
    "mean_image": "scikit-learn's StandardScaler (one feature per pixel and channel)",
    "channel_mean": "scikit-learn's StandardScaler (one feature per channel)",
    "channel_std": "scikit-learn's StandardScaler (one feature per channel)",
    "normalize_images": "scikit-learn's StandardScaler",
    "normalize_images_torch": "torch.sub and torch.div",
    "select_features": "scikit-learn's r_regression",
    "cross_val_accuracy": "scikit-learn (SelectKBest, KNeighborsClassifier, cross_val_predict "
                          "with PredefinedSplit)",
    "fan_in": "torch.nn.init's fan computation",
    "xavier_normal": "torch.nn.init's gain and fan computation, then one draw from rng",
    "xavier_normal_torch": "torch.nn.init's gain and fan computation",
    "kaiming_normal": "torch.nn.init's gain and fan computation, then one draw from rng",
    "kaiming_normal_torch": "torch.nn.init's gain and fan computation",
    "layer_backward": _AUTOGRAD.format(op="layer_forward_torch"),
    "layer_backward_torch": _AUTOGRAD.format(op="layer_forward_torch"),
    "layer_statistics": "layer_statistics_torch (its backward pass is torch.autograd's)",
    "layer_stats": "layer_stats_torch (its backward pass is torch.autograd's)",
    "conv_output_size": "the output shape of torch.nn.functional.conv1d",
    "receptive_fields": "torch.autograd (the input pixels that reach one output of a stack "
                        "of torch convolutions)",
    "receptive_field": "receptive_fields",
}


# ------------------------------------------------------------------------------------------
# helpers added to each module that receives a body
# ------------------------------------------------------------------------------------------
def _handout_grad(forward, x, dout=None):
    """d(sum(dout * forward(x)))/dx by torch.autograd, in float64, as an ndarray."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float64)).detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = forward(t)
        seed = torch.ones_like(y) if dout is None else torch.as_tensor(
            np.asarray(dout, dtype=np.float64))
        (g,) = torch.autograd.grad(y, t, grad_outputs=seed)
    return g.numpy()


def _handout_grad_torch(forward, x, dout=None):
    """d(sum(dout * forward(x)))/dx by torch.autograd, on x's device and dtype."""
    t = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        y = forward(t)
        (g,) = torch.autograd.grad(y, t, grad_outputs=torch.ones_like(y) if dout is None else dout)
    return g


def _handout_out(y):
    """0-d results as NumPy scalars of the same dtype, arrays unchanged (as the references)."""
    return y[()] if y.ndim == 0 else y


def _handout_check(validator: str, *args):
    """Run the module's own input check ``validator`` (a KeyError names one renamed since)."""
    globals()[validator](*args)


def _handout_safe_std(std, eps):
    """A std below eps becomes 1: that feature is centred, not divided."""
    return np.where(std < eps, 1.0, std)


def _handout_stat_tensor(value, like, name):
    return _handout_tensor(value, name).to(device=like.device, dtype=like.dtype)


def _handout_channel_axis(layout):
    return {"NHWC": 3, "NCHW": 1}[layout]


def _handout_layer_ks(layer, i):
    """(span, stride) of a (kernel_size, stride[, dilation]) layer; span = d (k - 1) + 1."""
    if isinstance(layer, dict):
        k, s, d = layer.get("kernel_size", 1), layer.get("stride", 1), layer.get("dilation", 1)
    elif isinstance(layer, tuple | list) and len(layer) in (2, 3):
        k, s, d = (*layer, 1) if len(layer) == 2 else layer
    else:
        raise TypeError(f"layers[{i}] must be a (kernel_size, stride) pair, a (kernel_size, "
                        f"stride, dilation) triple or a dict with those keys; got {layer!r}.")
    for label, value in (("kernel_size", k), ("stride", s), ("dilation", d)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"layers[{i}]: {label} must be a positive int; got {value!r}.")
    return d * (k - 1) + 1, s


def _handout_tensor(x, name="x"):
    """x as a floating tensor, by the module's own converter (whichever name it has)."""
    convert = globals().get("as_float_tensor") or globals().get("_as_float_tensor")
    if convert is None:
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
        return t if t.is_floating_point() else t.to(torch.get_default_dtype())
    return convert(x, name)
