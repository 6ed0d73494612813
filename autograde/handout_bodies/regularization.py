"""Handout bodies for tnn/regularization.py (see tables.py; parsed, never imported)."""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

REG = "tnn/regularization.py"

MODULE_OF |= dict.fromkeys((
    "l2_penalty", "l2_penalty_torch", "l1_penalty", "l1_penalty_torch", "elastic_net_penalty",
    "elastic_net_penalty_torch", "sgd_step", "sgd_step_torch", "weight_decay_step",
    "early_stopping_epoch", "early_stopping_epoch_torch", "batchnorm_forward",
    "batchnorm_forward_torch"), REG)

_LOSS_GRAD = ("torch.autograd (the gradient of torch.nn.functional.{op} against zeros, "
              "reduction='sum')")
DELEGATE |= {
    "l2_penalty": _LOSS_GRAD.format(op="mse_loss"),
    "l2_penalty_torch": _LOSS_GRAD.format(op="mse_loss"),
    "l1_penalty": _LOSS_GRAD.format(op="l1_loss"),
    "l1_penalty_torch": _LOSS_GRAD.format(op="l1_loss"),
    "elastic_net_penalty": _LOSS_GRAD.format(op="mse_loss and l1_loss"),
    "elastic_net_penalty_torch": _LOSS_GRAD.format(op="mse_loss and l1_loss"),
    "sgd_step": "torch.optim.SGD (weight_decay on the weights' group; L1 through torch.autograd)",
    "sgd_step_torch": "torch.optim.SGD (weight_decay on the weights' group; L1 through "
                      "torch.autograd)",
    "weight_decay_step": "torch.optim.SGD(weight_decay=lam)",
    "early_stopping_epoch": "torch.optim.lr_scheduler.ReduceLROnPlateau's patience counter",
    "early_stopping_epoch_torch": "torch.optim.lr_scheduler.ReduceLROnPlateau's patience "
                                  "counter",
    "batchnorm_forward": "torch.nn.functional.batch_norm",
    "batchnorm_forward_torch": "torch.nn.functional.batch_norm",
}


# ------------------------------------------------------------------------------------------
# tnn/regularization.py
# ------------------------------------------------------------------------------------------
def _handout_penalty_autograd(w, l2_scale: float, l1_scale: float):
    """``l2_scale/2 * sum(w**2) + l1_scale * sum(|w|)`` and its gradient, both from
    torch.nn.functional's losses against zeros and torch.autograd. The value keeps ``w``'s
    autograd graph (a caller may differentiate it, as it may the reference's)."""
    def value_of(t):
        zeros = torch.zeros_like(t)
        return ((0.5 * l2_scale) * torch.nn.functional.mse_loss(t, zeros, reduction="sum")
                + l1_scale * torch.nn.functional.l1_loss(t, zeros, reduction="sum"))

    wt = w.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(value_of(wt), wt)
    return value_of(w), grad


def _handout_numpy_penalty(w, l2_scale: float, l1_scale: float):
    """The same for a float NumPy array ``w``: ``(float value, grad in w's dtype)``."""
    value, _ = _handout_penalty_autograd(torch.from_numpy(w.astype(np.float64)), l2_scale,
                                         l1_scale)
    value = value.item()
    _, grad = _handout_penalty_autograd(torch.from_numpy(w), l2_scale, l1_scale)
    return value, grad.numpy()


def l2_penalty(w, lam: float):
    return _handout_numpy_penalty(as_float_array(w, "w"), _lam(lam), 0.0)


def l2_penalty_torch(w, lam: float):
    return _handout_penalty_autograd(as_float_tensor(w, "w"), _lam(lam), 0.0)


def l1_penalty(w, lam: float):
    return _handout_numpy_penalty(as_float_array(w, "w"), 0.0, _lam(lam))


def l1_penalty_torch(w, lam: float):
    return _handout_penalty_autograd(as_float_tensor(w, "w"), 0.0, _lam(lam))


def elastic_net_penalty(w, lam: float, beta: float):
    beta = check_positive(beta, "beta", allow_zero=True)
    return _handout_numpy_penalty(as_float_array(w, "w"), _lam(lam) * beta, _lam(lam))


def elastic_net_penalty_torch(w, lam: float, beta: float):
    beta = check_positive(beta, "beta", allow_zero=True)
    return _handout_penalty_autograd(as_float_tensor(w, "w"), _lam(lam) * beta, _lam(lam))


def sgd_step_torch(params: dict, grads: dict, lr: float, lam: float, kind: str = "l2",
                   beta: float = 1.0) -> dict:
    check_param_dicts(params, grads)
    lr, lam = check_positive(lr, "lr"), _lam(lam)
    kind = check_choice(kind, "kind", KINDS)
    out = {}
    for name, p in params.items():
        p = as_float_tensor(p, name)
        g = as_float_tensor(grads[name], f"grads[{name!r}]", like=p)
        if g.shape != p.shape:
            raise ValueError(f"grads[{name!r}] must have the shape of params[{name!r}], "
                             f"{tuple(p.shape)}; got {tuple(g.shape)}.")
        weight = not is_bias(name)
        l2 = lam * (beta if kind == "elastic_net" else 1.0) if kind in ("l2", "elastic_net") else 0.0
        l1 = lam if kind in ("l1", "elastic_net") else 0.0
        q = p.detach().clone()
        q.grad = g.clone()
        if weight and l1:
            q.grad = q.grad + _handout_penalty_autograd(q, 0.0, l1)[1]
        torch.optim.SGD([q], lr=lr, weight_decay=l2 if weight else 0.0).step()
        out[name] = q.detach()
    return out


def sgd_step(params: dict, grads: dict, lr: float, lam: float, kind: str = "l2",
             beta: float = 1.0) -> dict:
    check_param_dicts(params, grads)
    arrays = {k: as_float_array(v, k) for k, v in params.items()}
    tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
    tgrads = {k: torch.from_numpy(as_float_array(grads[k], f"grads[{k!r}]")) for k in arrays}
    new = sgd_step_torch(tensors, tgrads, lr, lam, kind, beta)
    return {k: v.numpy().astype(arrays[k].dtype, copy=False) for k, v in new.items()}


def weight_decay_step(w, grad, lr: float, lam: float):
    w, grad = as_float_array(w, "w"), as_float_array(grad, "grad")
    q = torch.from_numpy(w).clone()
    q.grad = torch.from_numpy(grad).to(q.dtype)
    torch.optim.SGD([q], lr=check_positive(lr, "lr"), weight_decay=_lam(lam)).step()
    return q.numpy()


def early_stopping_epoch(val_acc, patience: int) -> tuple[int, int]:
    curve = as_float_array(val_acc, "val_acc")
    if curve.ndim != 1 or curve.size == 0:
        raise ValueError(f"val_acc must be a non-empty 1-D sequence (one value per epoch); "
                         f"got shape {curve.shape}.")
    patience = check_int(patience, "patience")
    # ReduceLROnPlateau counts the epochs without a strict improvement (mode "max",
    # threshold 0) and acts once the count exceeds its patience: ours minus one.
    dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    dummy.step()  # (no gradient: changes nothing; the scheduler expects a step first)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        dummy, mode="max", factor=0.5, patience=patience - 1, threshold=0.0,
        threshold_mode="abs")
    for epoch, value in enumerate(curve.tolist(), start=1):
        plateau.step(value)
        if dummy.param_groups[0]["lr"] < 1.0:
            return epoch - patience, epoch
    return int(curve.size) - plateau.num_bad_epochs, int(curve.size)


def early_stopping_epoch_torch(val_acc, patience: int) -> tuple[int, int]:
    curve = as_float_tensor(val_acc, "val_acc")
    return early_stopping_epoch(curve.detach().cpu().numpy(), patience)


def batchnorm_forward_torch(x, gamma, beta, running_mean, running_var, training: bool,
                            momentum: float = 0.1, eps: float = 1e-5):
    x = as_float_tensor(x, "x")
    gamma, beta = as_float_tensor(gamma, "gamma", like=x), as_float_tensor(beta, "beta", like=x)
    rm = as_float_tensor(running_mean, "running_mean", like=x).clone()
    rv = as_float_tensor(running_var, "running_var", like=x).clone()
    _check_bn(tuple(x.shape), gamma, beta, rm, rv)
    momentum, eps = check_positive(momentum, "momentum"), check_positive(eps, "eps")
    if training and x.shape[0] < 2:
        raise ValueError("batch norm in training needs at least 2 examples per batch (the "
                         f"variance of one example is 0); got N = {x.shape[0]}.")
    out = torch.nn.functional.batch_norm(x, rm, rv, gamma, beta, training=bool(training),
                                         momentum=momentum, eps=eps)
    return out, rm, rv


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training: bool,
                      momentum: float = 0.1, eps: float = 1e-5):
    x = as_float_array(x, "x")
    out, rm, rv = batchnorm_forward_torch(torch.from_numpy(x), gamma, beta, running_mean,
                                          running_var, training, momentum, eps)
    return out.numpy(), rm.numpy(), rv.numpy()
