"""Experiments of lecture 05 (dropout), re-exported by :mod:`tnn.dropout`.

- :func:`expected_over_masks`: the lecture's exact check, every mask of one unit enumerated.
- :func:`monte_carlo_check`: the mean of many training-time outputs against the test-time one.
- :func:`make_dropout_mlp`, :func:`keep_prob_sweep`, :func:`regularizer_comparison`: the
  overfitting digits MLP with the keep probability swept, and dropout against L2.
- :func:`mc_dropout_predict` (+ torch twin), :func:`mc_dropout_model`, :func:`corrupt_digits`:
  MC dropout as an uncertainty estimate.
- :func:`train_numpy_dropout_mlp`: a NumPy MLP trained with dropout functions passed in (the
  grader trains with a student's dropout this way).
- :func:`stochastic_depth_check`: test-time scaling against the mean over sampled depths.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import nn

from tnn._validate import as_float_array, check_positive_int, check_rng
from tnn.dropout import (
    check_keep_prob,
    dropout_mask,
    inverted_dropout_backward,
    inverted_dropout_forward,
    vanilla_dropout_forward,
    vanilla_dropout_predict,
)
from tnn.stochastic_depth import residual_stack_forward, stochastic_depth_gates

__all__ = [
    "enumerate_masks",
    "expected_over_masks",
    "monte_carlo_check",
    "make_dropout_mlp",
    "keep_prob_sweep",
    "regularizer_comparison",
    "corrupt_digits",
    "mc_dropout_predict",
    "mc_dropout_predict_torch",
    "mc_dropout_model",
    "mc_uncertainty",
    "train_numpy_dropout_mlp",
    "stochastic_depth_check",
]


# --------------------------------------------------------------------------------------------
# the lecture's exact check and the Monte-Carlo check
# --------------------------------------------------------------------------------------------
def enumerate_masks(n_units: int) -> np.ndarray:
    """Every keep/drop pattern of ``n_units`` units: a bool array of shape (2**n, n)."""
    n_units = check_positive_int(n_units, "n_units")
    return np.array(list(itertools.product([True, False], repeat=n_units)), dtype=bool)


def expected_over_masks(w, inputs, keep_prob: float = 0.5) -> dict:
    """E over masks of one unit ``a = sum_i w_i * (m_i * x_i)`` (vanilla dropout), exactly.

    Parameters
    ----------
    w, inputs : ndarray of shape (n,), the unit's weights and its inputs (x, y, ...)
    keep_prob : float in (0, 1]

    Returns
    -------
    result : dict
        ``masks`` (2**n, n) bool, ``prob`` (2**n,) the probability of each mask,
        ``a`` (2**n,) the unit's output under each, ``mean`` = sum(prob * a), ``test`` =
        ``w @ inputs`` (every unit on) and ``predict`` = ``keep_prob * test`` (vanilla
        dropout's test-time output, which equals ``mean``).
    """
    w, x = as_float_array(w, "w").ravel(), as_float_array(inputs, "inputs").ravel()
    if w.shape != x.shape:
        raise ValueError(f"w and inputs must have the same length; got {w.shape} and {x.shape}.")
    keep_prob = check_keep_prob(keep_prob)
    masks = enumerate_masks(len(w))
    kept = masks.sum(axis=1)
    prob = keep_prob ** kept * (1.0 - keep_prob) ** (len(w) - kept)  # (2**n,)
    a = np.array([w @ vanilla_dropout_forward(x, m) for m in masks])  # (2**n,)
    test = float(w @ x)
    return {"masks": masks, "prob": prob, "a": a, "mean": float(prob @ a), "test": test,
            "predict": float(w @ vanilla_dropout_predict(x, keep_prob))}


def monte_carlo_check(rng: np.random.Generator, h, w, keep_prob: float, n_masks: int,
                      inverted: bool = True) -> dict:
    """Mean over ``n_masks`` masks of the training-time output ``dropout(h) @ w`` against
    the test-time output (``h @ w`` for inverted dropout, ``(keep_prob h) @ w`` for vanilla).

    Parameters
    ----------
    rng : np.random.Generator
    h : ndarray of shape (N, D), a layer's input; w : ndarray of shape (D, K)
    keep_prob : float; n_masks : int; inverted : bool

    Returns
    -------
    result : dict
        ``mean`` (N, K), ``test`` (N, K), ``rel_error`` = ||mean - test|| / ||test||, and
        ``running`` (n_masks,): the relative error of the mean of the first k masks.
    """
    check_rng(rng)
    h, w = as_float_array(h, "h"), as_float_array(w, "w")
    keep_prob = check_keep_prob(keep_prob)
    n_masks = check_positive_int(n_masks, "n_masks")
    test = h @ w if inverted else vanilla_dropout_predict(h, keep_prob) @ w
    total = np.zeros_like(test)
    norm = np.linalg.norm(test)
    running = np.empty(n_masks)
    for k in range(n_masks):
        mask = dropout_mask(rng, h.shape, keep_prob)
        dropped = (inverted_dropout_forward(h, mask, keep_prob) if inverted
                   else vanilla_dropout_forward(h, mask))
        total += dropped @ w
        running[k] = np.linalg.norm(total / (k + 1) - test) / norm
    mean = total / n_masks
    return {"mean": mean, "test": test, "rel_error": float(running[-1]), "running": running}


# --------------------------------------------------------------------------------------------
# the overfitting digits MLP
# --------------------------------------------------------------------------------------------
def make_dropout_mlp(sizes, keep_prob: float = 1.0) -> nn.Sequential:
    """``Linear -> ReLU -> Dropout`` per hidden layer, then ``Linear``.

    ``keep_prob`` is the lecture's probability of KEEPING a unit; PyTorch's module takes the
    probability of dropping one, so the layer is ``nn.Dropout(p=1 - keep_prob)``.
    """
    keep_prob = check_keep_prob(keep_prob)
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least two positive widths; got {sizes}.")
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(sizes) - 2:
            layers += [nn.ReLU(), nn.Dropout(p=1.0 - keep_prob)]  # PyTorch's p = DROP prob
    return nn.Sequential(*layers)


def _accuracy(model, X, y, device) -> tuple[float, float]:
    from tnn.nets import evaluate

    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
    yt = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
    return evaluate(model, Xt, yt)


def _train_one(splits, keep_prob, seed, *, hidden, epochs, lr, batch_size, device,
               weight_decay=0.0, record_curves=True) -> dict:
    from tnn.nets import train_classifier

    torch.manual_seed(seed)
    model = make_dropout_mlp([splits["train"].X.shape[1], *hidden, 10], keep_prob)
    train_acc_curve = []

    def on_epoch(net, epoch, history):
        if record_curves and epoch > 0:
            train_acc_curve.append(_accuracy(net, splits["train"].X, splits["train"].y,
                                             device)[1])

    hist = train_classifier(model, splits["train"].X, splits["train"].y, splits["val"].X,
                            splits["val"].y, epochs=epochs, lr=lr, batch_size=batch_size,
                            seed=seed, device=device, progress=False, on_epoch=on_epoch,
                            weight_decay=weight_decay)
    train_loss, train_acc = _accuracy(model, splits["train"].X, splits["train"].y, device)
    return {"train_acc": train_acc, "val_acc": hist.val_acc[-1], "train_loss": train_loss,
            "val_loss": hist.val_loss[-1], "train_acc_curve": train_acc_curve,
            "val_acc_curve": list(hist.val_acc), "model": model}


def keep_prob_sweep(splits_by_seed, keep_probs=(1.0, 0.9, 0.75, 0.5), *, hidden=(256, 256),
                    epochs: int = 200, lr: float = 0.1, batch_size: int = 16,
                    device="cpu", weight_decay: float = 0.0, progress=None,
                    keep_models: bool = False) -> dict:
    """Train the digits MLP once per (keep probability, seed); summarize train/val.

    Parameters
    ----------
    splits_by_seed : dict seed -> ``{"train": Split, "val": Split}`` (e.g. from
        :func:`tnn.data.small_digits`); the seed also sets the initial weights and batch order.
    keep_probs : sequence of float in (0, 1]
    hidden : widths of the hidden layers; epochs, lr, batch_size : SGD settings
    weight_decay : float, passed to SGD (L2) for every run
    progress : callable, optional; wraps the iterable of runs (e.g. tqdm)
    keep_models : bool; also return the trained models (``models``, one per seed)

    Returns
    -------
    result : dict keep_prob -> dict of arrays over seeds: ``train_acc``, ``val_acc``,
        ``gap`` (train_acc - val_acc), ``train_loss``, ``val_loss``, ``loss_gap``
        (val_loss - train_loss); and ``train_curve``, ``val_curve``: (epochs,) accuracy
        per epoch averaged over seeds.
    """
    runs = [(k, s) for k in keep_probs for s in splits_by_seed]
    iterator = progress(runs) if progress is not None else runs
    raw: dict[float, list[dict]] = {float(k): [] for k in keep_probs}
    for keep_prob, seed in iterator:
        raw[float(keep_prob)].append(_train_one(
            splits_by_seed[seed], keep_prob, seed, hidden=hidden, epochs=epochs, lr=lr,
            batch_size=batch_size, device=device, weight_decay=weight_decay))
    out = {}
    for keep_prob, rs in raw.items():
        arr = {key: np.array([r[key] for r in rs]) for key in
               ("train_acc", "val_acc", "train_loss", "val_loss")}
        arr["gap"] = arr["train_acc"] - arr["val_acc"]
        arr["loss_gap"] = arr["val_loss"] - arr["train_loss"]
        arr["train_curve"] = np.mean([r["train_acc_curve"] for r in rs], axis=0)
        arr["val_curve"] = np.mean([r["val_acc_curve"] for r in rs], axis=0)
        if keep_models:
            arr["models"] = [r["model"] for r in rs]
        out[keep_prob] = arr
    return out


def regularizer_comparison(splits_by_seed, *, keep_prob: float = 0.5,
                           weight_decay: float = 1e-2, reuse: dict | None = None,
                           **kwargs) -> dict:
    """None vs dropout vs L2 (SGD weight decay) vs both, each summarized as in
    :func:`keep_prob_sweep` (``kwargs`` are passed on to it).

    ``reuse``: a :func:`keep_prob_sweep` result with the same seeds and settings; its runs at
    keep_prob 1 and ``keep_prob`` stand for "none" and "dropout" instead of training again.
    """
    settings = {"none": (1.0, 0.0), "dropout": (keep_prob, 0.0), "L2": (1.0, weight_decay),
                "dropout + L2": (keep_prob, weight_decay)}
    out = {}
    for label, (k, wd) in settings.items():
        if wd == 0.0 and reuse is not None and k in reuse:
            out[label] = reuse[k]
        else:
            out[label] = keep_prob_sweep(splits_by_seed, (k,), weight_decay=wd, **kwargs)[k]
    return out


# --------------------------------------------------------------------------------------------
# MC dropout
# --------------------------------------------------------------------------------------------
def corrupt_digits(rng: np.random.Generator, X, noise: float = 0.5) -> np.ndarray:
    """Digits (N, 64) in [0, 1] with Gaussian pixel noise of std ``noise``, clipped to [0, 1]."""
    check_rng(rng)
    X = as_float_array(X, "X")
    return np.clip(X + noise * rng.standard_normal(X.shape).astype(X.dtype), 0, 1)


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def mc_dropout_predict(x, w1, b1, w2, b2, keep_prob: float, rng: np.random.Generator,
                       n_samples: int):
    """MC dropout for a two-layer MLP ``softmax(dropout(relu(x @ w1 + b1)) @ w2 + b2)``.

    Runs ``n_samples`` stochastic forward passes, the s-th with the mask
    ``rng.random((N, H)) < keep_prob`` on the hidden units (inverted dropout), and returns the
    mean and the standard deviation over the passes of the predicted class probabilities.

    Parameters
    ----------
    x : ndarray of shape (N, D); w1 : (D, H); b1 : (H,); w2 : (H, K); b2 : (K,)
    keep_prob : float in (0, 1]; rng : np.random.Generator; n_samples : int >= 1

    Returns
    -------
    mean, std : ndarrays of shape (N, K)
    """
    check_rng(rng)
    x = as_float_array(x, "x")
    keep_prob = check_keep_prob(keep_prob)
    n_samples = check_positive_int(n_samples, "n_samples")
    hidden = np.maximum(x @ w1 + b1, 0)  # (N, H): the same in every pass
    probs = np.stack([_softmax(inverted_dropout_forward(
        hidden, rng.random(hidden.shape) < keep_prob, keep_prob) @ w2 + b2)
        for _ in range(n_samples)])  # (S, N, K)
    return probs.mean(axis=0), probs.std(axis=0)


def mc_dropout_predict_torch(x, w1, b1, w2, b2, keep_prob: float,
                             generator: torch.Generator, n_samples: int):
    """Torch twin of :func:`mc_dropout_predict` (masks from ``generator``, on x's device)."""
    from tnn.dropout import inverted_dropout_forward_torch

    keep_prob = check_keep_prob(keep_prob)
    n_samples = check_positive_int(n_samples, "n_samples")
    hidden = torch.relu(x @ w1 + b1)
    probs = torch.stack([torch.softmax(inverted_dropout_forward_torch(
        hidden, torch.rand(hidden.shape, generator=generator, device=x.device) < keep_prob,
        keep_prob) @ w2 + b2, dim=-1) for _ in range(n_samples)])
    return probs.mean(dim=0), probs.std(dim=0, unbiased=False)


@torch.no_grad()
def mc_dropout_model(model: nn.Module, X, n_samples: int, seed: int = 0):
    """MC dropout for any torch model with ``nn.Dropout`` layers: ``n_samples`` passes with
    dropout ON (train mode), the global torch RNG forked and seeded with ``seed``.

    Returns ``(mean, std)`` of the softmax probabilities, ndarrays of shape (N, K).
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    device = next(model.parameters()).device
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
    was_training = model.training
    model.train()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            probs = torch.stack([torch.softmax(model(Xt), dim=1) for _ in range(n_samples)])
    finally:
        model.train(was_training)
    return probs.mean(0).cpu().numpy(), probs.std(0, unbiased=False).cpu().numpy()


def mc_uncertainty(model: nn.Module, X, y, X_corrupt, n_samples: int = 100,
                   seed: int = 0) -> dict:
    """MC dropout on clean and corrupted versions of the same digits.

    For each digit, the spread is the std over the ``n_samples`` passes of the probability
    of the class the mean prediction picks.

    Returns
    -------
    result : dict
        ``clean_std``, ``corrupt_std``: (N,) spreads; ``clean_acc``, ``corrupt_acc``: accuracy
        of the MC mean prediction; ``clean_conf``, ``corrupt_conf``: mean probability of the
        predicted class.
    """
    out = {}
    for label, data in (("clean", X), ("corrupt", X_corrupt)):
        mean, std = mc_dropout_model(model, data, n_samples, seed)
        pick = mean.argmax(axis=1)
        rows = np.arange(len(pick))
        out[f"{label}_std"] = std[rows, pick]
        out[f"{label}_acc"] = float(np.mean(pick == np.asarray(y)))
        out[f"{label}_conf"] = float(np.mean(mean[rows, pick]))
    return out


# --------------------------------------------------------------------------------------------
# a NumPy MLP trained with dropout functions passed in (the grader's experiment)
# --------------------------------------------------------------------------------------------
def _mask_factors(fn, masks, keep_prob):
    """What ``fn`` multiplies each unit by under each mask: ``fn(ones, masks, keep_prob)`` in
    one call (a dropout layer is linear in its input, so
    ``fn(h, mask, keep_prob) = h * fn(ones, mask, keep_prob)``)."""
    out = fn(np.ones(masks.shape, dtype=np.float32), masks, keep_prob)
    out = np.asarray(out, dtype=np.float64)
    if out.shape != masks.shape:
        raise ValueError(f"the dropout function returned shape {out.shape} for an input "
                         f"of shape {masks.shape}")
    return out


def train_numpy_dropout_mlp(splits, forward_fn=inverted_dropout_forward,
                            backward_fn=inverted_dropout_backward, keep_prob: float = 0.5, *,
                            hidden: int = 256, epochs: int = 300, lr: float = 0.5,
                            seed: int = 0, pool: int = 8) -> dict:
    """Full-batch gradient descent on ``64 -> hidden -> 10`` with dropout on the hidden units.

    The masks come from a pool: ``pool`` masks of shape (N, hidden)
    (``dropout_mask(rng, (pool, N, hidden), keep_prob)``, drawn once after the weights). A
    dropout layer is linear in its input, so the functions under test are asked once, in one
    call each, what they multiply every unit by under every pooled mask:
    ``forward_fn(ones, masks, keep_prob)`` and ``backward_fn(ones, masks, keep_prob)`` (float32
    ones). Step t picks one pooled mask at random and deals its rows to the examples in a
    random order, so an example meets one of ``pool * N`` rows each step, nearly as fresh as a
    new mask, while the functions see ``pool`` masks instead of ``epochs`` (the grader calls a
    student's functions in another process: this keeps it to two small calls). Evaluation uses
    no dropout (inverted dropout's test time). ``keep_prob = 1`` trains without dropout.

    Returns
    -------
    result : dict with ``train_acc``, ``val_acc``, ``gap`` (their difference),
        ``train_loss``, ``val_loss``.
    """
    keep_prob = check_keep_prob(keep_prob)
    rng = np.random.default_rng(seed)
    X, y = splits["train"].X.astype(np.float64), splits["train"].y
    Xv, yv = splits["val"].X.astype(np.float64), splits["val"].y
    n, d = X.shape
    w1 = rng.standard_normal((d, hidden)) * np.sqrt(2.0 / d)
    b1 = np.zeros(hidden)
    w2 = rng.standard_normal((hidden, 10)) * np.sqrt(1.0 / hidden)
    b2 = np.zeros(10)
    pool = check_positive_int(pool, "pool")
    masks = dropout_mask(rng, (pool, n, hidden), keep_prob)  # (P, N, H)
    forward = _mask_factors(forward_fn, masks, keep_prob)  # (P, N, H)
    backward = _mask_factors(backward_fn, masks, keep_prob)
    onehot = np.eye(10)[y]  # (N, 10)
    for _ in range(epochs):
        k, rows = rng.integers(pool), rng.permutation(n)  # this step's mask: rows of mask k
        z = X @ w1 + b1  # (N, H)
        hd = np.maximum(z, 0) * forward[k, rows]
        p = _softmax(hd @ w2 + b2)  # (N, 10)
        dlogits = (p - onehot) / n
        dw2, db2 = hd.T @ dlogits, dlogits.sum(0)
        dz = (dlogits @ w2.T) * backward[k, rows] * (z > 0)
        dw1, db1 = X.T @ dz, dz.sum(0)
        w1, b1, w2, b2 = w1 - lr * dw1, b1 - lr * db1, w2 - lr * dw2, b2 - lr * db2

    def scores(A, labels):
        p = _softmax(np.maximum(A @ w1 + b1, 0) @ w2 + b2)
        loss = -np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-12))
        return float(np.mean(p.argmax(1) == labels)), float(loss)

    (train_acc, train_loss), (val_acc, val_loss) = scores(X, y), scores(Xv, yv)
    return {"train_acc": train_acc, "val_acc": val_acc, "gap": train_acc - val_acc,
            "train_loss": train_loss, "val_loss": val_loss}


# --------------------------------------------------------------------------------------------
# stochastic depth: test-time scaling against sampled depths
# --------------------------------------------------------------------------------------------
def stochastic_depth_check(rng: np.random.Generator, x, weights, survival,
                           n_samples: int) -> dict:
    """Mean over ``n_samples`` sampled depths of the training-time stack against the test-time
    stack (every block, scaled by its survival probability).

    Returns ``{"mean", "test", "rel_error", "blocks_run"}``: ``blocks_run`` is the mean number
    of blocks a training pass ran (the expected value is ``sum(survival)``).
    """
    check_rng(rng)
    n_samples = check_positive_int(n_samples, "n_samples")
    test = residual_stack_forward(x, weights, survival)
    total, runs = np.zeros_like(test), 0
    for _ in range(n_samples):
        gates = stochastic_depth_gates(rng, survival)
        runs += int(gates.sum())
        total += residual_stack_forward(x, weights, survival, gates)
    mean = total / n_samples
    return {"mean": mean, "test": test, "blocks_run": runs / n_samples,
            "rel_error": float(np.linalg.norm(mean - test) / np.linalg.norm(test))}
