"""Handout bodies for tnn/activations.py (see tables.py; parsed, never imported)."""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

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
