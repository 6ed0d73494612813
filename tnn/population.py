"""Topic 09: many trials at once. A population of small digits MLPs, one per hyperparameter
trial, trained in one batched computation that equals training them one by one.

Each trial is a 64 -> ``hidden`` -> 10 ReLU MLP with inverted dropout on its hidden layer,
trained with AdamW (decoupled weight decay) on minibatches. A trial is a dict of
hyperparameters (any subset of :data:`HYPERPARAMETERS`, the rest take their defaults), as the
samplers of :mod:`tnn.search` return them, plus an optional ``"seed"``.

The population stacks the trials' weights along a leading axis: ``W1`` of shape
(P, 64, hidden), ``W2`` of shape (P, hidden, 10), and steps them with batched matrix
products (``torch.baddbmm``) and one vectorized AdamW update whose hyperparameters are
per-trial tensors of shape (P, 1, 1), in torch.optim.AdamW's order of operations. The loss that is differentiated is the sum of the trials'
own mean losses, so each trial's gradient is exactly its own. A trial that diverges (weights
no longer finite) is marked from that epoch on and does not touch the others.

Randomness is per trial: the initial weights come from a generator seeded with the trial's
seed (torch.nn.Linear's default initialization, :func:`tnn.optim_experiments.init_mlp`), the
batch order and the dropout masks from a second generator seeded with ``seed + 1``. Every
epoch draws a permutation and then the masks of all its updates, whatever the dropout rate,
so two trials with the same seed see the same batches in the same order (common random
numbers: their difference is the hyperparameters', not the luck of the draw). An epoch has
``N // batch_size`` updates (the last partial batch is dropped).

:func:`train_trial` is the one-by-one reference: the same model and the same random draws,
with ``torch.optim.AdamW`` and ordinary matrix products. The tests check that the population
equals it trial by trial.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from tnn._validate import _describe, check_positive_int
from tnn.optim_experiments import init_mlp, mlp_logits

__all__ = ["HYPERPARAMETERS", "check_trial", "train_trial", "train_population",
           "best_trial", "POPULATION_METRICS"]

#: The hyperparameters a trial may set, with the value a trial that leaves one out gets.
HYPERPARAMETERS: dict[str, float] = {
    "lr": 1e-3, "weight_decay": 0.0, "dropout": 0.0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
}

#: What :func:`train_population` and :func:`train_trial` return, each of shape
#: (trials, epochs) (a single trial: (epochs,)), measured after every epoch: validation loss
#: and accuracy and training accuracy without dropout on the whole set, and the mean
#: training loss of the epoch's updates (with dropout).
POPULATION_METRICS = ("val_loss", "val_acc", "train_loss", "train_acc")

_RANGES = {  # name: (lowest allowed, highest allowed, is the highest excluded)
    "lr": (0.0, math.inf, False), "weight_decay": (0.0, math.inf, False),
    "dropout": (0.0, 1.0, True), "beta1": (0.0, 1.0, True), "beta2": (0.0, 1.0, True),
    "eps": (0.0, math.inf, False),
}


def check_trial(trial: Mapping, seed: int = 0) -> dict:
    """A trial with every hyperparameter filled in and checked, plus its ``"seed"``.

    ``trial`` maps names of :data:`HYPERPARAMETERS` (and optionally ``"seed"``, an int >= 0)
    to values; ``seed`` is used when the trial has none. ``lr`` and ``eps`` must be > 0,
    ``weight_decay`` >= 0, ``dropout``, ``beta1`` and ``beta2`` in [0, 1).
    """
    if not isinstance(trial, Mapping):
        raise TypeError(f"a trial must be a dict of hyperparameters; got {_describe(trial)}.")
    unknown = set(trial) - set(HYPERPARAMETERS) - {"seed"}
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {sorted(unknown)}; a trial may set "
                         f"{sorted(HYPERPARAMETERS)} and 'seed'.")
    full = {**HYPERPARAMETERS, **{k: v for k, v in trial.items() if k != "seed"}}
    for name, value in full.items():
        low, high, open_high = _RANGES[name]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number; got {_describe(value)}.")
        value = float(value)
        positive = name in ("lr", "eps")
        if not math.isfinite(value) or value < low or (positive and value == low) or (
                value >= high if open_high else value > high):
            interval = (f"({low:g}, inf)" if positive else
                        f"[{low:g}, {high:g})" if open_high else f"[{low:g}, inf)")
            raise ValueError(f"{name} must be in {interval}; got {value!r}.")
        full[name] = value
    trial_seed = trial.get("seed", seed)
    if isinstance(trial_seed, bool) or not isinstance(trial_seed, numbers.Integral) \
            or trial_seed < 0:
        raise ValueError(f"a trial's seed must be an int >= 0; got {_describe(trial_seed)}.")
    full["seed"] = int(trial_seed)
    return full


def _data(split: Mapping, device, dtype):
    try:
        train, val = split["train"], split["val"]
    except (KeyError, TypeError):
        raise ValueError("split must be a dict with 'train' and 'val' Splits "
                         "(tnn.data.Split, pixels in [0, 1]).") from None
    as_x = lambda a: torch.as_tensor(np.asarray(a), device=device, dtype=dtype)  # noqa: E731
    as_y = lambda a: torch.as_tensor(np.asarray(a), device=device, dtype=torch.long)  # noqa: E731
    return as_x(train.X), as_y(train.y), as_x(val.X), as_y(val.y)


def _epoch_draws(gen: torch.Generator, n: int, steps: int, batch_size: int, hidden: int,
                 out=(None, None)):
    """One epoch's random draws for one trial: the batch order (N,) and the dropout
    uniforms (steps, B, H), float32 whatever the training precision (written into ``out``
    when given)."""
    order = torch.randperm(n, generator=gen, out=out[0])
    uniforms = torch.rand((steps, batch_size, hidden), generator=gen, out=out[1])
    return order, uniforms


def _dropout_scale(uniforms: torch.Tensor, p) -> torch.Tensor:
    """Inverted dropout: keep a unit where ``u >= p``, scaled by ``1 / (1 - p)``; ``u`` and
    ``p`` tensors of the training precision."""
    return torch.where(uniforms >= p, 1 / (1 - p), torch.zeros((), dtype=p.dtype,
                                                                device=p.device))


def _settings(epochs, batch_size, hidden, n_train):
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    hidden = check_positive_int(hidden, "hidden")
    if batch_size > n_train:
        raise ValueError(f"batch_size ({batch_size}) is larger than the training set "
                         f"({n_train} examples).")
    return epochs, batch_size, hidden, n_train // batch_size


def train_trial(trial: Mapping, split: Mapping, *, epochs: int = 10, batch_size: int = 64,
                hidden: int = 64, seed: int = 0, device="cpu",
                dtype: torch.dtype = torch.float32) -> dict:
    """Train one trial on its own with ``torch.optim.AdamW``: the reference that
    :func:`train_population` must equal.

    Returns ``{"val_loss", "val_acc", "train_loss", "train_acc"}``, each of shape (epochs,):
    the validation loss and accuracy and the training accuracy after every epoch (no
    dropout, whole sets) and the mean training loss of the epoch's updates (with dropout). From the first epoch whose weights are no longer
    finite, the losses are ``inf`` and the accuracy 0.
    """
    hp = check_trial(trial, seed)
    device = torch.device(device)
    X, y, Xv, yv = _data(split, device, dtype)
    epochs, batch_size, hidden, steps = _settings(epochs, batch_size, hidden, len(y))
    params = {k: v.to(dtype).requires_grad_(True) for k, v in
              init_mlp([X.shape[1], hidden, 10], hp["seed"], device).items()}
    optimizer = torch.optim.AdamW(list(params.values()), lr=hp["lr"],
                                  betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                                  weight_decay=hp["weight_decay"])
    gen = torch.Generator().manual_seed(hp["seed"] + 1)
    out = {"val_loss": np.full(epochs, np.inf), "val_acc": np.zeros(epochs),
           "train_loss": np.full(epochs, np.inf), "train_acc": np.zeros(epochs)}
    for epoch in range(epochs):
        order, uniforms = _epoch_draws(gen, len(y), steps, batch_size, hidden)
        scale = _dropout_scale(uniforms.to(device, dtype),
                               torch.tensor(hp["dropout"], device=device, dtype=dtype))
        total = 0.0
        for s in range(steps):
            idx = order[s * batch_size:(s + 1) * batch_size].to(device)
            h = torch.relu(X[idx] @ params["W1"] + params["b1"]) * scale[s]  # (B, H)
            loss = F.cross_entropy(h @ params["W2"] + params["b2"], y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item()
        with torch.no_grad():
            if not all(torch.isfinite(v).all() for v in params.values()):
                break
            logits = mlp_logits(params, Xv)  # (N_val, 10)
            out["val_loss"][epoch] = F.cross_entropy(logits, yv).item()
            out["val_acc"][epoch] = (logits.argmax(dim=1) == yv).double().mean().item()
            out["train_loss"][epoch] = total / steps
            out["train_acc"][epoch] = (mlp_logits(params, X).argmax(dim=1) == y).double(
            ).mean().item()
    return out


def _stacked_init(seeds: Sequence[int], sizes, device, dtype) -> dict:
    """Each trial's initial weights (:func:`init_mlp` with its seed), stacked: W (P, in, out),
    b (P, 1, out)."""
    inits = [init_mlp(sizes, s, device) for s in seeds]
    stacked = {}
    for name in inits[0]:
        t = torch.stack([init[name] for init in inits]).to(dtype)
        stacked[name] = (t[:, None, :] if name.startswith("b") else t).requires_grad_(True)
    return stacked


def _per_trial(hps: Sequence[dict], name: str, device, dtype) -> torch.Tensor:
    return torch.tensor([hp[name] for hp in hps], device=device, dtype=dtype)[:, None, None]


def _adamw_step(params: dict, grads, state: dict, t: int, hyper: dict) -> None:
    """One AdamW update of every trial at once, in place, in torch.optim.AdamW's order:
    decoupled decay ``p *= 1 - lr * wd``, the moments ``m``, ``v``, then
    ``p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)``. The
    hyperparameters are tensors of shape (P, 1, 1), one row per trial (the course's
    ``tnn.optimizers.adamw_rule`` is the same rule for one set of hyperparameters)."""
    lr, beta1, beta2 = hyper["lr"], hyper["beta1"], hyper["beta2"]
    correction1, correction2 = 1 - beta1 ** t, (1 - beta2 ** t).sqrt()
    for (name, p), g in zip(params.items(), grads, strict=True):
        m, v = state.setdefault(name, (torch.zeros_like(p), torch.zeros_like(p)))
        p.mul_(1 - lr * hyper["weight_decay"])
        m.mul_(beta1).add_((1 - beta1) * g)
        v.mul_(beta2).add_((1 - beta2) * g * g)
        p.sub_(lr / correction1 * m / (v.sqrt() / correction2 + hyper["eps"]))


def _train_chunk(hps: Sequence[dict], data, epochs, batch_size, hidden, steps, device, dtype,
                 bar) -> dict:
    X, y, Xv, yv = data
    P, n_val = len(hps), len(yv)
    params = _stacked_init([hp["seed"] for hp in hps], [X.shape[1], hidden, 10], device, dtype)
    hyper = {k: _per_trial(hps, k, device, dtype) for k in ("lr", "beta1", "beta2", "eps",
                                                            "weight_decay")}
    p_drop = _per_trial(hps, "dropout", device, dtype)[:, :, :, None]  # (P, 1, 1, 1)
    state: dict = {}  # name -> (first moment, second moment), stacked like the weights
    gens = [torch.Generator().manual_seed(hp["seed"] + 1) for hp in hps]
    out = {"val_loss": np.full((P, epochs), np.inf), "val_acc": np.zeros((P, epochs)),
           "train_loss": np.full((P, epochs), np.inf), "train_acc": np.zeros((P, epochs))}
    alive = torch.ones(P, dtype=torch.bool, device=device)
    orders = torch.empty((P, len(y)), dtype=torch.long)  # this epoch's draws, refilled
    uniforms = torch.empty((P, steps, batch_size, hidden))
    t = 0
    for epoch in range(epochs):
        for i, g in enumerate(gens):  # each trial's own draws, written in place
            _epoch_draws(g, len(y), steps, batch_size, hidden, out=(orders[i], uniforms[i]))
        scale = _dropout_scale(uniforms.to(device, dtype), p_drop)  # (P, steps, B, H)
        order_dev = orders.to(device)  # (P, N)
        total = torch.zeros(P, device=device, dtype=dtype)
        for s in range(steps):
            idx = order_dev[:, s * batch_size:(s + 1) * batch_size]  # (P, B)
            h = torch.relu(torch.baddbmm(params["b1"], X[idx], params["W1"])) * scale[:, s]
            logits = torch.baddbmm(params["b2"], h, params["W2"])  # (P, B, 10)
            losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y[idx].reshape(-1),
                                     reduction="none").reshape(P, batch_size).mean(dim=1)
            grads = torch.autograd.grad(losses.sum(), list(params.values()))
            t += 1
            with torch.no_grad():
                _adamw_step(params, grads, state, t, hyper)
                total += losses.detach()
        with torch.no_grad():
            finite = torch.stack([torch.isfinite(p).flatten(1).all(dim=1)
                                  for p in params.values()]).all(dim=0)  # (P,)
            alive &= finite
            h = torch.relu(torch.matmul(Xv, params["W1"]) + params["b1"])  # (P, N_val, H)
            logits = torch.matmul(h, params["W2"]) + params["b2"]  # (P, N_val, 10)
            val_loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yv.repeat(P),
                                       reduction="none").reshape(P, n_val).mean(dim=1)
            val_acc = (logits.argmax(dim=2) == yv).to(torch.float64).mean(dim=1)
            h = torch.relu(torch.matmul(X, params["W1"]) + params["b1"])  # (P, N, H)
            train_acc = ((torch.matmul(h, params["W2"]) + params["b2"]).argmax(dim=2) == y).to(
                torch.float64).mean(dim=1)
            keep = alive.cpu().numpy()
            out["val_loss"][keep, epoch] = val_loss.cpu().numpy()[keep]
            out["val_acc"][keep, epoch] = val_acc.cpu().numpy()[keep]
            out["train_loss"][keep, epoch] = (total / steps).cpu().numpy()[keep]
            out["train_acc"][keep, epoch] = train_acc.cpu().numpy()[keep]
        if bar is not None:
            bar.update(1)
    out["weights"] = {k: v.detach().cpu().numpy() for k, v in params.items()}
    return out


def train_population(trials: Sequence[Mapping], split: Mapping, *, epochs: int = 10,
                     batch_size: int = 64, hidden: int = 64, seed: int = 0, device="cpu",
                     dtype: torch.dtype = torch.float32, chunk: int = 256,
                     progress: bool = False, keep_weights: bool = False) -> dict:
    """Train every trial in ``trials`` at once; equal, trial by trial, to :func:`train_trial`.

    Parameters
    ----------
    trials : sequence of dict
        Hyperparameters per trial (:func:`check_trial`), e.g. from
        :func:`tnn.search.quasi_random_search`.
    split : dict
        ``"train"`` and ``"val"`` :class:`tnn.data.Split` s, pixels in [0, 1].
    epochs, batch_size, hidden : int
        The same for every trial (an epoch is ``N // batch_size`` updates).
    seed : int
        The seed of every trial that does not name its own.
    device, dtype
        Where and in what precision to train (float64 for exact comparisons).
    chunk : int
        At most this many trials are stacked at once. The largest buffer is an epoch's
        dropout uniforms, ``chunk * (N // batch_size) * batch_size * hidden`` floats (67 MB
        for 256 trials on the 1079 training digits).
    progress : bool
        Show a progress bar over chunk-epochs.
    keep_weights : bool
        Also return every trial's final weights.

    Returns
    -------
    dict with ``"val_loss"``, ``"val_acc"``, ``"train_loss"``, ``"train_acc"`` of shape
    (trials, epochs),
    ``"trials"`` (the filled-in trials) and ``"seconds"`` (wall time); with
    ``keep_weights``, ``"weights"``: ``{"W1": (trials, 64, hidden), "b1": (trials, 1,
    hidden), "W2": (trials, hidden, 10), "b2": (trials, 1, 10)}`` NumPy arrays (the layout of
    :func:`tnn.optim_experiments.init_mlp`, stacked; a diverged trial's are not finite).
    """
    if isinstance(trials, Mapping) or not isinstance(trials, Sequence) or not len(trials):
        raise ValueError("trials must be a non-empty list of trial dicts; got "
                         f"{_describe(trials)}.")
    hps = [check_trial(trial, seed) for trial in trials]
    device = torch.device(device)
    data = _data(split, device, dtype)
    epochs, batch_size, hidden, steps = _settings(epochs, batch_size, hidden, len(data[1]))
    chunk = check_positive_int(chunk, "chunk")
    start = time.perf_counter()
    parts = []
    n_chunks = -(-len(hps) // chunk)
    with tqdm(total=n_chunks * epochs, desc=f"{len(hps)} trials", disable=not progress,
              leave=False) as bar:
        for i in range(0, len(hps), chunk):
            parts.append(_train_chunk(hps[i:i + chunk], data, epochs, batch_size, hidden, steps,
                                      device, dtype, bar))
    result = {k: np.concatenate([part[k] for part in parts]) for k in POPULATION_METRICS}
    result["trials"] = hps
    if keep_weights:
        result["weights"] = {k: np.concatenate([part["weights"][k] for part in parts])
                             for k in parts[0]["weights"]}
    result["seconds"] = time.perf_counter() - start
    return result


def best_trial(result: Mapping, metric: str = "val_acc") -> tuple[int, dict, float]:
    """The trial with the best final ``metric`` (highest accuracy, lowest loss): its index,
    its hyperparameters and its score. Ties go to the earliest trial."""
    if metric not in POPULATION_METRICS:
        raise ValueError(f"metric must be one of {POPULATION_METRICS}; got {metric!r}.")
    final = np.asarray(result[metric])[:, -1]
    i = int(np.argmax(final) if metric == "val_acc" else np.argmin(final))
    return i, dict(result["trials"][i]), float(final[i])
