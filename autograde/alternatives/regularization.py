"""Assignment 04_regularization: honest alternatives and classic bugs (see __init__.py)."""

from autograde.alternatives import Bug

ANSWERS = {
    "l2_penalty": '''
import numpy as np


def l2_penalty(w, lam):
    """A dot product for the value, np.multiply for the gradient."""
    w = np.asarray(w)
    value = lam / 2 * float(np.vdot(w, w))
    return value, np.multiply(w, lam)
''',
    "l1_penalty": '''
def l1_penalty(w, lam):
    """Nested np.where: +lam, -lam, and 0 where the weight is exactly 0."""
    w = np.asarray(w)
    grad = np.where(w > 0, lam, np.where(w < 0, -lam, 0.0))
    return lam * np.abs(w).sum(), grad
''',
    "elastic_net_penalty": '''
import numpy as np
import torch


def elastic_net_penalty(w, lam, beta):
    """Autograd for the gradient (the derivative of abs at 0 is 0 in PyTorch too)."""
    wt = torch.tensor(np.asarray(w), requires_grad=True)
    value = lam * (beta / 2 * (wt ** 2).sum() + wt.abs().sum())
    (grad,) = torch.autograd.grad(value, wt)
    return value.item(), grad.numpy()
''',
    "elastic_net_penalty_torch": '''
import torch


def elastic_net_penalty_torch(w, lam, beta):
    sign = torch.where(w > 0, 1.0, 0.0) - torch.where(w < 0, 1.0, 0.0)   # on w's device
    value = lam * (beta / 2 * torch.sum(w ** 2) + torch.sum(torch.abs(w)))
    return value, lam * beta * w + lam * sign.to(w.dtype)
''',
    "sgd_step": '''
import sys


def sgd_step(params, grads, lr, lam, kind="l2"):
    """The multiplicative form for L2, the constant step for L1, written out by hand."""
    print(f"sgd_step: {kind}, lr={lr}, lam={lam}", file=sys.stderr)
    new = {}
    for name in params:
        p, g = params[name], grads[name]
        if name[0] == "b":
            new[name] = p - lr * g
        elif kind == "l2":
            new[name] = (1 - lr * lam) * p - lr * g
        else:
            new[name] = p - lr * g - lr * lam * np.sign(p)
    return new
''',
    "early_stopping_epoch": '''
def early_stopping_epoch(val_acc, patience):
    """Vectorized: the running maximum marks the improvements."""
    acc = np.asarray(val_acc, dtype=float)
    epochs = np.arange(1, len(acc) + 1)
    previous_best = np.concatenate([[-np.inf], np.maximum.accumulate(acc)[:-1]])
    last_best = np.maximum.accumulate(np.where(acc > previous_best, epochs, 0))
    hits = np.flatnonzero(epochs - last_best >= patience)
    stop = int(hits[0]) + 1 if hits.size else len(acc)
    return int(last_best[stop - 1]), stop
''',
    "batchnorm_forward": '''
import numpy as np
import torch
import torch.nn.functional as F


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """PyTorch's own batch norm on copies of the running statistics (it updates them in place)."""
    xt = torch.from_numpy(np.ascontiguousarray(x))
    rm = torch.tensor(np.asarray(running_mean), dtype=xt.dtype)
    rv = torch.tensor(np.asarray(running_var), dtype=xt.dtype)
    out = F.batch_norm(xt, rm, rv, torch.tensor(np.asarray(gamma), dtype=xt.dtype),
                       torch.tensor(np.asarray(beta), dtype=xt.dtype), training=training,
                       momentum=momentum, eps=eps)
    return out.numpy(), rm.numpy(), rv.numpy()
''',
}

BUGS = {
    "l2_gradient_twice": Bug("04_regularization", "l2_penalty", '''
def l2_penalty(w, lam):
    """The gradient of lam * sum(w**2), not of the convention's (lam / 2) * sum(w**2)."""
    w = np.asarray(w)
    return 0.5 * lam * float(np.sum(w ** 2)), 2 * lam * w
''', {"test_l2_penalty", "test_l2_penalty_hidden"},
        ("l2_penalty (grad) is wrong", "the other convention")),
    "l1_subgradient_at_zero": Bug("04_regularization", "l1_penalty", '''
def l1_penalty(w, lam):
    w = np.asarray(w)
    return lam * float(np.sum(np.abs(w))), lam * w / np.abs(w)   # NaN where w == 0
''', {"test_l1_penalty", "test_l1_penalty_hidden"},
        ("l1_penalty (grad)", "exactly 0")),
    "biases_penalized": Bug("04_regularization", "sgd_step", '''
def sgd_step(params, grads, lr, lam, kind="l2"):
    penalty = l2_penalty if kind == "l2" else l1_penalty
    return {name: p - lr * (grads[name] + penalty(p, lam)[1]) for name, p in params.items()}
''', {"test_sgd_step", "test_sgd_step_hidden"},
        ("sgd_step is wrong", "which parameters get the penalty gradient")),
    "batchnorm_running_stats_in_eval": Bug("04_regularization", "batchnorm_forward", '''
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    """Uses the running statistics in eval mode, but updates them in both modes."""
    n = x.shape[0]
    batch_mean, batch_var = x.mean(axis=0), x.var(axis=0)
    new_mean = (1 - momentum) * running_mean + momentum * batch_mean
    new_var = (1 - momentum) * running_var + momentum * batch_var * n / (n - 1)
    mean, var = (batch_mean, batch_var) if training else (running_mean, running_var)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta, new_mean, new_var
''', {"test_batchnorm", "test_batchnorm_hidden"},
        ("batchnorm_forward (new_running_mean", "nothing may change it")),
    "elastic_net_torch_on_cpu": Bug("04_regularization", "elastic_net_penalty_torch", '''
def elastic_net_penalty_torch(w, lam, beta):
    zero = torch.zeros(w.shape, dtype=w.dtype)   # on the CPU, whatever w's device
    sign = (w > zero).to(w.dtype) - (w < zero).to(w.dtype)
    return lam * (0.5 * beta * (w * w).sum() + w.abs().sum()), lam * (beta * w + sign)
''', {"test_elastic_net_torch", "test_elastic_net_torch_hidden"},
        ("elastic_net_penalty_torch (grad) mixed devices", "device=x.device")),
}
