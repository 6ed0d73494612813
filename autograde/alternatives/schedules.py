"""Assignment 08_schedules: honest alternatives and classic bugs (see __init__.py)."""

from autograde.alternatives import Bug

ANSWERS = {
    "cosine_decay_lr": '''
import sys

import numpy as np


def cosine_decay_lr(step, base_lr, decay_steps, final_lr=0.0):
    """NumPy's cos, a NumPy scalar returned, a debug line on stderr."""
    t = np.clip(step, 0, decay_steps)
    print(f"cosine at step {step}", file=sys.stderr)
    return final_lr + (base_lr - final_lr) * (np.cos(np.pi * t / decay_steps) + 1) / 2
''',
    "warmup_cosine_lr": '''
def warmup_cosine_lr(step, base_lr, warmup_steps, decay_steps, final_lr=0.0):
    """The ramp as a fraction of the peak; the cosine called with keywords."""
    if warmup_steps > 0 and step <= warmup_steps - 1:
        fraction = (step + 1) / warmup_steps
        return fraction * base_lr
    return cosine_decay_lr(step=step - warmup_steps, base_lr=base_lr, decay_steps=decay_steps,
                           final_lr=final_lr)
''',
    "clip_by_global_norm": '''
import torch


def clip_by_global_norm(grads, max_norm, eps=1e-6):
    """The norm of all gradients concatenated, in torch; arrays back in NumPy."""
    flat = torch.cat([torch.as_tensor(np.asarray(g, dtype=np.float64)).reshape(-1)
                      for g in grads.values()])
    norm = torch.linalg.vector_norm(flat).item()
    factor = max_norm / (norm + eps)
    if factor >= 1.0:
        return {k: np.array(g, copy=True) for k, g in grads.items()}, norm
    return {k: np.multiply(g, factor) for k, g in grads.items()}, norm
''',
    "clip_threshold": '''
def clip_threshold(norms, percentile=90.0):
    """Linear interpolation between the sorted values, written out."""
    values = sorted(float(x) for x in norms)
    position = percentile / 100 * (len(values) - 1)
    below = int(position)
    above = min(below + 1, len(values) - 1)
    return values[below] + (position - below) * (values[above] - values[below])
''',
}

BUGS = {
    # the cosine keeps going after decay_steps: the rate rises again instead of holding the floor
    "cosine_without_floor": Bug("08_schedules", "cosine_decay_lr", '''
def cosine_decay_lr(step, base_lr, decay_steps, final_lr=0.0):
    return final_lr + 0.5 * (base_lr - final_lr) * (1 + math.cos(math.pi * step / decay_steps))
''', {"test_cosine_decay_lr", "test_cosine_decay_lr_hidden"}, ("is wrong at",)),
    # the warmup squeezed into the decay: the cosine still counts from the run's first step
    "warmup_squeezed": Bug("08_schedules", "warmup_cosine_lr", '''
def warmup_cosine_lr(step, base_lr, warmup_steps, decay_steps, final_lr=0.0):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return cosine_decay_lr(step, base_lr, decay_steps, final_lr)
''', {"test_warmup_cosine_lr", "test_warmup_cosine_lr_hidden"}, ("is wrong at",)),
    # the clipped gradients written into the caller's arrays
    "clip_in_place": Bug("08_schedules", "clip_by_global_norm", '''
def clip_by_global_norm(grads, max_norm, eps=1e-6):
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    scale = min(1.0, max_norm / (norm + eps))
    for g in grads.values():
        g *= scale
    return grads, norm
''', {"test_clip_by_global_norm", "test_clip_by_global_norm_hidden"}, ("in place",)),
    # the percentile read from the log in step order, without sorting it
    "threshold_unsorted": Bug("08_schedules", "clip_threshold", '''
def clip_threshold(norms, percentile=90.0):
    return float(norms[int(round(percentile / 100 * (len(norms) - 1)))])
''', {"test_clip_threshold", "test_clip_threshold_hidden"}, ("is wrong at",)),
}
