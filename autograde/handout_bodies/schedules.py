"""Handout bodies for tnn/schedules.py (see tables.py; parsed, never imported).

The schedules read their values from a run of torch's own schedulers (``CosineAnnealingLR``,
``LinearLR``, ``SequentialLR``) on a one-weight optimizer, kept per setting so that a whole
schedule costs one run; the clipping functions delegate to ``torch.nn.utils.get_total_norm``
and ``clip_grads_with_norm_`` (whose fixed ε of 1e-6 is bridged by shifting the norm it is
given); the threshold to ``torch.quantile``.
"""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

SCHED = "tnn/schedules.py"

MODULE_OF |= dict.fromkeys((
    "cosine_decay_lr", "linear_warmup_lr", "warmup_cosine_lr", "global_grad_norm",
    "clip_by_global_norm", "global_grad_norm_torch", "clip_by_global_norm_torch",
    "clip_threshold"), SCHED)

DELEGATE |= {
    "cosine_decay_lr": "torch.optim.lr_scheduler.CosineAnnealingLR",
    "linear_warmup_lr": "torch.optim.lr_scheduler.LinearLR(start_factor=1 / W)",
    "warmup_cosine_lr": "torch.optim.lr_scheduler.SequentialLR(LinearLR, CosineAnnealingLR)",
    "global_grad_norm": "torch.nn.utils.get_total_norm",
    "clip_by_global_norm": "torch.nn.utils.clip_grads_with_norm_",
    "global_grad_norm_torch": "torch.nn.utils.get_total_norm",
    "clip_by_global_norm_torch": "torch.nn.utils.clip_grads_with_norm_",
    "clip_threshold": "torch.quantile (linear interpolation, as numpy.percentile)",
}


# ------------------------------------------------------------------------------------------
# tnn/schedules.py
# ------------------------------------------------------------------------------------------
def _handout_lr_table(base_lr, n_steps, warmup_steps=0, decay_steps=0, final_lr=0.0,
                      _cache={}):  # noqa: B006 - the one cache shared by every call
    """The lr of updates 0 .. n_steps - 1 under torch's schedulers: a LinearLR ramp over
    ``warmup_steps`` (if any), then CosineAnnealingLR over ``decay_steps`` (if any)."""
    from torch.optim import lr_scheduler

    key = (base_lr, n_steps, warmup_steps, decay_steps, final_lr)
    if key not in _cache:
        weight = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([weight], lr=base_lr)
        parts = []
        if decay_steps:
            parts.append(lr_scheduler.CosineAnnealingLR(opt, T_max=decay_steps,
                                                        eta_min=final_lr))
        if warmup_steps:
            parts.insert(0, lr_scheduler.LinearLR(opt, start_factor=1 / warmup_steps,
                                                  end_factor=1.0,
                                                  total_iters=max(warmup_steps - 1, 1)))
        scheduler = parts[0] if len(parts) == 1 else lr_scheduler.SequentialLR(
            opt, parts, milestones=[warmup_steps])
        values = []
        for _ in range(n_steps):
            values.append(opt.param_groups[0]["lr"])
            opt.step()
            scheduler.step()
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = values
    return _cache[key]


def cosine_decay_lr(step: int, base_lr: float, decay_steps: int, final_lr: float = 0.0) -> float:
    step, base_lr = _step(step), _lr(base_lr)
    decay_steps = check_int(decay_steps, "decay_steps")
    final_lr = _floor(final_lr, base_lr)
    table = _handout_lr_table(base_lr, decay_steps + 1, decay_steps=decay_steps,
                              final_lr=final_lr)
    return float(table[min(step, decay_steps)])


def linear_warmup_lr(step: int, base_lr: float, warmup_steps: int) -> float:
    step, base_lr = _step(step), _lr(base_lr)
    warmup_steps = check_int(warmup_steps, "warmup_steps")
    if warmup_steps == 1:
        return base_lr
    table = _handout_lr_table(base_lr, warmup_steps, warmup_steps=warmup_steps)
    return float(table[min(step, warmup_steps - 1)])


def warmup_cosine_lr(step: int, base_lr: float, warmup_steps: int, decay_steps: int,
                     final_lr: float = 0.0) -> float:
    step, base_lr = _step(step), _lr(base_lr)
    warmup_steps = check_int(warmup_steps, "warmup_steps", minimum=0)
    decay_steps = check_int(decay_steps, "decay_steps")
    final_lr = _floor(final_lr, base_lr)
    if warmup_steps <= 1:  # LinearLR needs two steps; W = 1 is no ramp at all
        return cosine_decay_lr(max(step - warmup_steps, 0), base_lr, decay_steps, final_lr)
    last = warmup_steps + decay_steps
    table = _handout_lr_table(base_lr, last + 1, warmup_steps, decay_steps, final_lr)
    return float(table[min(step, last)])


def _handout_total_norm(tensors):
    return torch.nn.utils.get_total_norm(tensors, norm_type=2.0)


def _handout_clip(tensors, max_norm, eps):
    """Copies of ``tensors`` clipped by torch at the global norm, and that norm (0-d)."""
    holders = []
    for t in tensors:
        holder = torch.zeros_like(t).requires_grad_(True)
        holder.grad = t.detach().clone()
        holders.append(holder)
    norm = _handout_total_norm([h.grad for h in holders])
    # torch divides by norm + 1e-6: hand it norm + eps - 1e-6 to divide by norm + eps
    torch.nn.utils.clip_grads_with_norm_(holders, max_norm, norm + (eps - 1e-6))
    return [h.grad for h in holders], norm


def global_grad_norm(grads) -> float:
    arrays = [as_float_array(g, f"grads[{k!r}]") for k, g in _items(grads)]
    tensors = [torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in arrays]
    return float(_handout_total_norm(tensors))


def clip_by_global_norm(grads, max_norm: float, eps: float = 1e-6):
    max_norm = check_positive(max_norm, "max_norm")
    eps = check_positive(eps, "eps", allow_zero=True)
    arrays = [as_float_array(g, f"grads[{k!r}]") for k, g in _items(grads)]
    clipped, norm = _handout_clip([torch.from_numpy(np.array(a, dtype=np.float64))
                                   for a in arrays], max_norm, eps)
    values = [c.numpy().astype(a.dtype) for c, a in zip(clipped, arrays, strict=True)]
    return _rebuild(grads, values), float(norm)


def global_grad_norm_torch(grads):
    return _handout_total_norm(_tensors(grads))


def clip_by_global_norm_torch(grads, max_norm: float, eps: float = 1e-6):
    max_norm = check_positive(max_norm, "max_norm")
    eps = check_positive(eps, "eps", allow_zero=True)
    clipped, norm = _handout_clip(_tensors(grads), max_norm, eps)
    return _rebuild(grads, clipped), norm


def clip_threshold(norms, percentile: float = 90.0) -> float:
    norms = _norms(norms)
    percentile = check_positive(percentile, "percentile")
    if percentile > 100:
        raise ValueError(f"percentile must be in (0, 100]; got {percentile}.")
    values = torch.from_numpy(np.asarray(norms, dtype=np.float64))
    return float(torch.quantile(values, percentile / 100.0, interpolation="linear"))
