"""Lecture 08's instability experiments: a deep MLP without normalization made unstable, and
the tuning playbook's fixes measured on it.

The network: ``depth`` linear layers (ReLU between them, no normalization, no residuals) on
the 8x8 digits, initialized with ``init_gain`` times He's standard deviation. At gain 2 the
untrained network starts badly (measured at lr* on seeds 0-3: initial loss 71-110, gradient
norm ~47-70 over the first 10 updates against ~3-4.5 after step 100), so the trouble sits
at the start of training, where the playbook recommends warmup and clipping. SGD with
momentum, mini-batches of 64, every run a few hundred steps, about a second on a 2-core CPU.
The runs give the same numbers on 1 and 2 CPU threads.

The protocol (playbook, "training instability"):

1. :func:`lr_sweep`: train at each learning rate; ``lr*`` is the largest one that trains on
   every seed (:func:`largest_stable_lr`).
2. :func:`early_check`: ~500 steps at ``2 * lr*``, evaluating every step; every run logs the
   loss and the unclipped global gradient norm per step (for a plot against the step and a
   histogram); :func:`loss_rise` measures how far a loss curve went back up.
3. The fixes at a learning rate far above ``lr*``: :func:`warmup_sweep` (ramp 0 -> base_lr
   over ``warmup_steps``, then constant for ``2 * warmup_steps``), clipping at the 90th
   percentile of the norms logged at ``lr*`` (:func:`clipping_fix`), and lowering the
   learning rate (the sweep's own runs at ``lr*``).

A run "trains" when every loss is finite and its final training loss is below
``TRAINED_LOSS``; it "diverged" when a loss is NaN/inf or the final loss is no better than
guessing (``>= DIVERGED_LOSS``, ln 10 = 2.30 predicts nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from torch import nn

from tnn._validate import check_int, check_positive
from tnn.data import digits_splits
from tnn.schedules import (
    clip_grad_norm_torch,
    clip_threshold,
    clipping_report,
    constant_lr,
    warmup_protocol_lr,
)

__all__ = [
    "InstabilityConfig",
    "LECTURE",
    "TRAINED_LOSS",
    "DIVERGED_LOSS",
    "instability_data",
    "make_deep_mlp",
    "train_run",
    "lr_sweep",
    "largest_stable_lr",
    "loss_rise",
    "early_check",
    "warmup_sweep",
    "clipping_fix",
]

TRAINED_LOSS = 0.5  # final training loss below this: the run trained (chance is 2.30)
DIVERGED_LOSS = 2.0  # final loss at or above this (or NaN/inf): the run diverged


@dataclass(frozen=True)
class InstabilityConfig:
    """The deep MLP and its optimizer."""

    depth: int = 8  # linear layers: 7 hidden ReLU layers, no normalization
    width: int = 64  # units per hidden layer
    init_gain: float = 2.0  # std = init_gain * sqrt(2 / fan_in): twice He's, a sharp start
    momentum: float = 0.9  # SGD's momentum
    batch_size: int = 64
    steps: int = 300  # updates per run of the sweep (and at least this many per run)


#: The lecture's settings.
LECTURE = {
    "config": InstabilityConfig(),
    "sweep_lrs": (0.001, 0.003, 0.01, 0.03),
    "check_steps": 500,  # the early-instability check: ~500 steps at 2 * lr*, every step evaluated
    "spike": 1.0,  # a rise of the validation loss by more than 1 nat above its running minimum
    "high_lr_factor": 10,  # the fixes are tried at 10 * lr* (the playbook's target for warmup)
    "warmup_steps": (10, 100, 1000),
    "percentile": 90.0,
    "seeds": (0, 1, 2, 3),
}


def instability_data(seed: int = 0, device="cpu") -> dict:
    """Digits split by ``seed`` (pixels scaled to [0, 1]) as tensors on ``device``:
    ``X`` (N, 64) float32 and ``y`` (N,) int64 for ``"train"`` and ``"val"``."""
    splits = digits_splits(np.random.default_rng(check_int(seed, "seed", 0)))
    out = {}
    for name in ("train", "val"):
        out[name] = (torch.as_tensor(splits[name].X / 16.0, device=device),
                     torch.as_tensor(splits[name].y, device=device))
    return out


def make_deep_mlp(config: InstabilityConfig = InstabilityConfig(), seed: int = 0,
                  device="cpu") -> nn.Sequential:
    """``Linear -> ReLU -> ... -> Linear`` (``config.depth`` linear layers, 64 inputs, 10
    outputs); hidden weights ~ N(0, (init_gain * sqrt(2 / fan_in))^2), the last layer's
    ~ N(0, 1 / fan_in), biases 0, drawn from a generator seeded with ``seed``."""
    gen = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    depth = check_int(config.depth, "depth", 2)
    sizes = [64] + [check_int(config.width, "width")] * (depth - 1) + [10]
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        lin = nn.Linear(d_in, d_out)
        last = i == depth - 1
        std = math.sqrt(1.0 / d_in) if last else config.init_gain * math.sqrt(2.0 / d_in)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(d_out, d_in, generator=gen) * std)
            lin.bias.zero_()
        layers += [lin] if last else [lin, nn.ReLU()]
    return nn.Sequential(*layers).to(device)


def train_run(data: dict, schedule, steps: int, *, config: InstabilityConfig = InstabilityConfig(),
              seed: int = 0, clip_norm: float | None = None, device="cpu") -> dict:
    """Train :func:`make_deep_mlp` for ``steps`` updates with ``lr = schedule(step)``.

    Every step logs the mini-batch loss, the unclipped global gradient norm and the
    validation loss after the update (the playbook's "evaluate every step"). A run stops at
    the first non-finite loss; the rest of its arrays is NaN.

    Parameters
    ----------
    data : dict from :func:`instability_data`
    schedule : callable ``lr(step)``, e.g. ``partial(constant_lr, base_lr=0.01)``
    clip_norm : float, optional
        Clip the global gradient norm at this λ before every update.

    Returns
    -------
    run : dict
        ``loss``, ``grad_norm``, ``lr``, ``val_loss``: arrays of shape (steps,); ``clipped``:
        bool array (steps,); ``final_loss`` (full training set, NaN if diverged),
        ``val_acc``, ``trained``, ``diverged`` (bools), ``steps_run``.
    """
    steps = check_int(steps, "steps")
    model = make_deep_mlp(config, seed, device)
    X, y = data["train"]
    Xv, yv = data["val"]
    lr0 = float(schedule(0))
    opt = torch.optim.SGD(model.parameters(), lr=lr0, momentum=config.momentum)
    gen = torch.Generator().manual_seed(10_000 + seed)
    log = {k: np.full(steps, np.nan) for k in ("loss", "grad_norm", "lr", "val_loss")}
    clipped = np.zeros(steps, dtype=bool)
    order, pos, bs = torch.randperm(len(y), generator=gen), 0, config.batch_size
    t = -1
    for t in range(steps):
        if pos + bs > len(y):  # a fresh shuffle every epoch
            order, pos = torch.randperm(len(y), generator=gen), 0
        idx = order[pos:pos + bs].to(device)
        pos += bs
        lr = float(schedule(t))
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = clip_grad_norm_torch(model, math.inf if clip_norm is None else clip_norm)
        log["loss"][t], log["grad_norm"][t], log["lr"][t] = loss.item(), norm.item(), lr
        if not (math.isfinite(log["loss"][t]) and math.isfinite(log["grad_norm"][t])):
            break
        clipped[t] = clip_norm is not None and log["grad_norm"][t] > clip_norm
        opt.step()
        with torch.no_grad():
            model.eval()
            log["val_loss"][t] = nn.functional.cross_entropy(model(Xv), yv).item()
    with torch.no_grad():
        model.eval()
        final = nn.functional.cross_entropy(model(X), y).item()
        val_acc = (model(Xv).argmax(1) == yv).float().mean().item()
    finite = bool(np.all(np.isfinite(log["loss"]))) and math.isfinite(final)
    return {**log, "clipped": clipped, "final_loss": final if finite else math.nan,
            "val_acc": val_acc, "trained": finite and final < TRAINED_LOSS,
            "diverged": not finite or final >= DIVERGED_LOSS, "steps_run": t + 1}


def lr_sweep(lrs=LECTURE["sweep_lrs"], seeds=LECTURE["seeds"], *,
             config: InstabilityConfig = InstabilityConfig(), device="cpu",
             progress=None) -> dict:
    """One constant-lr run of ``config.steps`` steps per learning rate and seed.

    Returns ``{(lr, seed): run}`` with the runs of :func:`train_run`.
    """
    jobs = [(float(check_positive(lr, "lr")), s) for lr in lrs for s in seeds]
    runs = {}
    for lr, seed in progress(jobs) if progress is not None else jobs:
        runs[(lr, seed)] = train_run(instability_data(seed, device),
                                     partial(constant_lr, base_lr=lr), config.steps,
                                     config=config, seed=seed, device=device)
    return runs


def largest_stable_lr(runs: dict) -> float:
    """lr*: the largest learning rate of a sweep whose runs trained on every seed."""
    lrs = sorted({lr for lr, _ in runs})
    stable = [lr for lr in lrs if all(r["trained"] for (x, _), r in runs.items() if x == lr)]
    if not stable:
        raise ValueError(f"no learning rate of the sweep {lrs} trained on every seed; add "
                         f"smaller ones.")
    return stable[-1]


def loss_rise(loss) -> float:
    """The largest rise of a loss curve above its running minimum, ``max_t (loss[t] -
    min_{s <= t} loss[s])``: 0 for a curve that never goes up, ``inf`` for one that
    reaches NaN/inf. ``loss``: array of shape (steps,), e.g. a run's ``val_loss``."""
    loss = np.asarray(loss, dtype=np.float64).ravel()
    if loss.size == 0:
        raise ValueError("loss must hold at least one value.")
    finite = np.isfinite(loss)
    if not finite.all():
        return math.inf
    return float(np.max(loss - np.minimum.accumulate(loss)))


def early_check(lr: float, seeds=LECTURE["seeds"], *, steps: int = LECTURE["check_steps"],
                config: InstabilityConfig = InstabilityConfig(), device="cpu") -> dict:
    """The playbook's check for early instability: ``steps`` updates at a constant ``lr``
    (usually ``2 * lr*``), the validation loss evaluated after every one.

    Returns ``{seed: run}``; :func:`loss_rise` of a run's ``val_loss`` measures the worst
    period in which the loss went up instead of down.
    """
    lr = check_positive(lr, "lr")
    return {seed: train_run(instability_data(seed, device), partial(constant_lr, base_lr=lr),
                            steps, config=config, seed=seed, device=device) for seed in seeds}


def warmup_sweep(base_lr: float, warmup_steps=LECTURE["warmup_steps"],
                 seeds=LECTURE["seeds"], *, config: InstabilityConfig = InstabilityConfig(),
                 device="cpu", progress=None) -> dict:
    """The playbook's warmup experiment at ``base_lr``: for each ``warmup_steps`` W, ramp
    0 -> ``base_lr`` over W steps, then constant for ``2 W`` steps (and at least
    ``config.steps`` steps in all, so a short warmup is judged over as many steps as the
    sweep). W = 0 is the run without warmup.

    Returns ``{(W, seed): run}``.
    """
    base_lr = check_positive(base_lr, "base_lr")
    jobs = [(check_int(w, "warmup_steps", 0), s) for w in warmup_steps for s in seeds]
    runs = {}
    for w, seed in progress(jobs) if progress is not None else jobs:
        steps = max(3 * w, config.steps)
        if w == 0:
            schedule = partial(constant_lr, base_lr=base_lr)
        else:
            schedule = partial(warmup_protocol_lr, base_lr=base_lr, warmup_steps=w,
                               post_warmup_steps=steps - w)
        runs[(w, seed)] = train_run(instability_data(seed, device), schedule, steps,
                                    config=config, seed=seed, device=device)
    return runs


def clipping_fix(reference_norms, base_lr: float, seeds=LECTURE["seeds"], *,
                 percentile: float = LECTURE["percentile"],
                 config: InstabilityConfig = InstabilityConfig(), device="cpu") -> dict:
    """Clip at the ``percentile``-th percentile of ``reference_norms`` (the unclipped norms
    logged in stable runs, e.g. the sweep's at lr*) and train at ``base_lr``.

    Returns
    -------
    result : dict
        ``threshold`` (λ), ``reference`` (:class:`tnn.schedules.ClipReport` of λ on the
        reference norms: about 10 % clipped), ``runs`` ({seed: run}) and ``reports``
        ({seed: ClipReport of λ on that run's own unclipped norms}).
    """
    reference = np.asarray(reference_norms, dtype=np.float64).ravel()
    threshold = clip_threshold(reference, percentile)
    runs, reports = {}, {}
    for seed in seeds:
        run = train_run(instability_data(seed, device), partial(constant_lr, base_lr=base_lr),
                        config.steps, config=config, seed=seed, clip_norm=threshold,
                        device=device)
        runs[seed] = run
        norms = run["grad_norm"][: run["steps_run"]]
        reports[seed] = clipping_report(norms[np.isfinite(norms)], threshold)
    return {"threshold": threshold, "reference": clipping_report(reference, threshold),
            "runs": runs, "reports": reports}
