"""Assignment 05_dropout: honest alternatives and classic bugs (see __init__.py)."""

from autograde.alternatives import Bug

ANSWERS = {
    "inverted_dropout_forward": '''
import numpy as np


def inverted_dropout_forward(x, mask, keep_prob):
    """Multiply by the 0/1 mask in x's dtype, then divide by keep_prob in that dtype."""
    kept = x * np.asarray(mask).astype(x.dtype)
    return kept / x.dtype.type(keep_prob)
''',
    "inverted_dropout_backward": '''
import torch


def inverted_dropout_backward(dout, mask, keep_prob):
    """Let autograd differentiate the forward pass with the forward's mask."""
    dout = np.asarray(dout)
    t = torch.zeros(dout.shape, dtype=torch.float64, requires_grad=True)
    y = t * torch.as_tensor(np.asarray(mask)) / keep_prob
    (grad,) = torch.autograd.grad(y, t, torch.as_tensor(dout.astype(np.float64)))
    return grad.numpy().astype(dout.dtype)
''',
    "dropout_test_time": '''
import sys


def dropout_test_time(x, keep_prob, inverted=True):
    if inverted:
        print("inverted dropout: nothing to do at test time", file=sys.stderr)
        return np.array(x, copy=True)
    return np.multiply(x, keep_prob, dtype=x.dtype)
''',
    "inverted_dropout_forward_torch": '''
import torch


def inverted_dropout_forward_torch(x, mask, keep_prob):
    out = x.clone()
    out[~mask] = 0
    return out * (1.0 / keep_prob)
''',
    "spatial_dropout_forward": '''
import logging


def spatial_dropout_forward(x, mask, keep_prob):
    """One channel at a time."""
    logging.getLogger(__name__).info("spatial dropout on %s", x.shape)
    out = np.zeros_like(x)
    n, c = mask.shape
    for i in range(n):
        for j in range(c):
            if mask[i, j]:
                out[i, j] = x[i, j] / keep_prob
    return out
''',
    "mc_dropout_predict": '''
import scipy.special
from tqdm.auto import tqdm


def mc_dropout_predict(x, w1, b1, w2, b2, keep_prob, rng, n_samples):
    hidden = np.where(x @ w1 + b1 > 0, x @ w1 + b1, 0.0)
    samples = np.empty((n_samples, x.shape[0], w2.shape[1]))
    for s in tqdm(range(n_samples), desc="MC dropout", leave=False):
        keep = rng.random(hidden.shape) < keep_prob
        samples[s] = scipy.special.softmax((hidden * keep / keep_prob) @ w2 + b2, axis=1)
    mean = samples.mean(axis=0)
    std = np.sqrt(((samples - mean) ** 2).mean(axis=0))
    return mean, std
''',
}

BUGS = {
    # inverted dropout scaled twice: by 1/keep_prob at training and by keep_prob at test time
    "dropout_scaled_twice": Bug("05_dropout", "dropout_test_time", '''
def dropout_test_time(x, keep_prob, inverted=True):
    return x * keep_prob
''', {"test_dropout_test_time", "test_dropout_test_time_hidden"},
        ("dropout_test_time is wrong at",)),
    # PyTorch's convention leaking in: keep_prob taken as the probability of dropping
    "keep_prob_as_drop_prob": Bug("05_dropout", "inverted_dropout_forward_torch", '''
def inverted_dropout_forward_torch(x, mask, keep_prob):
    return torch.where(mask, x / (1 - keep_prob + 1e-12), torch.zeros_like(x))
''', {"test_inverted_dropout_forward_torch", "test_inverted_dropout_forward_torch_hidden"},
        ("inverted_dropout_forward_torch is wrong at",)),
    # dropout left unscaled: channels dropped, kept ones not divided by keep_prob
    "spatial_dropout_unscaled": Bug("05_dropout", "spatial_dropout_forward", '''
def spatial_dropout_forward(x, mask, keep_prob):
    return x * mask[:, :, None, None]
''', {"test_spatial_dropout_forward", "test_spatial_dropout_forward_hidden"},
        ("spatial_dropout_forward is wrong at",)),
    # MC dropout's passes left unscaled (vanilla training-time dropout, no 1/keep_prob)
    "mc_dropout_unscaled": Bug("05_dropout", "mc_dropout_predict", '''
def mc_dropout_predict(x, w1, b1, w2, b2, keep_prob, rng, n_samples):
    hidden = np.maximum(x @ w1 + b1, 0)
    probs = []
    for _ in range(n_samples):
        logits = (hidden * (rng.random(hidden.shape) < keep_prob)) @ w2 + b2
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs.append(e / e.sum(axis=1, keepdims=True))
    return np.mean(probs, axis=0), np.std(probs, axis=0)
''', {"test_mc_dropout_predict", "test_mc_dropout_predict_hidden"},
        ("mc_dropout_predict is wrong at",)),
}
