"""Topic 10: the seven-step tuning recipe and Karpathy's checks, as functions that measure
and say what they found.

Every check returns a :class:`Check`: its name, whether it passed, what it measured and a
sentence that says what property failed and where to look (never the line of code).

The recipe's steps on a classifier (the seed lecture's order):

1. :func:`check_initial_loss`: with weight decay off, an untrained network that guesses
   uniformly has loss ``log C`` (2.303 for 10 classes);
2. :func:`check_overfit`: it must fit a small sample (or one batch) to 100 % training
   accuracy; if it cannot, something is broken before any tuning;
3. :func:`lr_range_test`: among rates 1e-1 ... 1e-4, the ones that drop the loss
   significantly within ~100 iterations (the largest one that does is where to start);
4.-5. coarse and fine searches (1-5 epochs per trial, then 10-20 around the best): run with
   :mod:`tnn.search` and :mod:`tnn.population`;
6. :func:`diagnose_curves`: read the train / validation curves: "train longer",
   "overfitting: regularize or get more data", "underfitting: train longer or a bigger model"
   or "good fit";
7. loop back to 5.

Karpathy's checks ("A Recipe for Training Neural Networks", 2019):
:func:`check_same_seed_same_run`, :func:`check_input_independent_baseline`,
:func:`prior_bias` (final-layer bias from the class prior: a 1:10 imbalance gives
``log(0.1 / 0.9) = -2.197``), :func:`check_overfit` on one batch, and
:func:`check_batch_independence`: with ``loss = sum of example i's outputs`` the gradient
must be non-zero only on input ``i``; a model that mixes examples across the batch (``view``
where ``permute`` was meant) fails it. :class:`TimeMajorMLP` is such a model, correct or
with that bug planted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from tnn._validate import _describe, as_float_array, check_positive, check_positive_int

__all__ = ["Check", "DIAGNOSES", "expected_initial_loss", "initial_loss", "check_initial_loss",
           "check_overfit", "RANGE_TEST_OPTIMIZERS", "lr_range_test", "diagnose_curves",
           "check_same_seed_same_run",
           "check_input_independent_baseline", "prior_bias", "softmax_prior_bias",
           "check_batch_independence", "TimeMajorMLP", "to_time_major"]

#: The labels :func:`diagnose_curves` gives, each with the action it recommends.
DIAGNOSES = ("overfitting: regularize or get more data", "train longer",
             "underfitting: train longer or a bigger model", "good fit")


@dataclass
class Check:
    """The result of one check: ``passed``, the numbers it ``measured`` and a ``message``."""

    name: str
    passed: bool
    message: str
    measured: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"[{'PASS' if self.passed else 'FAIL'}] {self.name}: {self.message}"


def _tensors(X, y=None):
    X = torch.as_tensor(np.asarray(X, dtype=np.float32)) if not torch.is_tensor(X) else X
    if y is None:
        return X
    y = torch.as_tensor(np.asarray(y, dtype=np.int64)) if not torch.is_tensor(y) else y
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length; got {len(X)} and {len(y)}.")
    return X, y


# ------------------------------------------------------------------------ step 1: initial loss
def expected_initial_loss(n_classes: int) -> float:
    """``log C``: the cross-entropy of a uniform guess over ``C`` classes."""
    n_classes = check_positive_int(n_classes, "n_classes")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2; got {n_classes}.")
    return math.log(n_classes)


@torch.no_grad()
def initial_loss(model: nn.Module, X, y) -> float:
    """Mean cross-entropy of ``model`` on ``(X, y)`` in eval mode, no penalty added."""
    X, y = _tensors(X, y)
    was_training = model.training
    model.eval()
    try:
        return float(F.cross_entropy(model(X), y))
    finally:
        model.train(was_training)


def check_initial_loss(model: nn.Module, X, y, n_classes: int, *, rtol: float = 0.1) -> Check:
    """Step 1: the untrained model's loss, weight decay off, within ``rtol`` of ``log C``.

    A loss far above ``log C`` means confident wrong guesses at initialization (weights or
    final bias too large, logits scaled up); far below it, before any training, means the
    loss is not what it seems."""
    rtol = check_positive(rtol, "rtol")
    loss, expected = initial_loss(model, X, y), expected_initial_loss(n_classes)
    ok = bool(np.isfinite(loss) and abs(loss - expected) <= rtol * expected)
    where = ("" if ok else " Look at the initialization of the last layer (its weights and "
             "bias): confident guesses before training cost more than log C." if
             loss > expected else " Before training a loss below log C is suspicious: check "
             "that it is the cross-entropy of logits, averaged over examples.")
    return Check("initial loss", ok, f"loss {loss:.4f} vs log {n_classes} = {expected:.4f} "
                 f"(tolerance {rtol:.0%})." + where,
                 {"loss": loss, "expected": expected})


# ------------------------------------------------------------------- step 2: overfit a sample
def check_overfit(model: nn.Module, X, y, *, steps: int = 500, lr: float = 1e-2,
                  target: float = 1.0) -> Check:
    """Step 2 (and Karpathy's "overfit one batch"): train on the small sample ``(X, y)``
    alone, full batch, Adam at ``lr``, no weight decay, until the training accuracy reaches
    ``target`` or ``steps`` updates pass. Trains ``model`` in place.

    ``measured``: ``steps`` (updates needed, or None), ``accuracy`` (final), ``losses``."""
    X, y = _tensors(X, y)
    steps, lr = check_positive_int(steps, "steps"), check_positive(lr, "lr")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses, needed, acc = [], None, 0.0
    model.train()
    for step in range(1, steps + 1):
        logits = model(X)
        loss = F.cross_entropy(logits, y)
        acc = float((logits.argmax(dim=1) == y).float().mean())
        if acc >= target:
            needed = step - 1
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    ok = needed is not None
    message = (f"{len(y)} examples fitted to {acc:.0%} training accuracy after {needed} updates."
               if ok else
               f"{len(y)} examples reach only {acc:.1%} training accuracy after {steps} updates "
               f"(loss {losses[-1]:.3g}). A network that cannot memorize a handful of examples "
               "is broken: look at the labels (do they match the inputs?), the loss, the "
               "initialization (identical or dead units learn nothing) and whether the "
               "optimizer steps the model's parameters.")
    return Check("overfit a small sample", ok, message,
                 {"steps": needed, "accuracy": acc, "losses": np.array(losses)})


# --------------------------------------------------------------- step 3: the learning rate
#: The optimizers :func:`lr_range_test` can run, weight decay off.
RANGE_TEST_OPTIMIZERS = ("sgd", "adam")


def lr_range_test(make_model: Callable[[], nn.Module], X, y, *,
                  lrs: Sequence[float] = (1e-1, 1e-2, 1e-3, 1e-4), iters: int = 100,
                  batch_size: int = 64, momentum: float = 0.9, seed: int = 0,
                  significant: float = 0.5, optimizer: str = "sgd") -> dict:
    """Step 3: for each rate, train a fresh ``make_model()`` for ``iters`` updates
    (``optimizer="sgd"``: SGD with ``momentum``; ``"adam"``: Adam with its default betas;
    mini-batches in a seeded order, weight decay off) and measure how far the loss drops. A
    rate "drops the loss significantly" when the mean loss of the last 10 updates is below
    ``significant`` times the first update's loss, and finite.

    Returns ``{"lrs", "first", "last", "ratio", "significant", "best_lr", "losses"}``:
    ``ratio`` = last / first (nan where the loss blew up), ``significant`` a bool per rate,
    ``best_lr`` the largest significant rate (None if none) and ``losses`` the loss of every
    update, one array per rate (shorter where the loss blew up).
    """
    X, y = _tensors(X, y)
    iters, batch_size = check_positive_int(iters, "iters"), check_positive_int(batch_size,
                                                                              "batch_size")
    if optimizer not in RANGE_TEST_OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {RANGE_TEST_OPTIMIZERS}; got "
                         f"{optimizer!r}.")
    firsts, lasts, curves = [], [], []
    for lr in lrs:
        torch.manual_seed(seed)
        model = make_model()
        lr = check_positive(lr, "lr")
        opt = (torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
               if optimizer == "sgd" else torch.optim.Adam(model.parameters(), lr=lr))
        gen = torch.Generator().manual_seed(seed)
        losses = []
        while len(losses) < iters:
            order = torch.randperm(len(y), generator=gen)
            for start in range(0, len(y) - batch_size + 1, batch_size):
                idx = order[start:start + batch_size]
                loss = F.cross_entropy(model(X[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
                if len(losses) == iters or not math.isfinite(losses[-1]):
                    break
            if not math.isfinite(losses[-1]):
                break
        firsts.append(losses[0])
        curves.append(np.array(losses))
        tail = losses[-10:]
        lasts.append(float(np.mean(tail)) if len(losses) == iters and all(
            map(math.isfinite, tail)) else math.nan)
    first, last = np.array(firsts), np.array(lasts)
    ratio = last / first
    sig = np.isfinite(ratio) & (ratio < significant)
    good = [lr for lr, s in zip(lrs, sig, strict=True) if s]
    return {"lrs": np.array(lrs, dtype=float), "first": first, "last": last, "ratio": ratio,
            "significant": sig, "best_lr": max(good) if good else None, "losses": curves}


# ------------------------------------------------------------------- step 6: read the curves
def diagnose_curves(train_acc, val_acc, *, gap: float = 0.05, improving: float = 0.005,
                    window: int | None = None, underfit_below: float = 0.95,
                    crawling: float = 0.05) -> tuple[str, dict]:
    """Step 6: label a run from its per-epoch training and validation accuracy.

    The curves are read through means over a ``window`` of epochs (default: a quarter of the
    run, at least 1), so that a noisy last epoch does not decide: "now" is the mean of the
    last window, "before" the mean of the window before it. In this order:

    1. ``"underfitting: train longer or a bigger model"``: training accuracy now is below
       ``underfit_below`` and rose by at most ``crawling`` since before (the model does not
       fit even the data it sees, and is no longer learning fast: an early, fast-rising run
       gets rule 3 instead);
    2. ``"overfitting: regularize or get more data"``: the model fits its training data
       (accuracy now at least ``underfit_below``) and train - val now exceeds ``gap``; or
       validation accuracy now is more than ``improving`` below its best window while
       training accuracy kept rising;
    3. ``"train longer"``: validation accuracy rose by more than ``improving`` since before;
    4. ``"good fit"`` otherwise.

    Returns ``(label, evidence)``: the label (one of :data:`DIAGNOSES`) and the numbers each
    rule read.
    """
    train, val = as_float_array(train_acc, "train_acc"), as_float_array(val_acc, "val_acc")
    if train.ndim != 1 or train.shape != val.shape or len(train) < 2:
        raise ValueError("train_acc and val_acc must be 1-D curves of the same length, at "
                         f"least 2 epochs; got shapes {train.shape} and {val.shape}.")
    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))):
        raise ValueError("the curves must be finite (a diverged run needs a lower learning "
                         "rate, not a diagnosis).")
    w = max(1, len(val) // 4) if window is None else check_positive_int(window, "window")
    w = min(w, len(val) // 2)

    def means(curve):  # the mean of every window of w epochs, in order
        return np.convolve(curve, np.ones(w) / w, mode="valid")

    train_w, val_w = means(train), means(val)
    best = int(np.argmax(val_w))
    evidence = {"window": w, "train_now": float(train_w[-1]), "val_now": float(val_w[-1]),
                "gap_now": float(train_w[-1] - val_w[-1]),
                "train_gain": float(train_w[-1] - train_w[-1 - w]),
                "val_gain": float(val_w[-1] - val_w[-1 - w]),
                "val_below_best": float(val_w[best] - val_w[-1]),
                "train_gain_since_best_val": float(train_w[-1] - train_w[best])}
    if evidence["train_now"] < underfit_below and evidence["train_gain"] <= crawling:
        return DIAGNOSES[2], evidence
    fits = evidence["train_now"] >= underfit_below
    if (fits and evidence["gap_now"] > gap) or (evidence["val_below_best"] > improving
                                                and evidence["train_gain_since_best_val"] > 0):
        return DIAGNOSES[0], evidence
    if evidence["val_gain"] > improving:
        return DIAGNOSES[1], evidence
    return DIAGNOSES[3], evidence


# ------------------------------------------------------------------------ Karpathy's checks
def check_same_seed_same_run(run: Callable[[int], Sequence[float]], seed: int = 0) -> Check:
    """Run ``run(seed)`` (a training run returning its loss curve) twice: the curves must be
    identical. If not, something draws randomness outside the seed (an unseeded generator,
    a data loader's workers, a non-deterministic kernel)."""
    a, b = np.asarray(run(seed), dtype=np.float64), np.asarray(run(seed), dtype=np.float64)
    same = a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))
    diff = float(np.nanmax(np.abs(a - b))) if a.shape == b.shape and a.size else math.inf
    return Check("fixed seed, identical runs", same,
                 "two runs with the same seed give identical loss curves." if same else
                 f"two runs with seed {seed} differ (largest difference {diff:.3g}): find the "
                 "randomness the seed does not control (generators, data order, dropout, "
                 "non-deterministic kernels).", {"max_difference": diff})


def check_input_independent_baseline(run: Callable[[bool], float], *,
                                     margin: float = 0.1) -> Check:
    """``run(zero_inputs)`` trains and returns the final validation loss; with all inputs
    set to zero the model can only learn the class prior, so the real inputs must do better
    by at least ``margin`` (relative). If not, the model is not using its inputs."""
    real, zero = float(run(False)), float(run(True))
    ok = bool(real < (1 - margin) * zero)
    return Check("input-independent baseline", ok,
                 f"validation loss {real:.4f} with the inputs vs {zero:.4f} with all-zero "
                 "inputs." + ("" if ok else " The model learns no more from the data than from "
                              "zeros: check that the inputs reach the model (preprocessing, "
                              "batching, which tensor is fed)."),
                 {"real": real, "zero": zero})


def prior_bias(positive_fraction: float) -> float:
    """The final sigmoid unit's bias that predicts the prior ``p`` from the start:
    ``log(p / (1 - p))`` (a 1:10 imbalance, p = 0.1, gives -2.197)."""
    p = float(positive_fraction)
    if not 0 < p < 1:
        raise ValueError(f"positive_fraction must be in (0, 1); got {positive_fraction!r}.")
    return math.log(p / (1 - p))


def softmax_prior_bias(class_fractions) -> np.ndarray:
    """Final softmax biases that predict the class prior: ``log(p_c)`` (any constant may be
    added). ``class_fractions`` must be positive and sum to 1."""
    p = as_float_array(class_fractions, "class_fractions").astype(np.float64)
    if p.ndim != 1 or p.size < 2 or np.any(p <= 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError("class_fractions must be a 1-D array of at least 2 positive shares "
                         f"summing to 1; got {_describe(class_fractions)}.")
    return np.log(p)


def check_batch_independence(model: nn.Module, X, *, index: int = 0,
                             batch_dim: int = 0) -> Check:
    """The backprop dependency check: with ``loss = sum of example i's outputs``, the
    gradient with respect to the input must be non-zero only for example ``i``.

    The model runs in eval mode (batch norm in training mode legitimately mixes a batch).
    ``batch_dim`` is the axis of ``X`` that indexes examples (1 for time-major input);
    the model's output always has examples on axis 0."""
    X = _tensors(X).clone().requires_grad_(True)
    n = X.shape[batch_dim]
    if not 0 <= index < n:
        raise ValueError(f"index must be in [0, {n}); got {index}.")
    was_training = model.training
    model.eval()
    try:
        model(X)[index].sum().backward()
    finally:
        model.train(was_training)
    grad = X.grad if X.grad is not None else torch.zeros_like(X)  # None: output ignores X
    per_example = grad.abs().movedim(batch_dim, 0).reshape(n, -1).sum(dim=1)  # (N,)
    others = [j for j in range(n) if j != index and per_example[j] > 0]
    ok = not others and bool(per_example[index] > 0)
    message = (f"only example {index} receives gradient from its own outputs." if ok else
               f"example {index}'s outputs depend on {len(others)} other example(s) "
               f"(e.g. {others[:5]}): the model mixes information across the batch. Look at "
               "every reshape, view and transpose between the input and the output: a view "
               "that reinterprets a (time, batch, ...) tensor as (batch, time, ...) mixes "
               "examples; permute moves the axes instead." if others else
               f"example {index} receives no gradient from its own outputs: the output does "
               "not depend on the input (detached or constant).")
    return Check("batch independence (dependency check)", ok, message,
                 {"gradient_per_example": per_example.detach().numpy(), "mixed_with": others})


class TimeMajorMLP(nn.Module):
    """An MLP that reads time-major input ``(T, N, D)`` (e.g. a digit as 8 rows of 8
    pixels, one row per time step) and moves the batch axis first before flattening.

    ``bug=True`` plants the classic mistake: ``x.view(N, T, D)`` instead of
    ``x.permute(1, 0, 2)``. Both give a tensor of the right shape and the network still
    trains, but the buggy one builds each "example" from rows of several examples.
    """

    def __init__(self, steps: int = 8, features: int = 8, hidden: int = 64, classes: int = 10,
                 *, bug: bool = False):
        super().__init__()
        self.bug = bool(bug)
        self.net = nn.Sequential(nn.Linear(steps * features, hidden), nn.ReLU(),
                                 nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, n, d = x.shape
        x = x.view(n, t, d) if self.bug else x.permute(1, 0, 2)  # (N, T, D)
        return self.net(x.reshape(n, t * d))


def to_time_major(X, steps: int = 8) -> torch.Tensor:
    """Flat images ``(N, steps * D)`` as time-major sequences ``(steps, N, D)``: row ``t`` of
    every image is time step ``t``."""
    X = _tensors(X)
    n = X.shape[0]
    return X.reshape(n, steps, -1).permute(1, 0, 2).contiguous()
