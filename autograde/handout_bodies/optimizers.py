"""Handout bodies for tnn/optimizers.py (see tables.py; parsed, never imported).

Each update rule takes one step of the matching ``torch.optim`` optimizer on a copy of the
array, with this rule's slots loaded into the optimizer's state and read back after the step.
"""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

OPT = "tnn/optimizers.py"

MODULE_OF |= dict.fromkeys((
    "momentum_rule", "nesterov_rule", "rmsprop_rule", "adam_rule", "adam_efficient_rule",
    "adamw_rule", "nadam_rule"), OPT)

DELEGATE |= {
    "momentum_rule": "torch.optim.SGD(momentum=gamma), whose buffer is v / lr",
    "nesterov_rule": "torch.optim.SGD(momentum=gamma, nesterov=True), whose buffer is v / lr",
    "rmsprop_rule": "torch.optim.RMSprop(alpha=decay)",
    "adam_rule": "torch.optim.Adam",
    "adam_efficient_rule": "torch.optim.Adam with the per-step equivalent eps "
                           "(adam_equivalent_eps)",
    "adamw_rule": "torch.optim.AdamW",
    "nadam_rule": "torch.optim.NAdam",
}


# ------------------------------------------------------------------------------------------
# tnn/optimizers.py
# ------------------------------------------------------------------------------------------
def _handout_like(value, like):
    """``value`` (an array, a tensor or a number) as a new tensor of ``like``'s dtype and device."""
    if isinstance(value, torch.Tensor):
        return value.detach().to(device=like.device, dtype=like.dtype).clone()
    data = torch.from_numpy(np.array(value, dtype=np.float64))
    return torch.broadcast_to(data, like.shape).to(device=like.device, dtype=like.dtype).clone()


def _handout_optim_step(optimizer, p, g, loaded, **settings):
    """One step of ``optimizer([w], **settings)`` for ``w`` a copy of ``p`` with gradient
    ``g``; ``loaded`` (torch's state names -> values) is put into the optimizer's state first.
    Returns ``(new_p, state)``: ``new_p`` an ndarray for an ndarray ``p``, a tensor for a
    tensor; ``state`` torch's state after the step, tensors."""
    numpy_in = not isinstance(p, torch.Tensor)
    w = torch.from_numpy(np.array(p)) if numpy_in else p.detach().clone()
    w.grad = _handout_like(g, w)
    opt = optimizer([w], **settings)
    if loaded:
        state = {}
        for name, value in loaded.items():
            if name in ("step", "mu_product"):  # torch keeps these as CPU scalars
                state[name] = torch.tensor(float(value), dtype=torch.float64)
            else:
                state[name] = _handout_like(value, w)
        opt.state[w] = state
    opt.step()
    new_p = w.detach()
    return (new_p.numpy() if numpy_in else new_p), dict(opt.state[w])


def _handout_out_like(value, p):
    """A tensor of torch's state as an ndarray when ``p`` is one, else unchanged."""
    return value if isinstance(p, torch.Tensor) else value.numpy()


def _handout_adam_family(optimizer, p, g, s, t, **settings):
    """torch's Adam, AdamW or NAdam at update ``t`` with our slots m, v (zeros when absent)."""
    loaded = {"step": t - 1, "exp_avg": s.get("m", 0.0), "exp_avg_sq": s.get("v", 0.0)}
    if optimizer is torch.optim.NAdam:
        loaded["mu_product"] = s.get("mu_product", 1.0)
    new_p, state = _handout_optim_step(optimizer, p, g, loaded, **settings)
    slots = {"m": _handout_out_like(state["exp_avg"], p),
             "v": _handout_out_like(state["exp_avg_sq"], p)}
    if optimizer is torch.optim.NAdam:
        slots["mu_product"] = float(state["mu_product"])
    return new_p, slots


def _handout_velocity_step(p, g, s, lr, gamma, nesterov):
    """torch's SGD with momentum: its buffer is our velocity divided by lr."""
    if gamma == 0:  # no momentum: torch keeps no buffer, and the velocity is lr * g
        new_p, _ = _handout_optim_step(torch.optim.SGD, p, g, {}, lr=lr)
        return new_p, {"v": g.detach() * lr if isinstance(g, torch.Tensor)
                       else np.asarray(g) * lr}
    loaded = {"momentum_buffer": s["v"] / lr} if "v" in s else {}
    new_p, state = _handout_optim_step(torch.optim.SGD, p, g, loaded, lr=lr, momentum=gamma,
                                       nesterov=nesterov)
    return new_p, {"v": _handout_out_like(state["momentum_buffer"] * lr, p)}


def momentum_rule(p, g, s, t, *, lr=1e-3, gamma=0.9):
    return _handout_velocity_step(p, g, s, lr, gamma, nesterov=False)


def nesterov_rule(p, g, s, t, *, lr=1e-3, gamma=0.9):
    return _handout_velocity_step(p, g, s, lr, gamma, nesterov=True)


def rmsprop_rule(p, g, s, t, *, lr=1e-2, decay=0.99, eps=1e-8):
    loaded = {"step": t - 1, "square_avg": s.get("square_avg", 0.0)}
    new_p, state = _handout_optim_step(torch.optim.RMSprop, p, g, loaded, lr=lr, alpha=decay,
                                       eps=eps)
    return new_p, {"square_avg": _handout_out_like(state["square_avg"], p)}


def adam_rule(p, g, s, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    return _handout_adam_family(torch.optim.Adam, p, g, s, t, lr=lr, betas=(beta1, beta2),
                                eps=eps, weight_decay=weight_decay)


def adam_efficient_rule(p, g, s, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps_hat=1e-8):
    return _handout_adam_family(torch.optim.Adam, p, g, s, t, lr=lr, betas=(beta1, beta2),
                                eps=adam_equivalent_eps(eps_hat, beta2, t))


def adamw_rule(p, g, s, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return _handout_adam_family(torch.optim.AdamW, p, g, s, t, lr=lr, betas=(beta1, beta2),
                                eps=eps, weight_decay=weight_decay)


def nadam_rule(p, g, s, t, *, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
               momentum_decay=4e-3):
    return _handout_adam_family(torch.optim.NAdam, p, g, s, t, lr=lr, betas=(beta1, beta2),
                                eps=eps, momentum_decay=momentum_decay)
