"""Lecture 04's training experiments on the deliberately small digits split.

A plain MLP (``make_mlp``, ReLU) trained with SGD + momentum on 200 digits fits its training
set perfectly; these functions measure what the penalties of :mod:`tnn.regularization`, early
stopping, ensembles and batch norm's two modes do to it. Every function takes the data split
and a seed, runs on the device it is given, and returns plain numbers and arrays.

The penalties follow the topic's convention (see :mod:`tnn.regularization`): L2 is
``(lam / 2) * sum(w**2)`` and L1 ``lam * sum(|w|)`` over the ``nn.Linear`` weights only,
never the biases (nor batch norm's parameters).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tnn._validate import check_choice, check_int, check_positive
from tnn.nets import evaluate, make_mlp, train_classifier


@dataclass(frozen=True)
class RegConfig:
    """The lecture's MLP and its training settings."""

    hidden: tuple[int, ...] = (256, 256)  # two ReLU hidden layers: plenty for 200 examples
    lr: float = 0.05
    momentum: float = 0.9
    batch_size: int = 32
    epochs: int = 50


#: The lecture's settings: the L2 sweep, the L1 run, the early-stopping patience, the
#: ensemble size and the batch sizes of the forgotten-eval-mode demonstration.
LECTURE = {
    "config": RegConfig(),
    "l2_lams": (0.0, 1e-3, 3e-3, 1e-2, 3e-2),
    "l1_lam": 3e-4,
    "patience": 10,
    "members": 10,
    "ensemble_config": RegConfig(epochs=20),  # members trained for 20 epochs each
    "bn_batch_sizes": (2, 4, 16, 64),
    "small": 1e-3,  # |w| below this counts as zero in the sparsity count
}


def _data(split):
    return split["train"].X, split["train"].y, split["val"].X, split["val"].y


def weight_penalty(lam: float, kind: str = "l2", beta: float = 1.0):
    """A ``penalty(model) -> scalar tensor`` for :func:`tnn.nets.train_classifier`.

    Sums over the weights of every ``nn.Linear`` (biases and batch-norm parameters are not
    penalized): ``(lam / 2) * sum(w**2)`` for ``"l2"``, ``lam * sum(|w|)`` for ``"l1"``,
    ``lam * sum(beta / 2 * w**2 + |w|)`` for ``"elastic_net"``. Autograd's derivative of
    ``abs`` at 0 is 0, the subgradient ``sign(0) = 0`` of the convention.
    """
    lam = check_positive(lam, "lam", allow_zero=True)
    kind = check_choice(kind, "kind", ("l2", "l1", "elastic_net"))
    beta = check_positive(beta, "beta", allow_zero=True)

    def penalty(model: nn.Module) -> torch.Tensor:
        total = 0.0
        for module in model.modules():
            if isinstance(module, nn.Linear):
                w = module.weight
                if kind in ("l2", "elastic_net"):
                    scale = lam * (beta if kind == "elastic_net" else 1.0)
                    total = total + 0.5 * scale * (w * w).sum()
                if kind in ("l1", "elastic_net"):
                    total = total + lam * w.abs().sum()
        return total

    return penalty


def small_weight_fraction(w, threshold: float = 1e-3) -> float:
    """Share of the entries of ``w`` (array, tensor or ``nn.Module``'s first Linear) with
    ``|w| < threshold``."""
    if isinstance(w, nn.Module):
        w = next(m for m in w.modules() if isinstance(m, nn.Linear)).weight
    if isinstance(w, torch.Tensor):
        w = w.detach().cpu().numpy()
    w = np.asarray(w)
    return float(np.mean(np.abs(w) < check_positive(threshold, "threshold")))


def first_layer_images(w) -> np.ndarray:
    """The first layer's weights as images: (H, 64) or an ``nn.Module`` -> (H, 8, 8)."""
    if isinstance(w, nn.Module):
        w = next(m for m in w.modules() if isinstance(m, nn.Linear)).weight
    if isinstance(w, torch.Tensor):
        w = w.detach().cpu().numpy()
    w = np.asarray(w)
    if w.ndim != 2 or w.shape[1] != 64:
        raise ValueError(f"expected weights of shape (H, 64) (nn.Linear(64, H).weight); got "
                         f"{w.shape}.")
    return w.reshape(-1, 8, 8)


def _model(config: RegConfig, seed: int, device, batchnorm: bool = False) -> nn.Module:
    # The initial weights come from torch's default initializers, seeded here inside a forked
    # generator state: the caller's global generator is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if not batchnorm:
            return make_mlp([64, *config.hidden, 10]).to(device)
        layers: list[nn.Module] = []
        width = 64
        for h in config.hidden:
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()]
            width = h
        return nn.Sequential(*layers, nn.Linear(width, 10)).to(device)


def train_with_snapshots(split, config: RegConfig = RegConfig(), *, seed: int = 0,
                         kind: str = "none", lam: float = 0.0, device="cpu",
                         keep_snapshots: bool = False, batchnorm: bool = False) -> dict:
    """Train the lecture's MLP once; record train/val curves (and optionally every epoch's
    weights, for early stopping).

    Returns
    -------
    run : dict
        ``train_loss, val_loss, val_acc, train_acc``: arrays of shape (epochs,);
        ``model``: the trained network; ``first_layer``: its first weight, (H, 64);
        ``snapshots``: list of state dicts, one per epoch (only with ``keep_snapshots``).
    """
    kind = check_choice(kind, "kind", ("none", "l2", "l1", "elastic_net"))
    model = _model(config, seed, device, batchnorm)
    Xt = torch.as_tensor(split["train"].X, device=device)
    yt = torch.as_tensor(split["train"].y, device=device)
    snapshots, train_acc = [], []

    def on_epoch(net, epoch, history):
        if epoch == 0:
            return
        train_acc.append(evaluate(net, Xt, yt)[1])
        if keep_snapshots:
            snapshots.append({k: v.detach().clone() for k, v in net.state_dict().items()})

    penalty = None if kind == "none" or lam == 0 else weight_penalty(lam, kind)
    hist = train_classifier(model, *_data(split), epochs=config.epochs, lr=config.lr,
                            momentum=config.momentum, batch_size=config.batch_size, seed=seed,
                            device=device, on_epoch=on_epoch, progress=False, penalty=penalty)
    run = {"train_loss": np.array(hist.train_loss), "val_loss": np.array(hist.val_loss),
           "val_acc": np.array(hist.val_acc), "train_acc": np.array(train_acc),
           "model": model, "first_layer": model[0].weight.detach().cpu().numpy()}
    if keep_snapshots:
        run["snapshots"] = snapshots
    return run


def penalty_sweep(split, config: RegConfig = RegConfig(), *, lams=LECTURE["l2_lams"],
                  l1_lam: float = LECTURE["l1_lam"], seed: int = 0, device="cpu",
                  progress=None) -> dict:
    """One run per L2 strength in ``lams`` (0 = no penalty) and one L1 run.

    Every run starts from the same initial weights and batch order (``seed``), so the runs
    differ only in the penalty. Returns ``{("l2", lam): run, ("l1", l1_lam): run}`` with
    the runs of :func:`train_with_snapshots` (the unpenalized run keeps its snapshots).
    """
    jobs = [("l2", float(lam)) for lam in lams] + [("l1", float(l1_lam))]
    runs = {}
    for kind, lam in jobs:
        runs[(kind, lam)] = train_with_snapshots(split, config, seed=seed, kind=kind, lam=lam,
                                                 device=device, keep_snapshots=lam == 0)
        if progress is not None:
            progress.update(1)
    return runs


def ensemble_curve(split, config: RegConfig = RegConfig(epochs=20), *, members: int = 10,
                   seed: int = 0, orders: int = 50, device="cpu", progress=None) -> dict:
    """Train ``members`` independently seeded MLPs; accuracy of ensembles of 1..members.

    An ensemble averages its members' softmax probabilities. Which members form an ensemble
    of size n matters, so the curve averages over ``orders`` random orders of the members
    (the first n of each order, each member first equally often when ``orders`` is a
    multiple of ``members``); at n = 1 that is the mean member accuracy.

    Returns
    -------
    result : dict
        ``member_acc``: (members,) validation accuracies; ``ensemble_acc``: (members,), the
        mean accuracy of ensembles of 1..members; ``gain``: ensemble_acc - member mean.
    """
    members = check_int(members, "members")
    Xv = torch.as_tensor(split["val"].X, device=device)
    y = split["val"].y
    probs, accs = [], []
    for k in range(members):
        run = train_with_snapshots(split, config, seed=1000 * seed + k, device=device)
        with torch.no_grad():
            run["model"].eval()
            probs.append(torch.softmax(run["model"](Xv), dim=1).cpu().numpy())
        accs.append(run["val_acc"][-1])
        if progress is not None:
            progress.update(1)
    probs = np.stack(probs)  # (members, N_val, 10)
    rng = np.random.default_rng(seed)
    curve = np.zeros(members)
    for o in range(check_int(orders, "orders")):
        first = o % members  # every member leads equally often: n = 1 is the member mean
        rest = rng.permutation(np.delete(np.arange(members), first))
        order = np.concatenate([[first], rest])
        cum = np.cumsum(probs[order], axis=0)  # (members, N_val, 10)
        curve += (cum.argmax(axis=2) == y).mean(axis=1)
    curve /= orders
    accs = np.array(accs)
    return {"member_acc": accs, "ensemble_acc": curve, "gain": curve - accs.mean()}


def batchnorm_eval_bug(split, config: RegConfig = RegConfig(), *,
                       batch_sizes=LECTURE["bn_batch_sizes"], seed: int = 0,
                       device="cpu") -> dict:
    """Train the MLP with batch norm, then evaluate it correctly and with eval mode forgotten.

    In ``eval()`` each example is normalized with the running statistics, so its prediction
    does not depend on the batch it arrives in. In ``train()`` mode every test batch is
    normalized with its own statistics (noisy for small batches) and each batch also moves
    the running statistics.

    Returns
    -------
    result : dict
        ``eval_acc``: accuracy in eval mode; ``train_mode_acc``: {batch size: accuracy with
        the model left in train mode, the validation set fed in batches of that size};
        ``running_mean_shift``: {batch size: max |change| of the first batch norm's
        running mean caused by that evaluation}; ``train_acc``: final training accuracy.
    """
    run = train_with_snapshots(split, config, seed=seed, device=device, batchnorm=True)
    model = run["model"]
    Xv = torch.as_tensor(split["val"].X, device=device)
    yv = torch.as_tensor(split["val"].y, device=device)
    out = {"eval_acc": evaluate(model, Xv, yv)[1], "train_mode_acc": {},
           "running_mean_shift": {}, "train_acc": float(run["train_acc"][-1])}
    for bs in batch_sizes:
        net = copy.deepcopy(model)
        before = net[1].running_mean.clone()
        net.train()  # the bug: evaluation without net.eval()
        correct = seen = 0
        with torch.no_grad():
            for start in range(0, len(yv), bs):
                xb = Xv[start:start + bs]
                if len(xb) < 2:
                    continue  # BatchNorm1d refuses one example in train mode
                correct += (net(xb).argmax(1) == yv[start:start + bs]).sum().item()
                seen += len(xb)
        out["train_mode_acc"][bs] = correct / seen
        out["running_mean_shift"][bs] = (net[1].running_mean - before).abs().max().item()
    return out


def adam_vs_adamw(lam: float = 0.1, lr: float = 0.05, steps: int = 200, seed: int = 0) -> dict:
    """L2 in the loss versus decoupled weight decay, for SGD and for Adam, on a tiny problem.

    A linear least-squares problem, 64 examples x 8 features (float64). Each pair of runs
    starts from the same weights:

    - SGD: ``(lam/2)|w|^2`` added to the loss versus ``torch.optim.SGD(weight_decay=lam)``
      versus the multiplicative step ``w <- (1 - lr*lam) w - lr*grad``: the same numbers.
    - Adam: ``(lam/2)|w|^2`` in the loss versus ``torch.optim.Adam(weight_decay=lam)``: the
      same (Adam's weight_decay adds ``lam*w`` to the gradient, which Adam then rescales);
      versus ``torch.optim.AdamW(weight_decay=lam)``, which shrinks ``w`` by
      ``(1 - lr*lam)`` outside the adaptive step: different weights.

    Returns a dict of max absolute differences between final weights (``sgd_penalty_vs_
    weight_decay``, ``sgd_penalty_vs_multiplicative``, ``adam_penalty_vs_weight_decay``,
    ``adam_l2_vs_adamw``) and the final weight norms of each Adam variant.
    """
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(64, 8, generator=gen, dtype=torch.float64)
    y = X @ torch.randn(8, generator=gen, dtype=torch.float64) * 3 + 0.1 * torch.randn(
        64, generator=gen, dtype=torch.float64)
    w0 = torch.randn(8, generator=gen, dtype=torch.float64)

    def run(make_opt, in_loss: bool, manual: bool = False):
        w = w0.clone().requires_grad_(True)
        opt = None if manual else make_opt([w])
        for _ in range(steps):
            loss = 0.5 * ((X @ w - y) ** 2).mean()
            if in_loss:
                loss = loss + 0.5 * lam * (w * w).sum()
            (g,) = torch.autograd.grad(loss, w)
            if manual:
                with torch.no_grad():
                    w.mul_(1 - lr * lam).sub_(lr * g)
            else:
                w.grad = g
                opt.step()
        return w.detach()

    sgd = lambda p, wd=0.0: torch.optim.SGD(p, lr=lr, weight_decay=wd)  # noqa: E731
    adam = lambda p, wd=0.0: torch.optim.Adam(p, lr=lr, weight_decay=wd)  # noqa: E731
    sgd_loss, sgd_wd = run(sgd, True), run(lambda p: sgd(p, lam), False)
    sgd_mult = run(None, False, manual=True)
    adam_loss, adam_wd = run(adam, True), run(lambda p: adam(p, lam), False)
    adamw = run(lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=lam), False)
    diff = lambda a, b: float((a - b).abs().max())  # noqa: E731
    return {"sgd_penalty_vs_weight_decay": diff(sgd_loss, sgd_wd),
            "sgd_penalty_vs_multiplicative": diff(sgd_loss, sgd_mult),
            "adam_penalty_vs_weight_decay": diff(adam_loss, adam_wd),
            "adam_l2_vs_adamw": diff(adam_loss, adamw),
            "norm_adam_l2": float(adam_loss.norm()), "norm_adamw": float(adamw.norm()),
            "norm_sgd": float(sgd_loss.norm())}


def snapshot_accuracy(run: dict, epoch: int, X, y, device="cpu") -> float:
    """Accuracy on ``(X, y)`` of the weights a run held after ``epoch`` (1-based); the run
    must come from :func:`train_with_snapshots` with ``keep_snapshots=True``."""
    if "snapshots" not in run:
        raise ValueError("this run kept no snapshots: train it with keep_snapshots=True.")
    epoch = check_int(epoch, "epoch")
    if epoch > len(run["snapshots"]):
        raise ValueError(f"epoch must be at most {len(run['snapshots'])}; got {epoch}.")
    net = copy.deepcopy(run["model"])
    net.load_state_dict(run["snapshots"][epoch - 1])
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
    yt = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
    return evaluate(net.to(device), Xt, yt)[1]


def lecture_split(seed: int = 0) -> dict:
    """The lecture's data: :func:`tnn.data.small_digits` with 200 training digits, its usual
    500 validation digits (the same as ``small_digits(rng)``), and 500 more as a test split
    that no choice ever looks at."""
    from tnn.data import Split, small_digits

    split = small_digits(np.random.default_rng(seed), n_train=200, n_val=1000)
    val = split["val"]
    return {"train": split["train"], "val": Split(val.X[:500], val.y[:500]),
            "test": Split(val.X[500:], val.y[500:])}
