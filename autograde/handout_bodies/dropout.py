"""Handout bodies for tnn/dropout.py and tnn/dropout_experiments.py (see tables.py; parsed,
never imported)."""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

DROP, DROP_EXP = "tnn/dropout.py", "tnn/dropout_experiments.py"

MODULE_OF |= dict.fromkeys((
    "inverted_dropout_forward", "inverted_dropout_forward_torch", "inverted_dropout_backward",
    "inverted_dropout_backward_torch", "dropout_test_time", "spatial_dropout_forward",
    "spatial_dropout_forward_torch"), DROP)
MODULE_OF |= dict.fromkeys(("mc_dropout_predict", "mc_dropout_predict_torch"), DROP_EXP)

_NATIVE = ("torch.ops.aten.native_dropout_backward (the kernel PyTorch's own dropout uses to "
           "apply a mask and its scale)")
DELEGATE |= {
    "inverted_dropout_forward": _NATIVE,
    "inverted_dropout_forward_torch": _NATIVE,
    "inverted_dropout_backward": "torch.autograd through torch.nn.functional.dropout's kernel "
                                 "(" + _NATIVE + ")",
    "inverted_dropout_backward_torch": "torch.autograd through torch.nn.functional.dropout's "
                                       "kernel (" + _NATIVE + ")",
    "dropout_test_time": "torch.nn.Dropout in eval() mode (the identity), times the expected "
                         "mask for vanilla dropout",
    "spatial_dropout_forward": _NATIVE + ", the channel mask expanded as nn.Dropout2d does",
    "spatial_dropout_forward_torch": _NATIVE + ", the channel mask expanded as nn.Dropout2d "
                                               "does",
    "mc_dropout_predict": "torch.nn.functional.linear, relu and softmax, with " + _NATIVE,
    "mc_dropout_predict_torch": "torch.nn.functional.linear, relu and softmax, with " + _NATIVE,
}


# ------------------------------------------------------------------------------------------
# tnn/dropout.py, tnn/dropout_experiments.py
# ------------------------------------------------------------------------------------------
def _handout_dropout_kernel(t, mask, keep_prob):
    """PyTorch's dropout kernel applied with a given boolean mask: t * mask / keep_prob."""
    mask = mask.to(t.device).expand(t.shape).contiguous()
    return torch.ops.aten.native_dropout_backward(t.contiguous(), mask, 1.0 / keep_prob)


def _handout_dropout_numpy(x, mask, keep_prob):
    """The kernel on NumPy arrays, in x's dtype."""
    out = _handout_dropout_kernel(torch.from_numpy(np.ascontiguousarray(x)),
                                  torch.from_numpy(np.ascontiguousarray(mask)), keep_prob)
    return out.numpy()


def inverted_dropout_forward(x, mask, keep_prob: float) -> np.ndarray:
    x = as_float_array(x)
    mask = _as_mask(mask)
    keep_prob = check_keep_prob(keep_prob)
    _handout_check("_check_mask_shape", mask.shape, x.shape)
    return _handout_dropout_numpy(x, mask, keep_prob)


def inverted_dropout_forward_torch(x, mask, keep_prob: float) -> torch.Tensor:
    x = as_float_tensor(x)
    mask = _as_mask_torch(mask, x)
    keep_prob = check_keep_prob(keep_prob)
    _handout_check("_check_mask_shape", mask.shape, x.shape)
    return _handout_dropout_kernel(x, mask, keep_prob)


def inverted_dropout_backward(dout, mask, keep_prob: float) -> np.ndarray:
    dout = as_float_array(dout, "dout")
    mask = _as_mask(mask)
    keep_prob = check_keep_prob(keep_prob)
    _handout_check("_check_mask_shape", mask.shape, dout.shape)
    mask_t = torch.from_numpy(np.ascontiguousarray(mask))
    return _handout_grad(lambda t: _handout_dropout_kernel(t, mask_t, keep_prob), dout,
                         dout).astype(dout.dtype, copy=False)


def inverted_dropout_backward_torch(dout, mask, keep_prob: float) -> torch.Tensor:
    dout = as_float_tensor(dout, "dout")
    mask = _as_mask_torch(mask, dout)
    keep_prob = check_keep_prob(keep_prob)
    _handout_check("_check_mask_shape", mask.shape, dout.shape)
    return _handout_grad_torch(lambda t: _handout_dropout_kernel(t, mask, keep_prob), dout,
                               dout)


def dropout_test_time(x, keep_prob: float, inverted: bool = True) -> np.ndarray:
    x = as_float_array(x)
    keep_prob = check_keep_prob(keep_prob)
    layer = torch.nn.Dropout(p=1.0 - keep_prob).eval()  # eval(): the identity
    out = layer(torch.from_numpy(x.copy())).numpy()
    expected_mask = np.asarray(1.0 if inverted else keep_prob, dtype=x.dtype)
    return out * expected_mask


def spatial_dropout_forward(x, mask, keep_prob: float) -> np.ndarray:
    x = as_float_array(x)
    mask = _as_mask(mask)
    _handout_check("_check_maps", x.shape, mask.shape)
    keep_prob = check_keep_prob(keep_prob)
    channels = torch.from_numpy(np.ascontiguousarray(mask)).reshape(*mask.shape, 1, 1)
    return _handout_dropout_kernel(torch.from_numpy(np.ascontiguousarray(x)), channels,
                                   keep_prob).numpy()


def spatial_dropout_forward_torch(x, mask, keep_prob: float) -> torch.Tensor:
    x = as_float_tensor(x)
    mask = _as_mask_torch(mask, x)
    _handout_check("_check_maps", x.shape, mask.shape)
    return _handout_dropout_kernel(x, mask.reshape(*mask.shape, 1, 1),
                                   check_keep_prob(keep_prob))


def mc_dropout_predict(x, w1, b1, w2, b2, keep_prob: float, rng: np.random.Generator,
                       n_samples: int):
    check_rng(rng)
    x = as_float_array(x, "x")
    keep_prob = check_keep_prob(keep_prob)
    n_samples = check_positive_int(n_samples, "n_samples")
    tx, tw1, tb1, tw2, tb2 = (torch.as_tensor(np.asarray(v, dtype=np.float64))
                              for v in (x, w1, b1, w2, b2))
    hidden = torch.nn.functional.relu(torch.nn.functional.linear(tx, tw1.T, tb1))
    passes: list = []
    for _ in range(n_samples):
        mask = torch.from_numpy(rng.random(tuple(hidden.shape)) < keep_prob)
        logits = torch.nn.functional.linear(_handout_dropout_kernel(hidden, mask, keep_prob),
                                            tw2.T, tb2)
        passes.append(torch.nn.functional.softmax(logits, dim=-1))
    probs = torch.stack(passes)
    return probs.mean(dim=0).numpy(), probs.std(dim=0, unbiased=False).numpy()


def mc_dropout_predict_torch(x, w1, b1, w2, b2, keep_prob: float,
                             generator: torch.Generator, n_samples: int):
    keep_prob = check_keep_prob(keep_prob)
    n_samples = check_positive_int(n_samples, "n_samples")
    hidden = torch.nn.functional.relu(torch.nn.functional.linear(x, w1.T, b1))
    probs = torch.stack([torch.nn.functional.softmax(torch.nn.functional.linear(
        _handout_dropout_kernel(hidden, torch.rand(hidden.shape, generator=generator,
                                                   device=x.device) < keep_prob, keep_prob),
        w2.T, b2), dim=-1) for _ in range(n_samples)])
    return probs.mean(dim=0), probs.std(dim=0, unbiased=False)
