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

4. Where a residual block's normalization goes (:func:`placement_sweep`): a residual MLP
   (:func:`make_residual_mlp`, 8 blocks of width 64, Adam, 300 steps) with the LayerNorm on
   the branch, ``x + Norm(f(x))``, trains at every lr up to 0.1 on seeds 0-7, while
   normalizing after the addition, ``Norm(x + f(x))``, fails on most seeds at 0.01 and on
   every seed from 0.03 on: lr* 0.003, 33 times lower, although it starts with the lowest
   loss and the smallest gradients. Adam's runs differ in detail between 1 and 2 CPU
   threads; these verdicts do not (only post-norm at 0.01: 4 or 3 failures of 4). Its
   failed runs stay finite and sit at chance: the branch grows to ~10-40 times the identity
   path and every image ends up with the same representation (:func:`residual_diagnostics`).

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

from tnn._validate import check_choice, check_int, check_positive
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
    "OPTIMIZERS",
    "PLACEMENTS",
    "RESIDUAL",
    "ResidualBlock",
    "make_residual_mlp",
    "placement_sweep",
    "placement_summary",
    "residual_diagnostics",
]

OPTIMIZERS = ("sgd", "adam")  # train_run's choices
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
    "high_lr_factor": 10,  # the fixes are tried at 10 * lr* (3x the rate that failed, 0.01)
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
              seed: int = 0, clip_norm: float | None = None, device="cpu",
              model: nn.Module | None = None, optimizer: str = "sgd") -> dict:
    """Train :func:`make_deep_mlp` (or ``model``) for ``steps`` updates with ``lr =
    schedule(step)``.

    Every step logs the mini-batch loss, the unclipped global gradient norm and the
    validation loss after the update (the playbook's "evaluate every step"). A run stops at
    the first non-finite loss; the rest of its arrays is NaN.

    Parameters
    ----------
    data : dict from :func:`instability_data`
    schedule : callable ``lr(step)``, e.g. ``partial(constant_lr, base_lr=0.01)``
    clip_norm : float, optional
        Clip the global gradient norm at this λ before every update.
    model : torch.nn.Module, optional
        The network to train, in place: (N, 64) pixels -> (N, 10) logits, e.g. from
        :func:`make_residual_mlp`. Default: a fresh ``make_deep_mlp(config, seed)``. Either
        way ``seed`` also fixes the order of the mini-batches.
    optimizer : {"sgd", "adam"}, default "sgd"
        ``"sgd"``: SGD with ``config.momentum``; ``"adam"``: ``torch.optim.Adam`` with its
        default betas (0.9, 0.999) and eps.

    Returns
    -------
    run : dict
        ``loss``, ``grad_norm``, ``lr``, ``val_loss``: arrays of shape (steps,); ``clipped``:
        bool array (steps,); ``final_loss`` (full training set, NaN if diverged),
        ``val_acc``, ``trained``, ``diverged`` (bools), ``steps_run``.
    """
    steps = check_int(steps, "steps")
    optimizer = check_choice(optimizer, "optimizer", OPTIMIZERS)
    if model is None:
        model = make_deep_mlp(config, seed, device)
    elif not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. make_residual_mlp('branch')) or "
                        f"None for make_deep_mlp; got {type(model).__name__}.")
    else:
        model = model.to(device)
    X, y = data["train"]
    Xv, yv = data["val"]
    lr0 = float(schedule(0))
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr0)
    else:
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


# ---------------------------------------------------------------------------- residual + norm
#: Where a residual block puts its LayerNorm; f = Linear -> ReLU -> Linear.
PLACEMENTS = {
    "branch": "x + Norm(f(x))",  # the playbook's placement: the norm on the branch
    "post": "Norm(x + f(x))",  # normalize after the addition
    "pre": "x + f(Norm(x))",  # the norm on the branch's input
    "none": "x + f(x)",  # no normalization
}

#: The placement experiment: a residual MLP trained with Adam over a grid of learning rates.
RESIDUAL = {
    "placements": tuple(PLACEMENTS),
    "blocks": 8,
    "width": 64,
    "optimizer": "adam",
    "steps": 300,
    "sweep_lrs": (0.001, 0.003, 0.01, 0.03, 0.1, 0.3),
    "seeds": (0, 1, 2, 3),
}


class ResidualBlock(nn.Module):
    """One residual block on (N, width) activations: f = Linear -> ReLU -> Linear, combined
    with its input and a LayerNorm as ``placement`` says (a key of :data:`PLACEMENTS`).

    Both linear layers start with He's std ``sqrt(2 / width)`` and zero biases, drawn from
    ``generator``; the LayerNorm starts at scale 1, shift 0.
    """

    def __init__(self, width: int, placement: str, generator: torch.Generator):
        super().__init__()
        self.placement = check_choice(placement, "placement", tuple(PLACEMENTS))
        self.f = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
        for lin in (self.f[0], self.f[2]):
            with torch.no_grad():
                lin.weight.copy_(torch.randn(width, width, generator=generator)
                                 * math.sqrt(2.0 / width))
                lin.bias.zero_()
        self.norm = None if placement == "none" else nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, width) -> (N, width)."""
        if self.placement == "branch":
            return x + self.norm(self.f(x))
        if self.placement == "post":
            return self.norm(x + self.f(x))
        if self.placement == "pre":
            return x + self.f(self.norm(x))
        return x + self.f(x)

    def extra_repr(self) -> str:
        return f"placement={self.placement!r}: {PLACEMENTS[self.placement]}"


def make_residual_mlp(placement: str, blocks: int = RESIDUAL["blocks"],
                      width: int = RESIDUAL["width"], seed: int = 0,
                      device="cpu") -> nn.Sequential:
    """``Linear(64, width) -> blocks x ResidualBlock(placement) -> Linear(width, 10)``.

    Parameters
    ----------
    placement : {"branch", "post", "pre", "none"}
        Where each block's LayerNorm goes (:data:`PLACEMENTS`): ``x + Norm(f(x))``,
        ``Norm(x + f(x))``, ``x + f(Norm(x))`` or no norm at all.
    blocks : int >= 1
    width : int >= 1
    seed : int >= 0
        Seeds the generator of every weight: the input layer (He's std ``sqrt(2 / 64)``),
        the blocks (He's, see :class:`ResidualBlock`), the output layer (std
        ``sqrt(1 / width)``); biases 0. The same seed gives the four placements the same
        weights.

    Returns
    -------
    model : torch.nn.Sequential
        (N, 64) pixels -> (N, 10) logits, for :func:`train_run`'s ``model``.
    """
    placement = check_choice(placement, "placement", tuple(PLACEMENTS))
    blocks, width = check_int(blocks, "blocks"), check_int(width, "width")
    gen = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    first, last = nn.Linear(64, width), nn.Linear(width, 10)
    with torch.no_grad():
        first.weight.copy_(torch.randn(width, 64, generator=gen) * math.sqrt(2.0 / 64))
        first.bias.zero_()
    body = [ResidualBlock(width, placement, gen) for _ in range(blocks)]
    with torch.no_grad():
        last.weight.copy_(torch.randn(10, width, generator=gen) * math.sqrt(1.0 / width))
        last.bias.zero_()
    return nn.Sequential(first, *body, last).to(device)


def placement_sweep(placements=RESIDUAL["placements"], lrs=RESIDUAL["sweep_lrs"],
                    seeds=RESIDUAL["seeds"], *, blocks: int = RESIDUAL["blocks"],
                    width: int = RESIDUAL["width"], optimizer: str = RESIDUAL["optimizer"],
                    steps: int = RESIDUAL["steps"],
                    config: InstabilityConfig = InstabilityConfig(), device="cpu",
                    progress=None) -> dict:
    """One constant-lr run of ``steps`` updates per placement, learning rate and seed, each
    on a fresh ``make_residual_mlp(placement, blocks, width, seed)`` (mini-batches of
    ``config.batch_size``; ``config.momentum`` if ``optimizer="sgd"``).

    Returns
    -------
    sweep : dict
        ``{placement: {(lr, seed): run}}`` with the runs of :func:`train_run`, so
        ``largest_stable_lr(sweep["post"])`` is that placement's lr*.
    """
    placements = [check_choice(p, "placement", tuple(PLACEMENTS)) for p in placements]
    lrs = [float(check_positive(lr, "lr")) for lr in lrs]
    optimizer = check_choice(optimizer, "optimizer", OPTIMIZERS)
    jobs = [(p, lr, s) for p in placements for lr in lrs for s in seeds]
    sweep: dict = {p: {} for p in placements}
    for p, lr, seed in progress(jobs) if progress is not None else jobs:
        model = make_residual_mlp(p, blocks, width, seed, device)
        sweep[p][(lr, seed)] = train_run(instability_data(seed, device),
                                         partial(constant_lr, base_lr=lr), steps,
                                         config=config, seed=seed, device=device, model=model,
                                         optimizer=optimizer)
    return sweep


def placement_summary(sweep: dict) -> dict:
    """Per placement of a :func:`placement_sweep`: ``lr_star`` (the largest lr that trained
    on every seed, NaN if none did), ``failed`` (``{lr: runs that did not train}``),
    ``diverged`` (``{lr: runs that diverged}``) and ``initial_loss`` (the mean loss of the
    first mini-batch, before any update)."""
    out = {}
    for placement, runs in sweep.items():
        lrs = sorted({lr for lr, _ in runs})
        stable = [lr for lr in lrs if all(r["trained"] for (x, _), r in runs.items() if x == lr)]
        out[placement] = {
            "lr_star": stable[-1] if stable else math.nan,
            "failed": {lr: sum(not r["trained"] for (x, _), r in runs.items() if x == lr)
                       for lr in lrs},
            "diverged": {lr: sum(r["diverged"] for (x, _), r in runs.items() if x == lr)
                         for lr in lrs},
            "initial_loss": float(np.mean([r["loss"][0] for r in runs.values()])),
        }
    return out


def residual_diagnostics(model: nn.Sequential, X: torch.Tensor) -> dict:
    """How the blocks of a :func:`make_residual_mlp` network treat the inputs ``X`` (N, 64).

    Returns
    -------
    diagnostics : dict
        ``branch_ratio``: array (blocks,), the RMS of what each block puts beside its input
        (``Norm(f(x))``, ``f(x)`` or ``f(Norm(x))``) over the RMS of its input ``x``: far
        above 1, the branch drowns the identity path. ``dead``: array (blocks,), the
        fraction of each block's hidden ReLU units that are 0 on every row of ``X``.
        ``spread``: the last block's output, its std across the rows (mean over units)
        over its mean absolute value; 0 means every input gets the same representation.
    """
    blocks = [m for m in model if isinstance(m, ResidualBlock)]
    if not blocks:
        raise TypeError("model must hold ResidualBlocks, e.g. make_residual_mlp('post'); got "
                        f"none in {type(model).__name__}.")
    ratios, dead = [], []
    with torch.no_grad():
        h = model[0](X)
        for block in blocks:
            inner = block.norm(h) if block.placement == "pre" else h
            hidden = block.f[1](block.f[0](inner))
            branch = block.f[2](hidden)
            if block.placement == "branch":
                branch = block.norm(branch)
            ratios.append((branch.square().mean().sqrt() / h.square().mean().sqrt()).item())
            dead.append(((hidden > 0).sum(0) == 0).float().mean().item())
            h = block(h)
        spread = (h.std(0).mean() / h.abs().mean()).item()
    return {"branch_ratio": np.array(ratios), "dead": np.array(dead), "spread": spread}
