"""Topic 08: learning-rate schedules, warmup and gradient clipping.

Schedules are pure functions ``lr(step) -> float`` of the update's index: ``step = 0`` is the
first call of ``optimizer.step()``, and the value is the learning rate that update uses. Each
one is checked against ``torch.optim.lr_scheduler`` on a real optimizer (tests/), and
:func:`torch_scheduler` builds the equivalent torch scheduler.

Conventions
-----------
- Decay over ``decay_steps``: the floor ``final_lr`` is reached at ``step = decay_steps`` and
  kept after it (torch's ``LinearLR(total_iters=decay_steps)`` and
  ``CosineAnnealingLR(T_max=decay_steps)`` do the same). A run of ``decay_steps`` updates
  therefore ends one step short of the floor.
- Warmup is linear over ``warmup_steps`` updates: ``lr(t) = base_lr * (t + 1) / warmup_steps``
  for ``t < warmup_steps``. The ramp starts from 0 (its value at ``t = -1``); step 0 already
  uses ``base_lr / warmup_steps`` (a step at lr 0 would be a wasted update) and the last
  warmup step uses ``base_lr``. torch's ``LinearLR`` cannot start at 0 anyway
  (``start_factor`` must be > 0): ``LinearLR(start_factor=1 / warmup_steps, end_factor=1,
  total_iters=warmup_steps - 1)`` is exactly this ramp.
- Warmup is prepended, never squeezed in (the tuning playbook): a 10,000-step decay schedule
  with 1,000 warmup steps runs for 11,000 steps, and the decay schedule sees its own step
  ``t - warmup_steps``.

Gradient clipping by the global L2 norm: with ``‖g‖`` the norm of all gradients together,
``g <- g * min(1, max_norm / (‖g‖ + eps))``. With ``eps = 0`` that is the textbook rule
"if ‖g‖ > λ then g <- λ g / ‖g‖"; the default ``eps = 1e-6`` is the one of
``torch.nn.utils.clip_grad_norm_``, so the clipped gradients equal torch's.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from tnn._validate import _describe, as_float_array, check_choice, check_int, check_positive

__all__ = [
    "constant_lr",
    "step_decay_lr",
    "linear_decay_lr",
    "cosine_decay_lr",
    "linear_warmup_lr",
    "warmup_protocol_lr",
    "with_warmup",
    "warmup_cosine_lr",
    "warmup_budget",
    "Schedule",
    "schedule_values",
    "torch_scheduler",
    "lambda_scheduler",
    "global_grad_norm",
    "clip_by_global_norm",
    "global_grad_norm_torch",
    "clip_by_global_norm_torch",
    "clip_grad_norm_torch",
    "clip_threshold",
    "ClipReport",
    "clipping_report",
]

KINDS = ("constant", "step", "linear", "cosine")


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def _step(step) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(
            f"step must be an int >= 0 (the index of the update, 0 for the first); got "
            f"{_describe(step)}. For a whole schedule use schedule_values(schedule, n_steps)."
        )
    return int(step)


def _lr(value, name: str = "base_lr", allow_zero: bool = False) -> float:
    return check_positive(value, name, allow_zero=allow_zero)


def _floor(final_lr, base_lr: float) -> float:
    final_lr = check_positive(final_lr, "final_lr", allow_zero=True)
    if final_lr > base_lr:
        raise ValueError(f"final_lr must be <= base_lr (a decay ends lower than it starts); got "
                         f"final_lr={final_lr} and base_lr={base_lr}.")
    return final_lr


# --------------------------------------------------------------------------------------------
# schedules: lr(step) for step = 0, 1, 2, ...
# --------------------------------------------------------------------------------------------
def constant_lr(step: int, base_lr: float) -> float:
    """``base_lr`` at every step: the playbook's starting point before any decay."""
    _step(step)
    return _lr(base_lr)


def step_decay_lr(step: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """``base_lr * gamma ** (step // step_size)``: multiply by ``gamma`` every ``step_size``
    steps (torch's ``StepLR``)."""
    step = _step(step)
    step_size = check_int(step_size, "step_size")
    gamma = check_positive(gamma, "gamma")
    if gamma > 1:
        raise ValueError(f"gamma must be in (0, 1] (a decay factor); got {gamma}.")
    return _lr(base_lr) * gamma ** (step // step_size)


def linear_decay_lr(step: int, base_lr: float, decay_steps: int, final_lr: float = 0.0) -> float:
    """From ``base_lr`` at step 0 in a straight line to ``final_lr`` at ``decay_steps``, then
    ``final_lr`` (torch's ``LinearLR(start_factor=1, end_factor=final_lr / base_lr)``)."""
    step, base_lr = _step(step), _lr(base_lr)
    decay_steps = check_int(decay_steps, "decay_steps")
    final_lr = _floor(final_lr, base_lr)
    frac = min(step, decay_steps) / decay_steps  # 1. how far through the decay, in [0, 1]
    return base_lr + (final_lr - base_lr) * frac  # 2. straight line from base to floor


def cosine_decay_lr(step: int, base_lr: float, decay_steps: int, final_lr: float = 0.0) -> float:
    """Half a cosine from ``base_lr`` at step 0 down to the floor ``final_lr`` at
    ``decay_steps``, then ``final_lr`` (torch's ``CosineAnnealingLR(T_max=decay_steps,
    eta_min=final_lr)`` over its first ``decay_steps`` steps; torch's would rise again)."""
    step, base_lr = _step(step), _lr(base_lr)
    decay_steps = check_int(decay_steps, "decay_steps")
    final_lr = _floor(final_lr, base_lr)
    frac = min(step, decay_steps) / decay_steps  # 1. progress in [0, 1]
    coeff = 0.5 * (1.0 + math.cos(math.pi * frac))  # 2. from 1 down to 0
    return final_lr + coeff * (base_lr - final_lr)  # 3. between the floor and base_lr


def linear_warmup_lr(step: int, base_lr: float, warmup_steps: int) -> float:
    """``base_lr * (step + 1) / warmup_steps`` during warmup, ``base_lr`` after it.

    Step 0 uses ``base_lr / warmup_steps`` and step ``warmup_steps - 1`` uses ``base_lr``
    (see the module's conventions: the ramp's 0 lies at step -1).
    """
    step, base_lr = _step(step), _lr(base_lr)
    warmup_steps = check_int(warmup_steps, "warmup_steps")
    return base_lr * min(step + 1, warmup_steps) / warmup_steps


def warmup_protocol_lr(step: int, base_lr: float, warmup_steps: int,
                       post_warmup_steps: int | None = None) -> float:
    """The playbook's warmup experiment: ramp 0 -> ``base_lr`` over ``warmup_steps``, then
    ``base_lr`` for ``post_warmup_steps`` (default ``2 * warmup_steps``).

    The run has ``warmup_steps + post_warmup_steps`` updates; a step past its end is an
    error (the protocol says nothing about what follows).
    """
    step = _step(step)
    warmup_steps = check_int(warmup_steps, "warmup_steps")
    post = 2 * warmup_steps if post_warmup_steps is None else check_int(
        post_warmup_steps, "post_warmup_steps", minimum=0)
    if step >= warmup_steps + post:
        raise ValueError(f"step {step} is past the end of the warmup run ({warmup_steps} warmup "
                         f"+ {post} post-warmup steps = {warmup_steps + post} updates, steps "
                         f"0..{warmup_steps + post - 1}).")
    return linear_warmup_lr(step, base_lr, warmup_steps)


def with_warmup(step: int, schedule: Callable[[int], float], warmup_steps: int) -> float:
    """Prepend a linear warmup to ``schedule`` (a function ``lr(step)``).

    Steps ``0 .. warmup_steps - 1`` ramp up to ``schedule(0)``; step ``t >= warmup_steps``
    uses ``schedule(t - warmup_steps)``, so the schedule keeps its own length and the run
    grows by ``warmup_steps`` (10,000 decay steps + 1,000 warmup = 11,000 steps).
    ``warmup_steps = 0`` returns ``schedule(step)`` unchanged.
    """
    step = _step(step)
    if not callable(schedule):
        raise TypeError(f"schedule must be a function lr(step); got {_describe(schedule)}. "
                        f"Wrap a schedule with functools.partial, e.g. "
                        f"partial(cosine_decay_lr, base_lr=0.1, decay_steps=1000).")
    warmup_steps = check_int(warmup_steps, "warmup_steps", minimum=0)
    if step >= warmup_steps:
        return float(schedule(step - warmup_steps))
    return linear_warmup_lr(step, float(schedule(0)), warmup_steps)


def warmup_cosine_lr(step: int, base_lr: float, warmup_steps: int, decay_steps: int,
                     final_lr: float = 0.0) -> float:
    """Linear warmup to ``base_lr`` over ``warmup_steps``, then :func:`cosine_decay_lr` over
    ``decay_steps`` (prepended: the run has ``warmup_steps + decay_steps`` updates).

    The usual modern default, written out as plain numbers (no function argument), so that
    the torch equivalent is ``SequentialLR([LinearLR(1 / W, 1, W - 1),
    CosineAnnealingLR(decay_steps, final_lr)], milestones=[W])``.
    """
    step, base_lr = _step(step), _lr(base_lr)
    warmup_steps = check_int(warmup_steps, "warmup_steps", minimum=0)
    check_int(decay_steps, "decay_steps")
    _floor(final_lr, base_lr)
    if step < warmup_steps:  # 1. the ramp: (t + 1) / W of the peak
        return base_lr * (step + 1) / warmup_steps
    # 2. then the cosine decay at its own step, shifted by the warmup
    return cosine_decay_lr(step - warmup_steps, base_lr, decay_steps, final_lr)


def warmup_budget(warmup_steps: int, max_train_steps: int) -> dict:
    """The playbook's rules of thumb for a warmup prepended to a run of ``max_train_steps``.

    Returns
    -------
    budget : dict
        ``total_steps`` (warmup + the original run: 1,000 + 10,000 = 11,000), ``fraction``
        (warmup_steps / max_train_steps), ``sweepable`` (at most 10 %: the largest warmup
        worth trying in a sweep) and ``add_steps`` (more than 5 %: the run may need more
        steps).
    """
    warmup_steps = check_int(warmup_steps, "warmup_steps", minimum=0)
    max_train_steps = check_int(max_train_steps, "max_train_steps")
    fraction = warmup_steps / max_train_steps
    return {"total_steps": warmup_steps + max_train_steps, "fraction": fraction,
            "sweepable": fraction <= 0.10, "add_steps": fraction > 0.05}


@dataclass(frozen=True)
class Schedule:
    """A decay schedule with an optional warmup prepended, callable as ``lr(step)``.

    ``total_steps = warmup_steps + decay_steps`` is the length of the run.
    """

    kind: str = "cosine"  # "constant", "step", "linear" or "cosine"
    base_lr: float = 0.1  # the peak: warmup ramps up to it, the decay starts from it
    decay_steps: int = 1000  # length of the decay schedule (of the run for "constant")
    warmup_steps: int = 0  # prepended: the run lasts warmup_steps + decay_steps updates
    final_lr: float = 0.0  # floor of "linear" and "cosine", reached at the last step + 1
    step_size: int = 100  # "step": multiply by gamma every step_size steps
    gamma: float = 0.1  # "step": the factor

    def __post_init__(self):
        check_choice(self.kind, "kind", KINDS)
        _floor(self.final_lr, _lr(self.base_lr))
        check_int(self.decay_steps, "decay_steps")
        check_int(self.warmup_steps, "warmup_steps", minimum=0)
        self.decay(0)  # validates step_size and gamma for "step"

    @property
    def total_steps(self) -> int:
        return self.warmup_steps + self.decay_steps

    def decay(self, step: int) -> float:
        """The decay schedule alone, at its own step."""
        if self.kind == "constant":
            return constant_lr(step, self.base_lr)
        if self.kind == "step":
            return step_decay_lr(step, self.base_lr, self.step_size, self.gamma)
        fn = linear_decay_lr if self.kind == "linear" else cosine_decay_lr
        return fn(step, self.base_lr, self.decay_steps, self.final_lr)

    def __call__(self, step: int) -> float:
        return with_warmup(step, self.decay, self.warmup_steps)


def schedule_values(schedule: Callable[[int], float], n_steps: int) -> np.ndarray:
    """``[schedule(0), ..., schedule(n_steps - 1)]``: array of shape (n_steps,), float64."""
    n_steps = check_int(n_steps, "n_steps")
    if not callable(schedule):
        raise TypeError(f"schedule must be a function lr(step); got {_describe(schedule)}.")
    return np.array([schedule(t) for t in range(n_steps)], dtype=np.float64)


# --------------------------------------------------------------------------------------------
# the torch twins: the same schedules as torch.optim.lr_scheduler objects
# --------------------------------------------------------------------------------------------
def _check_optimizer(optimizer, base_lr: float) -> None:
    import torch

    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {_describe(optimizer)}.")
    lrs = [g.get("initial_lr", g["lr"]) for g in optimizer.param_groups]
    if any(abs(lr - base_lr) > 1e-12 * base_lr for lr in lrs):
        raise ValueError(f"the optimizer's lr must equal the schedule's base_lr ({base_lr}); "
                         f"got {lrs}. Create it with lr=schedule.base_lr.")


def torch_scheduler(optimizer, schedule: Schedule):
    """The ``torch.optim.lr_scheduler`` equivalent of ``schedule``, built from torch's own
    classes (``StepLR``, ``LinearLR``, ``CosineAnnealingLR``, ``SequentialLR``).

    Call ``scheduler.step()`` after every ``optimizer.step()``; update ``t`` then uses
    ``schedule(t)``. The optimizer's lr must be ``schedule.base_lr``.
    """
    from torch.optim import lr_scheduler as L

    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Schedule; got {_describe(schedule)}. For any other "
                        f"function lr(step) use lambda_scheduler(optimizer, fn, base_lr).")
    _check_optimizer(optimizer, schedule.base_lr)
    s = schedule
    if s.kind == "constant":
        decay = L.LambdaLR(optimizer, lambda _: 1.0)
    elif s.kind == "step":
        decay = L.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    elif s.kind == "linear":
        decay = L.LinearLR(optimizer, start_factor=1.0, end_factor=s.final_lr / s.base_lr,
                           total_iters=s.decay_steps)
    else:
        decay = L.CosineAnnealingLR(optimizer, T_max=s.decay_steps, eta_min=s.final_lr)
    if s.warmup_steps == 0:
        return decay
    # start_factor must be > 0: the ramp (t + 1) / W starts at 1 / W and reaches 1 at t = W - 1
    warm = L.LinearLR(optimizer, start_factor=1.0 / s.warmup_steps, end_factor=1.0,
                      total_iters=s.warmup_steps - 1)
    return L.SequentialLR(optimizer, [warm, decay], milestones=[s.warmup_steps])


def lambda_scheduler(optimizer, schedule: Callable[[int], float], base_lr: float):
    """``LambdaLR`` running any ``lr(step)`` function (e.g. :func:`warmup_protocol_lr`).

    ``LambdaLR`` multiplies the optimizer's initial lr by ``fn(step)``, so the function is
    divided by ``base_lr``, which must be the optimizer's lr.
    """
    from torch.optim import lr_scheduler as L

    base_lr = _lr(base_lr)
    if not callable(schedule):
        raise TypeError(f"schedule must be a function lr(step); got {_describe(schedule)}.")
    _check_optimizer(optimizer, base_lr)
    return L.LambdaLR(optimizer, lambda t: schedule(t) / base_lr)


# --------------------------------------------------------------------------------------------
# gradient clipping by the global L2 norm
# --------------------------------------------------------------------------------------------
def _items(grads, name: str = "grads") -> list:
    if isinstance(grads, Mapping):
        items = list(grads.items())
    elif isinstance(grads, list | tuple):
        items = list(enumerate(grads))
    else:
        raise TypeError(f"{name} must be a dict or a list of arrays (one per parameter); got "
                        f"{_describe(grads)}. Wrap a single array in a list: [g].")
    if not items:
        raise ValueError(f"{name} is empty: pass one gradient array per parameter.")
    return items


def _rebuild(grads, values: list):
    if isinstance(grads, Mapping):
        return dict(zip(grads.keys(), values, strict=True))
    return type(grads)(values) if isinstance(grads, tuple) else list(values)


def _scale(norm: float, max_norm: float, eps: float) -> float:
    return min(1.0, max_norm / (norm + eps))


def global_grad_norm(grads) -> float:
    """``sqrt(sum over every array g of sum(g ** 2))``: the L2 norm of all gradients
    flattened into one vector. ``grads``: dict or list of arrays of any shapes."""
    arrays = [as_float_array(g, f"grads[{k!r}]") for k, g in _items(grads)]
    return float(np.sqrt(sum(np.sum(np.square(a, dtype=np.float64)) for a in arrays)))


def clip_by_global_norm(grads, max_norm: float, eps: float = 1e-6):
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    Parameters
    ----------
    grads : dict or list of ndarray (any shapes)
    max_norm : float > 0
        The threshold λ.
    eps : float >= 0, default 1e-6
        The scale is ``min(1, max_norm / (norm + eps))``: torch's rule; ``eps = 0`` is the
        textbook one (the clipped norm is then exactly ``max_norm``).

    Returns
    -------
    clipped : the same container type, new arrays of the same shapes and dtypes
    norm : float, the global norm BEFORE clipping (what to log and histogram)
    """
    max_norm = check_positive(max_norm, "max_norm")
    eps = check_positive(eps, "eps", allow_zero=True)
    norm = global_grad_norm(grads)
    scale = _scale(norm, max_norm, eps)
    arrays = [as_float_array(g, f"grads[{k!r}]") for k, g in _items(grads)]
    return _rebuild(grads, [(a * scale).astype(a.dtype) for a in arrays]), norm


def _tensors(grads, name="grads") -> list:
    import torch

    items = _items(grads, name)
    for k, g in items:
        if not isinstance(g, torch.Tensor) or not g.is_floating_point():
            raise TypeError(f"{name}[{k!r}] must be a floating torch.Tensor; got {_describe(g)}. "
                            f"Use clip_by_global_norm for NumPy arrays.")
    return [g for _, g in items]


def global_grad_norm_torch(grads):
    """Torch twin of :func:`global_grad_norm`: a 0-d tensor on the gradients' device."""
    import torch

    tensors = _tensors(grads)
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in tensors]))


def clip_by_global_norm_torch(grads, max_norm: float, eps: float = 1e-6):
    """Torch twin of :func:`clip_by_global_norm`: new tensors (inputs untouched) and the
    unclipped norm as a 0-d tensor."""
    max_norm = check_positive(max_norm, "max_norm")
    eps = check_positive(eps, "eps", allow_zero=True)
    norm = global_grad_norm_torch(grads)
    scale = (max_norm / (norm + eps)).clamp(max=1.0)  # 0-d, stays on the device
    return _rebuild(grads, [g * scale.to(g.dtype) for g in _tensors(grads)]), norm


def clip_grad_norm_torch(parameters, max_norm: float, eps: float = 1e-6):
    """Clip the ``.grad`` of ``parameters`` (a model or an iterable of parameters) in place,
    like ``torch.nn.utils.clip_grad_norm_``; return the unclipped global norm (0-d tensor).

    Parameters without a gradient are skipped; ``max_norm = inf`` only measures the norm.
    """
    import torch

    if isinstance(parameters, torch.nn.Module):
        parameters = parameters.parameters()
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        raise ValueError("no parameter has a gradient: call loss.backward() before clipping.")
    if max_norm == math.inf:
        return global_grad_norm_torch(grads)
    clipped, norm = clip_by_global_norm_torch(grads, max_norm, eps)
    with torch.no_grad():
        for g, c in zip(grads, clipped, strict=True):
            g.copy_(c)
    return norm


# --------------------------------------------------------------------------------------------
# choosing the threshold from logged norms
# --------------------------------------------------------------------------------------------
AGGRESSIVE = 0.5  # more than half the updates clipped: "extremely aggressive" (the playbook)
OUTLIERS = 0.2  # up to this fraction clipped: only the outliers (p90 clips 10 %)


def clip_threshold(norms, percentile: float = 90.0) -> float:
    """λ at the ``percentile``-th percentile of logged unclipped norms (the playbook's 90th).

    ``norms`` : array-like of shape (n_steps,), finite and >= 0 (cut a diverged run first).
    """
    norms = _norms(norms)
    percentile = check_positive(percentile, "percentile")
    if percentile > 100:
        raise ValueError(f"percentile must be in (0, 100]; got {percentile}.")
    return float(np.percentile(norms, percentile))


def _norms(norms) -> np.ndarray:
    norms = as_float_array(norms, "norms")
    if norms.ndim != 1 or norms.size == 0:
        raise ValueError(f"norms must be a non-empty 1-D array (one norm per step); got shape "
                         f"{norms.shape}.")
    if not np.all(np.isfinite(norms)) or np.any(norms < 0):
        raise ValueError("norms must be finite and >= 0; cut the steps after a divergence "
                         "(norms[np.isfinite(norms)]) before choosing a threshold.")
    return norms


@dataclass(frozen=True)
class ClipReport:
    """How often a threshold clips: ``fraction_clipped`` of the steps have ``norm >
    threshold``; ``aggressive`` when that is more than half of them."""

    threshold: float
    fraction_clipped: float
    aggressive: bool
    message: str


def clipping_report(norms, threshold: float) -> ClipReport:
    """The fraction of steps whose unclipped norm exceeds ``threshold``, with the verdict.

    More than 50 % clipped is "extremely aggressive": clipping then shrinks nearly every
    update, which is a roundabout way of lowering the learning rate; lower it instead. Up to
    20 % (the 90th percentile clips 10 %) it clips the outliers only; in between it is heavy,
    still below the playbook's limit.
    """
    norms = _norms(norms)
    threshold = check_positive(threshold, "threshold")
    frac = float(np.mean(norms > threshold))
    aggressive = frac > AGGRESSIVE
    if aggressive:
        verdict = "extremely aggressive: really a smaller learning rate, lower the lr instead"
    elif frac > OUTLIERS:
        verdict = "heavy, though below the playbook's 50 % limit"
    else:
        verdict = "clips the outliers only"
    return ClipReport(threshold, frac, aggressive,
                      f"{100 * frac:.1f}% of {norms.size} updates clipped at {threshold:.4g}: "
                      f"{verdict}")



def __getattr__(name: str):
    """The instability experiments (:mod:`tnn.instability`) under the topic's one name, loaded
    on first use: that module imports this one, so a re-export at import time would be a
    cycle."""
    if name.startswith("__"):  # the import system asks for __path__ and the like
        raise AttributeError(name)
    from tnn import instability

    if name in instability.__all__:
        return getattr(instability, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    from tnn import instability

    return sorted(set(globals()) | set(instability.__all__))
