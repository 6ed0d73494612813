"""Topic 07: optimizers: the update rules of SGD, momentum, Nesterov, Adagrad, AdaDelta,
RMSprop, Adam (and its efficient form), AdamW and Nadam as pure functions.

Every rule comes at two levels:

- ``adam_rule(p, g, s, t, *, lr, ...) -> (new_p, new_s)``: the formula on ONE array ``p``
  with its gradient ``g``, its own slots ``s`` (a dict, empty at the first update) and the
  update count ``t``. Only arithmetic operators appear in a rule, so the same lines run on
  NumPy arrays and on torch tensors (on any device): the NumPy reference and the torch twin
  share the formula and cannot drift apart.
- ``adam(params, grads, state=None, *, lr, ...) -> (new_params, new_state)``: the rule
  applied to every array of a parameter dict (name -> ndarray), and its twin ``adam_torch``
  (name -> tensor). ``state`` is ``None`` before the first update; afterwards it is what the
  previous call returned: ``{"t": t, "m": {name: array}, "v": {name: array}, ...}``, one
  slot per parameter *name* (never shared between parameters). Inputs are never modified:
  every call returns new arrays. The torch twin runs under ``torch.no_grad()``, so its
  results carry no autograd history.

Conventions (one for the whole topic)
-------------------------------------
- ``t`` counts updates from 1: the first call uses ``t = 1``, so Adam's bias corrections
  ``1 - beta**t`` are never 0.
- ε sits OUTSIDE the square root, as in torch.optim: ``g / (sqrt(v_hat) + eps)``
  (Adagrad, RMSprop, Adam, AdamW, Nadam). AdaDelta is the exception, as in Zeiler's paper and
  torch: ``RMS[x] = sqrt(E[x^2] + eps)``, ε inside.
- Momentum is the lecture's form ``v = gamma * v + lr * g; p -= v`` with ``gamma`` in
  [0, 1) (the lecture starts it at 0.5 and raises it to 0.9: :func:`momentum_ramp`).
  torch.optim.SGD keeps ``b = mu * b + g; p -= lr * b``: for a constant ``lr`` the two are
  the same trajectory with ``v = lr * b`` (and stay so when gamma follows a ramp); they part
  when ``lr`` changes (``v`` remembers the old rates, ``b`` does not).
- Nesterov: the lecture writes ``v = gamma * v + lr * grad(p - gamma * v); p -= v``, which
  needs the gradient at the look-ahead point. The rule here keeps the look-ahead point itself
  as the parameter (``p_here = p_lecture - gamma * v``), so the gradient is taken at the
  parameters as usual: ``v = gamma * v + lr * g; p -= gamma * v + lr * g``. This is
  torch's ``nesterov=True`` (``p -= lr * (g + mu * b)``) with ``v = lr * b``.
- Adagrad: torch's ``lr_decay`` (rate ``lr / (1 + (t - 1) * lr_decay)``) and
  ``initial_accumulator_value`` (the sum of squares starts there) are kept; both default 0.
- AdaDelta: Zeiler's rule has no learning rate; torch multiplies the step by ``lr``
  (default 1.0, which is Zeiler's rule) while accumulating the *unscaled* step.
- RMSprop: the running average of g**2 (the second moment) with decay ``decay``; torch
  calls it ``alpha`` (default 0.99; Hinton's slides use 0.9).
- Adam: Kingma & Ba's Algorithm 1. m and v start at 0, so both are biased towards 0:
  ``E[v_t] = E[g^2] (1 - beta2**t)`` for stationary gradients; dividing by ``1 - beta**t``
  removes it. ``weight_decay`` adds ``weight_decay * p`` to the gradient (L2, torch's
  ``Adam(weight_decay=...)``), which the adaptive step then rescales.
- AdamW (Loshchilov & Hutter): the decay is decoupled, ``p *= 1 - lr * weight_decay``
  before the Adam step, and never enters m or v. torch multiplies the decay by ``lr``; the
  paper writes ``eta_t * lambda`` with a schedule multiplier ``eta_t``: with a constant
  rate, the paper's lambda is ``lr * weight_decay``.
- Nadam: torch.optim.NAdam's form (Dozat's Nesterov-momentum Adam with his momentum
  schedule ``mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))``, default
  ``momentum_decay = 4e-3``, i.e. 0.96 every 250 updates); m is an EMA with the constant
  ``beta1``, and the step mixes the current gradient and m with ``mu_t`` and ``mu_{t+1}``.

Defaults are torch.optim's, so ``adam(params, grads, state)`` and ``torch.optim.Adam``
with no arguments take the same steps.
"""

from __future__ import annotations

import inspect
import numbers
from contextlib import nullcontext

import numpy as np
import torch

from tnn._validate import (
    as_float_array,
    as_float_tensor,
    check_param_dicts,
    check_positive,
    check_positive_int,
    check_real,
)

__all__ = [
    "sgd_rule", "momentum_rule", "nesterov_rule", "adagrad_rule", "adadelta_rule",
    "rmsprop_rule", "adam_rule", "adam_efficient_rule", "adamw_rule", "nadam_rule",
    "sgd", "sgd_torch", "momentum", "momentum_torch", "nesterov", "nesterov_torch",
    "adagrad", "adagrad_torch", "adadelta", "adadelta_torch", "rmsprop", "rmsprop_torch",
    "adam", "adam_torch", "adam_efficient", "adam_efficient_torch", "adamw", "adamw_torch",
    "nadam", "nadam_torch", "RULES", "momentum_ramp", "adam_equivalent_eps",
    "bias_correction_factor", "check_hyper",
]


# ------------------------------------------------------------------------------------------
# the rules, one array at a time: p, g of any shape; s = this array's slots ({} at t = 1)
# ------------------------------------------------------------------------------------------
def sgd_rule(p, g, s, t, *, lr=1e-3):
    """Plain gradient descent: ``p - lr * g``. No state."""
    return p - lr * g, {}


def momentum_rule(p, g, s, t, *, lr=1e-3, gamma=0.9):
    """Momentum (the lecture's form): ``v = gamma * v + lr * g; p -= v``.

    ``v`` is the velocity, 0 before the first update. torch.optim.SGD(momentum=gamma) keeps
    ``b = v / lr`` instead (equal trajectories for a constant ``lr``).
    """
    v = gamma * s.get("v", 0.0) + lr * g  # 1. velocity: decayed old one plus this step
    return p - v, {"v": v}  # 2. move by the velocity


def nesterov_rule(p, g, s, t, *, lr=1e-3, gamma=0.9):
    """Nesterov momentum with ``p`` the look-ahead point (see the module's conventions).

    ``v = gamma * v + lr * g; p -= gamma * v + lr * g``: the new velocity applied once more
    on top of the plain gradient step, i.e. the next look-ahead point. torch's
    ``SGD(momentum=gamma, nesterov=True)`` with ``v = lr * b``.
    """
    v = gamma * s.get("v", 0.0) + lr * g
    return p - (gamma * v + lr * g), {"v": v}


def adagrad_rule(p, g, s, t, *, lr=1e-2, eps=1e-10, lr_decay=0.0,
                 initial_accumulator_value=0.0):
    """Adagrad: ``sum += g**2; p -= lr_t * g / (sqrt(sum) + eps)``.

    Each entry's effective rate ``lr_t / (sqrt(sum) + eps)`` can only shrink, since ``sum``
    only grows. ``lr_t = lr / (1 + (t - 1) * lr_decay)`` (torch's extra decay, default off).
    """
    total = s.get("sum", initial_accumulator_value) + g * g  # 1. sum of squared gradients
    rate = lr / (1 + (t - 1) * lr_decay)
    return p - rate * g / (total ** 0.5 + eps), {"sum": total}  # 2. per-entry rate


def adadelta_rule(p, g, s, t, *, lr=1.0, rho=0.9, eps=1e-6):
    """AdaDelta (Zeiler): ``dx = RMS[dx]_{t-1} / RMS[g]_t * g``, ``RMS[x] = sqrt(E[x^2] + eps)``.

    ``E[g^2] = rho E[g^2] + (1 - rho) g^2``; ``E[dx^2] = rho E[dx^2] + (1 - rho) dx^2``;
    ``p -= lr * dx`` (torch's ``lr``; 1.0 is Zeiler's rule, which has no global rate: the
    ratio of RMS's carries the units of ``p``).
    """
    square_avg = rho * s.get("square_avg", 0.0) + (1 - rho) * g * g  # 1. E[g^2]_t
    delta = (s.get("acc_delta", 0.0) + eps) ** 0.5 / (square_avg + eps) ** 0.5 * g  # 2. dx
    acc_delta = rho * s.get("acc_delta", 0.0) + (1 - rho) * delta * delta  # 3. E[dx^2]_t
    return p - lr * delta, {"square_avg": square_avg, "acc_delta": acc_delta}


def rmsprop_rule(p, g, s, t, *, lr=1e-2, decay=0.99, eps=1e-8):
    """RMSprop: ``E[g^2] = decay E[g^2] + (1 - decay) g^2; p -= lr g / (sqrt(E[g^2]) + eps)``.

    The divisor is the running RMS of the gradient (its second moment), not its mean.
    torch's ``alpha`` is ``decay``.
    """
    square_avg = decay * s.get("square_avg", 0.0) + (1 - decay) * g * g
    return p - lr * g / (square_avg ** 0.5 + eps), {"square_avg": square_avg}


def adam_rule(p, g, s, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Adam (Kingma & Ba, Algorithm 1) with bias correction.

    ``m = beta1 m + (1 - beta1) g``; ``v = beta2 v + (1 - beta2) g^2``;
    ``m_hat = m / (1 - beta1**t)``; ``v_hat = v / (1 - beta2**t)``;
    ``p -= lr * m_hat / (sqrt(v_hat) + eps)``. ``weight_decay`` > 0 is L2 in the gradient.
    """
    if weight_decay:
        g = g + weight_decay * p  # 0. coupled L2: rescaled by the adaptive step below
    m = beta1 * s.get("m", 0.0) + (1 - beta1) * g  # 1. first moment (EMA of g)
    v = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g  # 2. second raw moment (EMA of g^2)
    m_hat = m / (1 - beta1 ** t)  # 3. both start at 0: undo the bias towards 0
    v_hat = v / (1 - beta2 ** t)
    return p - lr * m_hat / (v_hat ** 0.5 + eps), {"m": m, "v": v}  # 4. eps outside sqrt


def adam_efficient_rule(p, g, s, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps_hat=1e-8):
    """Adam's efficient form (Kingma & Ba, end of section 2): the bias corrections folded
    into one scalar rate ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``;
    ``p -= lr_t * m / (sqrt(v) + eps_hat)``.

    The same step as :func:`adam_rule` with ``eps = eps_hat / sqrt(1 - beta2**t)``
    (:func:`adam_equivalent_eps`): the two forms differ only in where ε sits.
    """
    m = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    v = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    lr_t = lr * (1 - beta2 ** t) ** 0.5 / (1 - beta1 ** t)  # a scalar: no m_hat, v_hat arrays
    return p - lr_t * m / (v ** 0.5 + eps_hat), {"m": m, "v": v}


def adamw_rule(p, g, s, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    """AdamW (Loshchilov & Hutter): decoupled weight decay ``p *= 1 - lr * weight_decay``,
    then the Adam step on the data gradient alone (the decay never enters m or v)."""
    p = p * (1 - lr * weight_decay)  # 1. shrink the weights, outside the adaptive step
    return adam_rule(p, g, s, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps)  # 2. plain Adam


def nadam_rule(p, g, s, t, *, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
               momentum_decay=4e-3):
    """Nadam as torch.optim.NAdam: Adam whose momentum step looks ahead (Dozat).

    ``mu_t = beta1 (1 - 0.5 * 0.96**(t * momentum_decay))``, ``prod_t = mu_1 ... mu_t``;
    ``p -= lr * [(1 - mu_t) / (1 - prod_t) * g + mu_{t+1} / (1 - prod_{t+1}) * m]
    / (sqrt(v_hat) + eps)``: the current gradient plus the NEXT step's momentum term.
    """
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))  # 1. momentum schedule mu_t
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = s.get("mu_product", 1.0) * mu  # a float: prod_{i<=t} mu_i
    m = beta1 * s.get("m", 0.0) + (1 - beta1) * g  # 2. the moments, as in Adam
    v = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    denom = (v / (1 - beta2 ** t)) ** 0.5 + eps
    step = (lr * (1 - mu) / (1 - mu_product)) * g + (lr * mu_next / (1 - mu_product * mu_next)) * m
    return p - step / denom, {"m": m, "v": v, "mu_product": mu_product}  # 3. look-ahead step


# ------------------------------------------------------------------------------------------
# helpers: the lecture's momentum ramp, Adam's eps placement and bias-correction factor
# ------------------------------------------------------------------------------------------
def momentum_ramp(step, start: float = 0.5, end: float = 0.9, ramp_steps: int = 1000) -> float:
    """The lecture's momentum schedule: ``start`` at update 1, rising linearly to ``end``
    over ``ramp_steps`` updates, then constant. ``step`` counts from 1."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
        raise ValueError(f"step must be an int >= 1 (updates count from 1); got {step!r}.")
    start, end = _unit(start, "start"), _unit(end, "end")
    ramp_steps = check_positive_int(ramp_steps, "ramp_steps")
    return float(start + (end - start) * min(1.0, (step - 1) / ramp_steps))


def adam_equivalent_eps(eps_hat: float, beta2: float, t: int) -> float:
    """The ε of :func:`adam_rule` that gives the same update ``t`` as
    :func:`adam_efficient_rule` with ``eps_hat``: ``eps_hat / sqrt(1 - beta2**t)``."""
    return check_positive(eps_hat, "eps_hat", allow_zero=True) / (1 - beta2 ** t) ** 0.5


def bias_correction_factor(t, beta1: float = 0.9, beta2: float = 0.999):
    """How much larger Adam's step is WITHOUT bias correction, for a constant gradient:
    ``(1 - beta1**t) / sqrt(1 - beta2**t)`` (``sqrt(10) = 3.162...`` at t = 1 for the
    defaults). ``t`` an int or an array of ints >= 1."""
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < 1):
        raise ValueError("t must be >= 1 (updates count from 1).")
    return (1 - beta1 ** t) / np.sqrt(1 - beta2 ** t)


# ------------------------------------------------------------------------------------------
# the dict-level functions and their torch twins
# ------------------------------------------------------------------------------------------
_UNIT_INTERVAL = {"gamma", "rho", "decay", "beta1", "beta2"}  # coefficients in [0, 1)


def _unit(value, name: str) -> float:
    value = check_real(value, name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (a decay rate close to 1 keeps a long "
                         f"memory; 1 never forgets); got {value}.")
    return value


def check_hyper(rule, hyper: dict) -> dict:
    """Known names only, each in its range: lr > 0, decay rates in [0, 1), the rest >= 0."""
    allowed = [k for k, v in inspect.signature(rule).parameters.items()
               if v.kind is inspect.Parameter.KEYWORD_ONLY]
    for name in hyper:
        if name not in allowed:
            raise TypeError(f"{rule.__name__.removesuffix('_rule')}() got an unknown "
                            f"hyperparameter {name!r}; it takes {', '.join(allowed)}.")
    out = {}
    for name, value in hyper.items():
        if name == "lr":
            out[name] = check_positive(value, name)
        elif name in _UNIT_INTERVAL:
            out[name] = _unit(value, name)
        else:
            out[name] = check_positive(value, name, allow_zero=True)
    return out


def _convert(params, grads, backend: str):
    check_param_dicts(params, grads)
    P, G = {}, {}
    for name, p in params.items():
        if backend == "numpy":
            P[name] = as_float_array(p, f"params[{name!r}]")
            G[name] = as_float_array(grads[name], f"grads[{name!r}]").astype(P[name].dtype,
                                                                             copy=False)
        else:
            P[name] = as_float_tensor(p, f"params[{name!r}]")
            G[name] = as_float_tensor(grads[name], f"grads[{name!r}]", like=P[name])
        if tuple(G[name].shape) != tuple(P[name].shape):
            raise ValueError(f"grads[{name!r}] must have the shape of params[{name!r}], "
                             f"{tuple(P[name].shape)}; got {tuple(G[name].shape)}.")
    return P, G


def _read_state(state, names) -> tuple[int, dict]:
    """``(t, {name: slots})`` from a state returned by the previous call (or None)."""
    if state is None or state == {}:
        return 0, {name: {} for name in names}
    t = state.get("t") if isinstance(state, dict) else None
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise TypeError("state must be None (before the first update) or the dict the "
                        f"previous call returned, with an int 't' >= 0; got {state!r:.80}.")
    slots = {name: {} for name in names}
    for key, per_name in state.items():
        if key == "t":
            continue
        if not isinstance(per_name, dict) or set(per_name) != set(names):
            got = sorted(per_name) if isinstance(per_name, dict) else repr(per_name)[:40]
            raise ValueError(f"state[{key!r}] must hold one entry per parameter "
                             f"{sorted(names)}; got {got}. Pass the state returned for these "
                             "same parameters.")
        for name in names:
            slots[name][key] = per_name[name]
    return int(t), slots


def _apply(rule, params, grads, state, hyper, backend):
    hyper = check_hyper(rule, hyper)
    P, G = _convert(params, grads, backend)
    t_before, slots = _read_state(state, list(P))
    t = t_before + 1
    new_params, new_state = {}, {"t": t}
    with torch.no_grad() if backend == "torch" else nullcontext():
        for name, p in P.items():
            new_params[name], new_slots = rule(p, G[name], slots[name], t, **hyper)
            if t_before > 0 and set(new_slots) != set(slots[name]):
                raise ValueError(f"state holds {sorted(slots[name])}, but "
                                 f"{rule.__name__.removesuffix('_rule')} keeps "
                                 f"{sorted(new_slots)}: pass the state this rule returned.")
            for key, value in new_slots.items():
                new_state.setdefault(key, {})[name] = value
    return new_params, new_state


def _pair(rule):
    """The dict-level NumPy function of ``rule`` and its torch twin, with the rule's
    hyperparameters (and torch.optim's defaults) in their signatures."""
    name = rule.__name__.removesuffix("_rule")

    def numpy_fn(params, grads, state=None, **hyper):
        return _apply(rule, params, grads, state, hyper, "numpy")

    def torch_fn(params, grads, state=None, **hyper):
        return _apply(rule, params, grads, state, hyper, "torch")

    head = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              default=None if n == "state" else inspect.Parameter.empty)
            for n in ("params", "grads", "state")]
    tail = [v for v in inspect.signature(rule).parameters.values()
            if v.kind is inspect.Parameter.KEYWORD_ONLY]
    def doc(kind: str, arr: str) -> str:
        return (f"{kind}: one update of every array in ``params`` with :func:`{rule.__name__}`."
                f"\n\n{inspect.getdoc(rule)}\n\nParameters\n----------\n"
                f"params, grads : dict of str -> {arr} of any shapes\n"
                "    The parameters and their gradients, same names and shapes.\n"
                "state : dict or None\n    None before the first update, then the state the "
                "previous call returned.\n\nReturns\n-------\n"
                f"new_params : dict of str -> {arr}, new arrays, same shapes and dtypes\n"
                f"new_state : dict, ``{{'t': t, slot: {{name: {arr}}}, ...}}``\n")

    for fn, suffix, kind, arr in ((numpy_fn, "", f"{name} (NumPy reference)", "ndarray"),
                                  (torch_fn, "_torch", f"Torch twin of :func:`{name}`",
                                   "torch.Tensor")):
        fn.__name__ = fn.__qualname__ = name + suffix
        fn.__doc__ = doc(kind, arr)
        fn.__signature__ = inspect.Signature(head + tail)
        fn.__module__ = __name__
    return numpy_fn, torch_fn


sgd, sgd_torch = _pair(sgd_rule)
momentum, momentum_torch = _pair(momentum_rule)
nesterov, nesterov_torch = _pair(nesterov_rule)
adagrad, adagrad_torch = _pair(adagrad_rule)
adadelta, adadelta_torch = _pair(adadelta_rule)
rmsprop, rmsprop_torch = _pair(rmsprop_rule)
adam, adam_torch = _pair(adam_rule)
adam_efficient, adam_efficient_torch = _pair(adam_efficient_rule)
adamw, adamw_torch = _pair(adamw_rule)
nadam, nadam_torch = _pair(nadam_rule)

#: name -> (NumPy function, torch twin), in the lecture's order.
RULES = {
    "sgd": (sgd, sgd_torch), "momentum": (momentum, momentum_torch),
    "nesterov": (nesterov, nesterov_torch), "adagrad": (adagrad, adagrad_torch),
    "adadelta": (adadelta, adadelta_torch), "rmsprop": (rmsprop, rmsprop_torch),
    "adam": (adam, adam_torch), "adam_efficient": (adam_efficient, adam_efficient_torch),
    "adamw": (adamw, adamw_torch), "nadam": (nadam, nadam_torch),
}



def __getattr__(name: str):
    """The experiments (:mod:`tnn.optim_experiments`) under the topic's one name, loaded on
    first use: that module imports this one, so a re-export at import time would be a cycle."""
    if name.startswith("__"):  # the import system asks for __path__ and the like
        raise AttributeError(name)
    from tnn import optim_experiments

    if name in optim_experiments.__all__:
        return getattr(optim_experiments, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    from tnn import optim_experiments

    return sorted(set(globals()) | set(optim_experiments.__all__))
