"""Handout bodies for tnn/initialization.py (see tables.py; parsed, never imported)."""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

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
