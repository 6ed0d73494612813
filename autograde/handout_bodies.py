"""What the classroom handout's library runs in place of the references.

Each function here has the name and signature of a course-library function. In the
classroom handout (:mod:`autograde.handout`) its body replaces the reference's body, under the
reference's own signature and docstring, in the module named by :data:`MODULE_OF`; the
docstring gains the line in :data:`NOTES`. The bodies delegate to what the field ships
(SciPy, ``torch.nn.functional``, ``torch.autograd``, ``torch.nn.init``, scikit-learn), so the
lectures print the same numbers without the handout holding our implementation of anything a
student writes. Functions named ``_handout_*`` are helpers added to every module that
receives a body.

This file is parsed, never imported: the names the bodies use (``np``, ``torch``,
``as_float_array``, the modules' private validators, ...) are those of the module they land
in.
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
    """Run the module's own input check ``validator`` (where this module has it)."""
    check = globals().get(validator)
    if check is not None:
        check(*args)


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


# ------------------------------------------------------------------------------------------
# tnn/activations.py
# ------------------------------------------------------------------------------------------
def sigmoid(x):
    import scipy.special

    x = as_float_array(x)
    return _handout_out(np.asarray(scipy.special.expit(x)).astype(x.dtype, copy=False))


def sigmoid_torch(x):
    return torch.sigmoid(_handout_tensor(x))


def sigmoid_grad(x):
    x = as_float_array(x)
    return _handout_out(_handout_grad(torch.sigmoid, x).astype(x.dtype, copy=False))


def sigmoid_grad_torch(x):
    return _handout_grad_torch(torch.sigmoid, _handout_tensor(x))


def tanh_grad(x):
    x = as_float_array(x)
    return _handout_out(_handout_grad(torch.tanh, x).astype(x.dtype, copy=False))


def tanh_grad_torch(x):
    return _handout_grad_torch(torch.tanh, _handout_tensor(x))


def relu(x):
    x = as_float_array(x)
    return _handout_out(torch.nn.functional.relu(torch.from_numpy(np.array(x, ndmin=1))).numpy()
                .reshape(x.shape))


def relu_torch(x):
    return torch.nn.functional.relu(_handout_tensor(x))


def relu_grad(x):
    x = as_float_array(x)
    return _handout_out(_handout_grad(torch.nn.functional.relu, x).astype(x.dtype, copy=False))


def relu_grad_torch(x):
    return _handout_grad_torch(torch.nn.functional.relu, _handout_tensor(x))


def leaky_relu(x, negative_slope: float = 0.01):
    x = as_float_array(x)
    slope = check_real(negative_slope, "negative_slope")
    y = torch.nn.functional.leaky_relu(torch.from_numpy(np.array(x, ndmin=1)), slope)
    return _handout_out(y.numpy().reshape(x.shape))


def leaky_relu_torch(x, negative_slope: float = 0.01):
    slope = check_real(negative_slope, "negative_slope")
    return torch.nn.functional.leaky_relu(_handout_tensor(x), slope)


def leaky_relu_grad(x, negative_slope: float = 0.01):
    x = as_float_array(x)
    slope = check_real(negative_slope, "negative_slope")
    g = _handout_grad(lambda t: torch.nn.functional.leaky_relu(t, slope), x)
    return _handout_out(g.astype(x.dtype, copy=False))


def leaky_relu_grad_torch(x, negative_slope: float = 0.01):
    slope = check_real(negative_slope, "negative_slope")
    return _handout_grad_torch(lambda t: torch.nn.functional.leaky_relu(t, slope),
                               _handout_tensor(x))


def prelu(x, slope):
    x = as_float_array(x)
    slope = as_float_array(slope, "slope")
    _handout_check("_check_slope_shape", x.shape, slope.shape)
    weight = torch.from_numpy(slope.astype(x.dtype).reshape(-1))
    y = torch.nn.functional.prelu(torch.from_numpy(np.array(x, ndmin=1)), weight)
    return _handout_out(y.numpy().reshape(x.shape))


def prelu_torch(x, slope):
    x = _handout_tensor(x)
    slope = _handout_tensor(slope, "slope").to(device=x.device, dtype=x.dtype)
    _handout_check("_check_slope_shape", tuple(x.shape), tuple(slope.shape))
    return torch.nn.functional.prelu(x, slope.reshape(-1))


def prelu_backward(dout, x, slope):
    x = as_float_array(x)
    dout = as_float_array(dout, "dout")
    slope = as_float_array(slope, "slope")
    if dout.shape != x.shape:
        raise ValueError(f"dout must have x's shape {x.shape}; got {dout.shape}.")
    _handout_check("_check_slope_shape", x.shape, slope.shape)
    tx = torch.tensor(np.array(x, dtype=np.float64, ndmin=1), requires_grad=True)
    tw = torch.tensor(slope.astype(np.float64).reshape(-1), requires_grad=True)
    with torch.enable_grad():
        y = torch.nn.functional.prelu(tx, tw)
        dx, dslope = torch.autograd.grad(
            y, (tx, tw), grad_outputs=torch.tensor(dout, dtype=torch.float64).reshape(y.shape))
    return (_handout_out(dx.numpy().reshape(x.shape).astype(x.dtype, copy=False)),
            _handout_out(dslope.numpy().reshape(slope.shape).astype(slope.dtype, copy=False)))


def prelu_backward_torch(dout, x, slope):
    x = _handout_tensor(x)
    dout = _handout_tensor(dout, "dout").to(device=x.device, dtype=x.dtype)
    slope = _handout_tensor(slope, "slope").to(device=x.device, dtype=x.dtype)
    if dout.shape != x.shape:
        raise ValueError(f"dout must have x's shape {tuple(x.shape)}; got {tuple(dout.shape)}.")
    _handout_check("_check_slope_shape", tuple(x.shape), tuple(slope.shape))
    tx = x.detach().clone().requires_grad_(True)
    tw = slope.detach().reshape(-1).clone().requires_grad_(True)
    with torch.enable_grad():
        dx, dslope = torch.autograd.grad(torch.nn.functional.prelu(tx, tw), (tx, tw),
                                         grad_outputs=dout)
    return dx, dslope.reshape(slope.shape)


def elu(x, alpha: float = 1.0):
    x = as_float_array(x)
    alpha = check_positive(alpha, "alpha")
    y = torch.nn.functional.elu(torch.from_numpy(np.array(x, ndmin=1)), alpha)
    return _handout_out(y.numpy().reshape(x.shape))


def elu_torch(x, alpha: float = 1.0):
    alpha = check_positive(alpha, "alpha")
    return torch.nn.functional.elu(_handout_tensor(x), alpha)


def selu(x):
    x = as_float_array(x)
    return _handout_out(torch.nn.functional.selu(torch.from_numpy(np.array(x, ndmin=1))).numpy()
                .reshape(x.shape))


def selu_torch(x):
    return torch.nn.functional.selu(_handout_tensor(x))


def dead_unit_fraction(z) -> float:
    z = as_float_array(z, "z")
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"z must have shape (N, H) with N, H >= 1; got shape {z.shape}.")
    passed = _handout_grad(torch.nn.functional.relu, z)  # (N, H): ReLU's gradient per entry
    return float(np.mean(passed.sum(axis=0) == 0))


def probe_deep_network(x, weights, activation: str = "tanh", dout=None) -> dict:
    x = as_float_array(x)
    weights = [as_float_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
    stats = probe_deep_network_torch(torch.from_numpy(x), weights, activation, dout)
    for key in ("activations", "input_grads"):
        stats[key] = [t.detach().cpu().numpy() for t in stats[key]]
    return stats


# ------------------------------------------------------------------------------------------
# tnn/preprocessing.py
# ------------------------------------------------------------------------------------------
def standardize_fit(X, eps: float = EPS):
    from sklearn.preprocessing import StandardScaler

    X = as_float_array(X, "X")
    _handout_check("_check_table", X.shape)
    _handout_check("_check_nonempty", X.shape[0], "X")
    eps = check_positive(eps, "eps")
    scaler = StandardScaler().fit(X.astype(np.float64))
    return scaler.mean_.astype(X.dtype), _handout_safe_std(np.sqrt(scaler.var_), eps).astype(X.dtype)


def standardize_fit_torch(X, eps: float = EPS):
    X = _handout_tensor(X, "X")
    _handout_check("_check_table", tuple(X.shape))
    _handout_check("_check_nonempty", X.shape[0], "X")
    eps = check_positive(eps, "eps")
    var, mean = torch.var_mean(X, dim=0, correction=0)
    # floor the variance, not the std, so that autograd never divides by a zero std
    return mean, torch.sqrt(torch.where(var < eps * eps, torch.ones_like(var), var))


def standardize_transform(X, mean, std):
    from sklearn.preprocessing import StandardScaler

    X = as_float_array(X, "X")
    _handout_check("_check_table", X.shape)
    mean, std = as_float_array(mean, "mean"), as_float_array(std, "std")
    _handout_check("_check_table_stat", mean.shape, X.shape, "mean")
    _handout_check("_check_table_stat", std.shape, X.shape, "std")
    _handout_check("_check_scale", std, "std")
    scaler = StandardScaler()
    scaler.mean_, scaler.scale_ = mean.astype(X.dtype), std.astype(X.dtype)
    scaler.var_, scaler.n_features_in_, scaler.n_samples_seen_ = scaler.scale_ ** 2, X.shape[1], 1
    return scaler.transform(X, copy=True)


def standardize_backward(x, dout, eps: float = EPS):
    x = as_float_array(x, "x")
    _handout_check("_check_table", x.shape, "x")
    _handout_check("_check_nonempty", x.shape[0], "x")
    dout = as_float_array(dout, "dout")
    _handout_check("_check_dout", dout.shape, x.shape)
    return _handout_grad(lambda t: standardize_batch_torch(t, eps), x, dout).astype(x.dtype)


def standardize_backward_torch(x, dout, eps: float = EPS):
    x = _handout_tensor(x, "x")
    _handout_check("_check_table", tuple(x.shape), "x")
    _handout_check("_check_nonempty", x.shape[0], "x")
    dout = _handout_stat_tensor(dout, x, "dout")
    _handout_check("_check_dout", tuple(dout.shape), tuple(x.shape))
    return _handout_grad_torch(lambda t: standardize_batch_torch(t, eps), x, dout)


def mean_image(images, layout: str = "NHWC"):
    from sklearn.preprocessing import StandardScaler

    images = as_float_array(images, "images")
    _handout_check("_check_images", images.shape, layout)
    _handout_check("_check_nonempty", images.shape[0], "images")
    scaler = StandardScaler(with_std=False).fit(
        images.reshape(images.shape[0], -1).astype(np.float64))
    return scaler.mean_.reshape(images.shape[1:]).astype(images.dtype)


def _handout_channel_scaler(images, layout):
    """StandardScaler fitted with one feature per channel, and the statistics' shape."""
    from sklearn.preprocessing import StandardScaler

    channels = images.shape[_handout_channel_axis(layout)]
    pixels = np.moveaxis(images, _handout_channel_axis(layout), -1).reshape(-1, channels)
    shape = (1, 1, channels) if layout == "NHWC" else (channels, 1, 1)
    return StandardScaler().fit(pixels.astype(np.float64)), shape


def channel_mean(images, layout: str = "NHWC"):
    images = as_float_array(images, "images")
    _handout_check("_check_images", images.shape, layout)
    _handout_check("_check_nonempty", images.shape[0], "images")
    scaler, shape = _handout_channel_scaler(images, layout)
    return scaler.mean_.reshape(shape).astype(images.dtype)


def channel_std(images, layout: str = "NHWC", eps: float = EPS):
    images = as_float_array(images, "images")
    _handout_check("_check_images", images.shape, layout)
    _handout_check("_check_nonempty", images.shape[0], "images")
    eps = check_positive(eps, "eps")
    scaler, shape = _handout_channel_scaler(images, layout)
    return _handout_safe_std(np.sqrt(scaler.var_), eps).reshape(shape).astype(images.dtype)


def normalize_images(images, mean, std=None, layout: str = "NHWC"):
    from sklearn.preprocessing import StandardScaler

    images = as_float_array(images, "images")
    _handout_check("_check_images", images.shape, layout)
    mean = as_float_array(mean, "mean")
    _handout_check("_check_image_stat", mean.shape, images.shape, layout, "mean")
    one = images.shape[1:]
    scaler = StandardScaler(with_std=std is not None)
    scaler.mean_ = np.broadcast_to(mean.astype(images.dtype), one).reshape(-1)
    scaler.scale_ = None
    if std is not None:
        std = as_float_array(std, "std")
        _handout_check("_check_image_stat", std.shape, images.shape, layout, "std")
        _handout_check("_check_scale", std, "std")
        scaler.scale_ = np.broadcast_to(std.astype(images.dtype), one).reshape(-1)
    scaler.n_features_in_, scaler.n_samples_seen_ = scaler.mean_.size, 1
    flat = images.reshape(images.shape[0], -1)
    return scaler.transform(flat, copy=True).reshape(images.shape)


def normalize_images_torch(images, mean, std=None, layout: str = "NHWC"):
    images = _handout_tensor(images, "images")
    _handout_check("_check_images", tuple(images.shape), layout)
    mean = _handout_stat_tensor(mean, images, "mean")
    _handout_check("_check_image_stat", tuple(mean.shape), tuple(images.shape), layout, "mean")
    if std is None:
        return torch.sub(images, mean)
    std = _handout_stat_tensor(std, images, "std")
    _handout_check("_check_image_stat", tuple(std.shape), tuple(images.shape), layout, "std")
    _handout_check("_check_scale", std, "std")
    return torch.div(torch.sub(images, mean), std)


def select_features(X, y, k: int):
    from sklearn.feature_selection import r_regression

    X = as_float_array(X, "X").astype(np.float64)
    _handout_check("_check_table", X.shape)
    _handout_check("_check_nonempty", X.shape[0], "X")
    y = as_float_array(y, "y").astype(np.float64)
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), one label per row of X; got {y.shape}.")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= X.shape[1]:
        raise ValueError(f"k must be an int between 1 and D = {X.shape[1]}; got {k!r}.")
    score = np.abs(r_regression(X, y, force_finite=True))  # (D,)
    # r_regression's centring by sums can leave a constant column a tiny nonzero norm
    score[(np.ptp(X, axis=0) == 0) | (np.ptp(y) == 0)] = 0.0
    return np.argsort(-score, kind="stable")[:k].astype(np.int64)


def cross_val_accuracy(X, y, folds, k: int, leaky: bool, select=None) -> float:
    from sklearn.feature_selection import SelectKBest
    from sklearn.model_selection import PredefinedSplit, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    select = select_features if select is None else select
    X = as_float_array(X, "X")
    _handout_check("_check_table", X.shape)
    y, folds = np.asarray(y), np.asarray(folds)
    if y.shape != (len(X),) or folds.shape != (len(X),):
        raise ValueError(f"y and folds must have shape ({len(X)},); got {y.shape} and "
                         f"{folds.shape}.")
    if len(np.unique(folds)) < 2:
        raise ValueError("folds must name at least two different folds; got "
                         f"{len(np.unique(folds))}.")

    def ranks(X_fit, y_fit):  # SelectKBest keeps the k best scores: score the chosen ones
        score = np.zeros(X_fit.shape[1])
        chosen = np.asarray(select(X_fit, y_fit, k))
        score[chosen] = np.arange(len(chosen), 0, -1)
        return score

    knn = KNeighborsClassifier(n_neighbors=1, algorithm="brute")
    cv = PredefinedSplit(folds)
    with threadpool_limits(1):  # tiny problems: a thread pool's start-up would dominate
        if leaky:
            pred = cross_val_predict(knn, X[:, np.asarray(select(X, y, k))], y, cv=cv)
        else:
            pred = cross_val_predict(make_pipeline(SelectKBest(ranks, k=k), knn), X, y, cv=cv)
    return float(np.mean(pred == y))


# ------------------------------------------------------------------------------------------
# tnn/initialization.py
# ------------------------------------------------------------------------------------------
def _handout_torch_layout(shape):
    """A meta tensor in torch's weight layout: (D_out, D_in) for our (D_in, D_out)."""
    check = globals().get("check_shape")  # the module's validator, where it has one
    shape = tuple(check(shape)) if check else tuple(int(s) for s in shape)
    torch_shape = shape[::-1] if len(shape) == 2 else shape
    return torch.empty(torch_shape, device="meta")


def _handout_init_std(shape, nonlinearity, param=None, gain=1.0):
    """torch.nn.init's standard deviation for a fan-in initialization of ``shape``."""
    weight = _handout_torch_layout(shape)
    fan = torch.nn.init._calculate_correct_fan(weight, "fan_in")
    return gain * torch.nn.init.calculate_gain(nonlinearity, param) / math.sqrt(fan)


def fan_in(shape) -> int:
    weight = _handout_torch_layout(shape)
    return int(torch.nn.init._calculate_fan_in_and_fan_out(weight)[0])


def xavier_normal(rng, shape, gain: float = 1.0, dtype=np.float64) -> np.ndarray:
    check_rng(rng)
    std = _handout_init_std(shape, "linear", gain=check_positive(gain, "gain"))
    return rng.standard_normal(tuple(shape), dtype=dtype) * np.asarray(std, dtype=dtype)


def xavier_normal_torch(generator, shape, gain: float = 1.0, dtype=torch.float32):
    check_generator(generator)
    std = _handout_init_std(shape, "linear", gain=check_positive(gain, "gain"))
    w = torch.randn(tuple(shape), generator=generator, dtype=dtype, device=generator.device)
    return w * std


def kaiming_normal(rng, shape, negative_slope: float = 0.0, dtype=np.float64) -> np.ndarray:
    check_rng(rng)
    a = check_positive(negative_slope, "negative_slope", allow_zero=True)
    std = _handout_init_std(shape, "leaky_relu", a)
    return rng.standard_normal(tuple(shape), dtype=dtype) * np.asarray(std, dtype=dtype)


def kaiming_normal_torch(generator, shape, negative_slope: float = 0.0, dtype=torch.float32):
    check_generator(generator)
    a = check_positive(negative_slope, "negative_slope", allow_zero=True)
    std = _handout_init_std(shape, "leaky_relu", a)
    w = torch.randn(tuple(shape), generator=generator, dtype=dtype, device=generator.device)
    return w * std


def layer_backward(dout, h_in, w, activation: str = "tanh"):
    dout = as_float_array(dout, "dout")
    h_in, w = as_float_array(h_in, "h_in"), as_float_array(w, "w")
    _handout_check("_check_layer", h_in, w, activation, dout)
    dh_in, dw = layer_backward_torch(torch.from_numpy(dout), torch.from_numpy(h_in),
                                     torch.from_numpy(w), activation)
    dtype = np.result_type(h_in, w)
    return dh_in.numpy().astype(dtype, copy=False), dw.numpy().astype(dtype, copy=False)


def layer_backward_torch(dout, h_in, w, activation: str = "tanh"):
    h_in = torch.as_tensor(h_in)
    h_in = h_in if h_in.is_floating_point() else h_in.to(torch.get_default_dtype())
    w = torch.as_tensor(w).to(device=h_in.device, dtype=h_in.dtype)
    dout = torch.as_tensor(dout).to(device=h_in.device, dtype=h_in.dtype)
    _handout_check("_check_layer", h_in, w, activation, dout)
    th, tw = h_in.detach().clone().requires_grad_(True), w.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = layer_forward_torch(th, tw, activation)
        dh_in, dw = torch.autograd.grad(out, (th, tw), grad_outputs=dout)
    return dh_in, dw


def layer_statistics(x, weights, activation: str = "tanh", bins: int = 50, *,
                     scales=None, dout=None) -> dict:
    x = as_float_array(x)
    weights = [as_float_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
    stats = layer_statistics_torch(torch.from_numpy(x), weights, activation, bins,
                                   scales=scales, dout=dout)
    stats["activations"] = [h.cpu().numpy() for h in stats["activations"]]
    return stats


def layer_stats(x, weights, activation: str = "tanh", *, dout=None, scales=None, bins=50):
    x = as_float_array(x)
    weights = [as_float_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
    stats = layer_stats_torch(torch.from_numpy(x), weights, activation, dout=dout,
                              scales=scales, bins=bins)
    for key in ("activations", "input_grads"):
        tensors = getattr(stats, key, None)
        if tensors is not None:
            setattr(stats, key, [t.detach().cpu().numpy() for t in tensors])
    return stats


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    size = check_int(size, "size")
    kernel_size = check_int(kernel_size, "kernel_size")
    stride = check_int(stride, "stride")
    padding = check_int(padding, "padding", minimum=0)
    dilation = check_int(dilation, "dilation")
    signal = torch.empty(1, 1, size, device="meta")
    kernel = torch.empty(1, 1, kernel_size, device="meta")
    try:
        out = torch.nn.functional.conv1d(signal, kernel, stride=stride, padding=padding,
                                         dilation=dilation)
    except RuntimeError as err:
        raise ValueError(
            f"the window (kernel_size={kernel_size}, dilation={dilation}) is larger than the "
            f"padded input ({size} + 2*{padding}); use a smaller kernel or more padding "
            f"({err}).") from None
    return int(out.shape[-1])


def receptive_fields(layers) -> list[int]:
    specs = [_handout_layer_ks(layer, i) for i, layer in enumerate(layers)]
    fields = []
    for depth in range(1, len(specs) + 1):
        # an input long enough for one output of the first `depth` layers
        length = 1
        for k, s in reversed(specs[:depth]):
            length = (length - 1) * s + k
        x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
        with torch.enable_grad():
            h = x
            for k, s in specs[:depth]:
                h = torch.nn.functional.conv1d(h, torch.ones(1, 1, k, dtype=torch.float64),
                                               stride=s)
            (g,) = torch.autograd.grad(h[0, 0, 0], x)
        fields.append(int((g != 0).sum()))
    return fields


def receptive_field(layers) -> int:
    return (receptive_fields(layers) or [1])[-1]
