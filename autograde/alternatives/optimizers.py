"""Assignment 07_optimizers: honest alternatives and classic bugs (see __init__.py)."""

from autograde.alternatives import Bug

ANSWERS = {
    "momentum_rule": '''
import numpy as np


def momentum_rule(p, g, s, t, *, lr=1e-3, gamma=0.9):
    """The velocity starts at 0.0 (a float broadcasts against any shape)."""
    v = np.add(np.multiply(gamma, s.get("v", 0.0)), np.multiply(lr, g))
    return np.subtract(p, v), dict(v=v)
''',
    "nesterov_rule": '''
def nesterov_rule(p, g, s, t, *, lr=1e-3, gamma=0.9):
    """The form of the CS231n notes: p -= (1 + gamma) v_new - gamma v_old."""
    v_old = s["v"] if "v" in s else np.zeros(np.shape(p))
    v_new = gamma * v_old + lr * g
    new_p = p.copy()
    new_p -= (1 + gamma) * v_new - gamma * v_old
    return new_p, {"v": v_new}
''',
    "rmsprop_rule": '''
import sys

import torch


def rmsprop_rule(p, g, s, t, *, lr=1e-2, decay=0.99, eps=1e-8):
    """On tensors, converted back to NumPy."""
    print(f"rmsprop update {t}", file=sys.stderr)
    gt = torch.from_numpy(np.array(g, dtype=np.float64))
    r = (1 - decay) * gt * gt
    if s:
        r = r + decay * torch.from_numpy(np.asarray(s["square_avg"], dtype=np.float64))
    step = lr * gt / (torch.sqrt(r) + eps)
    return p - step.numpy(), {"square_avg": r.numpy()}
''',
    "adam_rule": '''
import logging


def adam_rule(p, g, s, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """Moments initialised explicitly; bias corrections as scalars."""
    logging.getLogger(__name__).info("adam update %d", t)
    g = g + weight_decay * p
    m0 = s.get("m", np.zeros_like(p))
    v0 = s.get("v", np.zeros_like(p))
    m = m0 + (1 - beta1) * (g - m0)
    v = v0 + (1 - beta2) * (g * g - v0)
    c1 = 1.0 - np.power(beta1, t)
    c2 = 1.0 - np.power(beta2, t)
    denominator = np.sqrt(v / c2) + eps
    return p - lr * (m / c1) / denominator, {"v": v, "m": m}
''',
    "adamw_rule": '''
def adamw_rule(p, g, s, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    """Written out in full, without adam_rule."""
    m = beta1 * s.get("m", 0) + (1 - beta1) * g
    v = beta2 * s.get("v", 0) + (1 - beta2) * g**2
    adam_step = lr * (m / (1 - beta1**t)) / ((v / (1 - beta2**t)) ** 0.5 + eps)
    return p - lr * weight_decay * p - adam_step, {"m": m, "v": v}
''',
    "adam_step": '''
import copy

from tqdm.auto import tqdm


def adam_step(params, grads, state=None, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """The state as the course library lays it out: {"t": t, "m": {...}, "v": {...}}."""
    state = copy.deepcopy(state) if state is not None else {"t": 0, "m": {}, "v": {}}
    state["t"] += 1
    out = {}
    for name in tqdm(sorted(params), desc="adam", leave=False):
        slots = {k: state[k][name] for k in ("m", "v") if name in state[k]}
        out[name], new = adam_rule(params[name], grads[name], slots, state["t"], lr=lr,
                                   beta1=beta1, beta2=beta2, eps=eps)
        state["m"][name], state["v"][name] = new["m"], new["v"]
    return out, state
''',
}

BUGS = {
    # the caller's parameter array updated in place
    "momentum_in_place": Bug("07_optimizers", "momentum_rule", '''
def momentum_rule(p, g, s, t, *, lr=1e-3, gamma=0.9):
    v = gamma * s.get("v", 0.0) + lr * g
    p -= v
    return p, {"v": v}
''', {"test_momentum_rule", "test_momentum_rule_hidden"}, ("in place",)),
    # Nesterov written as plain momentum: the look-ahead term missing
    "nesterov_without_look_ahead": Bug("07_optimizers", "nesterov_rule", '''
def nesterov_rule(p, g, s, t, *, lr=1e-3, gamma=0.9):
    v = gamma * s.get("v", 0.0) + lr * g
    return p - v, {"v": v}
''', {"test_nesterov_rule", "test_nesterov_rule_hidden"}, ("is wrong at",)),
    # RMSprop dividing by the mean square itself, its square root forgotten
    "rmsprop_without_sqrt": Bug("07_optimizers", "rmsprop_rule", '''
def rmsprop_rule(p, g, s, t, *, lr=1e-2, decay=0.99, eps=1e-8):
    r = decay * s.get("square_avg", 0.0) + (1 - decay) * g * g
    return p - lr * g / (r + eps), {"square_avg": r}
''', {"test_rmsprop_rule", "test_rmsprop_rule_hidden"}, ("is wrong at",)),
    # Adam's eps inside the square root (the step of a parameter with tiny gradients changes)
    "adam_eps_inside_sqrt": Bug("07_optimizers", "adam_rule", '''
def adam_rule(p, g, s, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = g + weight_decay * p
    m = beta1 * s.get("m", 0.0) + (1 - beta1) * g
    v = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return p - lr * m_hat / np.sqrt(v_hat + eps), {"m": m, "v": v}
''', {"test_adam_rule", "test_adam_rule_hidden"}, ("is wrong at",)),
    # AdamW's decay coupled into the gradient (Adam's L2)
    "adamw_coupled_decay": Bug("07_optimizers", "adamw_rule", '''
def adamw_rule(p, g, s, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
    return adam_rule(p, g, s, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                     weight_decay=weight_decay)
''', {"test_adamw_rule", "test_adamw_rule_hidden"}, ("is wrong at",)),
    # the step count starts at 0: 0/0 in the bias corrections at the first step
    "adam_step_t_from_0": Bug("07_optimizers", "adam_step", '''
def adam_step(params, grads, state=None, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    if state is None:
        state = {"t": 0, "slots": {name: {} for name in params}}
    new_params, slots = {}, {}
    for name in params:
        new_params[name], slots[name] = adam_rule(params[name], grads[name],
                                                  state["slots"][name], state["t"], lr=lr,
                                                  beta1=beta1, beta2=beta2, eps=eps)
    return new_params, {"t": state["t"] + 1, "slots": slots}
''', {"test_adam_step", "test_adam_step_hidden"}, ("adam_step returned",)),
}
