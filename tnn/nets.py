"""A small torch MLP and training loop shared by the lectures (digits-sized problems)."""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
}


def make_mlp(sizes: list[int], activation: str = "relu") -> nn.Sequential:
    """``Linear -> activation`` for every hidden layer, then a final ``Linear``.

    Parameters
    ----------
    sizes : list of int
        ``[in_features, hidden_1, ..., out_features]``, at least two entries.
    activation : str
        One of ``relu, leaky_relu, tanh, sigmoid, elu, selu, gelu``.
    """
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must list at least two positive layer widths; got {sizes}.")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}; got {activation!r}.")
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(sizes) - 2:
            layers.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


@dataclass
class History:
    """Per-epoch curves of one training run."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    extras: dict[str, list] = field(default_factory=dict)


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on the whole of ``X`` (N, D), ``y`` (N,)."""
    model.eval()
    logits = model(X)
    loss = nn.functional.cross_entropy(logits, y).item()
    acc = (logits.argmax(dim=1) == y).float().mean().item()
    return loss, acc


def train_classifier(
    model: nn.Module,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    epochs: int = 20,
    lr: float = 0.1,
    batch_size: int = 64,
    momentum: float = 0.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    on_epoch=None,
    progress: bool = True,
    weight_decay: float = 0.0,
    penalty=None,
) -> History:
    """Train ``model`` with mini-batch SGD on cross-entropy; return the per-epoch history.

    The batch order comes from a ``torch.Generator`` seeded with ``seed``, so two runs with
    the same initial weights and seed give identical curves on the CPU.

    Parameters
    ----------
    X_train, X_val : ndarray of shape (N, D)
    y_train, y_val : ndarray of shape (N,) of int class labels
    on_epoch : callable, optional
        Called as ``on_epoch(model, epoch, history)`` after every epoch (epoch 0 = before
        training); may record extras in ``history.extras``.
    weight_decay : float
        Passed to ``torch.optim.SGD`` (decays every parameter, biases included).
    penalty : callable, optional
        ``penalty(model) -> scalar tensor`` added to every mini-batch's loss (e.g. an L1 or
        L2 term on the weights only); ``history.train_loss`` records the data loss alone.
    """
    device = torch.device(device)
    model.to(device)
    Xt = torch.as_tensor(np.asarray(X_train, dtype=np.float32), device=device)
    yt = torch.as_tensor(np.asarray(y_train, dtype=np.int64), device=device)
    Xv = torch.as_tensor(np.asarray(X_val, dtype=np.float32), device=device)
    yv = torch.as_tensor(np.asarray(y_val, dtype=np.int64), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                          weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    history = History()
    if on_epoch is not None:
        on_epoch(model, 0, history)
    # A text bar on stdout, not a widget: it stays readable in a saved notebook (a widget bar
    # shows "model not found" once the notebook is reopened) and costs nothing headless.
    for epoch in tqdm(range(1, epochs + 1), desc="epochs", disable=not progress, leave=True,
                      file=sys.stdout, mininterval=0.5):
        model.train()
        order = torch.randperm(len(yt), generator=gen).to(device)
        total = 0.0
        for start in range(0, len(yt), batch_size):
            idx = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            (loss if penalty is None else loss + penalty(model)).backward()
            opt.step()
            total += loss.item() * len(idx)
        history.train_loss.append(total / len(yt))
        val_loss, val_acc = evaluate(model, Xv, yv)
        history.val_loss.append(val_loss)
        history.val_acc.append(val_acc)
        if on_epoch is not None:
            on_epoch(model, epoch, history)
    return history


@torch.no_grad()
def hidden_preactivations(model: nn.Sequential, X) -> list[np.ndarray]:
    """Inputs to every activation layer of ``model`` for the batch ``X``.

    Returns one array of shape (N, H_l) per hidden layer: the output of each ``nn.Linear``
    that is followed by a nonlinearity, i.e. what :func:`tnn.activations.dead_unit_fraction`
    and :func:`tnn.activations.saturated_fraction` measure.
    """
    device = next(model.parameters()).device
    h = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
    layers = list(model)
    out = []
    model.eval()
    for i, layer in enumerate(layers):
        h = layer(h)
        if isinstance(layer, nn.Linear) and i + 1 < len(layers):
            out.append(h.cpu().numpy())
    return out


def swap_activation(model: nn.Sequential, activation: str) -> nn.Sequential:
    """A copy of an MLP from :func:`make_mlp` with every nonlinearity replaced.

    The ``nn.Linear`` layers are deep copies (same weights, independent of ``model``), so
    two networks can continue from one state with different activations.

    Parameters
    ----------
    model : nn.Sequential
        ``Linear -> activation -> ... -> Linear`` as built by :func:`make_mlp`.
    activation : str
        One of ``relu, leaky_relu, tanh, sigmoid, elu, selu, gelu``.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}; got {activation!r}.")
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be an nn.Sequential from make_mlp; got {type(model).__name__}.")
    layers = [copy.deepcopy(m) if isinstance(m, nn.Linear) else _ACTIVATIONS[activation]()
              for m in model]
    return nn.Sequential(*layers)


def dead_relu_experiment(
    model: nn.Sequential,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    bias_shift: float = 4.0,
    warm_epochs: int = 10,
    epochs: int = 10,
    lr: float = 0.1,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> dict:
    """Kill first-layer ReLU units on purpose, then see whether training can revive them.

    1. Train ``model`` (a ReLU MLP from :func:`make_mlp`) for ``warm_epochs`` at ``lr``.
    2. Lower every first-layer bias by ``bias_shift``: the effect of one bad update.
    3. Continue for ``epochs`` at ``lr`` twice from that state: with ReLU, and with the same
       weights under Leaky ReLU (slope 0.01).

    A first-layer unit sees the fixed training inputs, so once its pre-activation is <= 0 on
    all of them, ReLU gives its weights exactly zero gradient: it stays dead. Leaky ReLU
    passes 1% of the gradient, so the same units keep learning.

    Parameters
    ----------
    model : nn.Sequential
        Modified in place by steps 1 and 2; the two continuations run on copies.
    X_train, X_val : ndarray of shape (N, D), float32
    y_train, y_val : ndarray of shape (N,), int class labels
    bias_shift : float
        How far every first-layer bias is lowered in step 2.

    Returns
    -------
    result : dict
        ``dead_init``, ``dead_trained``, ``dead_shifted``: lists with the dead-unit fraction
        of each hidden layer (:func:`tnn.activations.dead_unit_fraction` over ``X_train``) at
        initialization, after step 1 and after step 2; ``z_std``: std of the first layer's
        pre-activations after step 1; ``val_acc_trained``, ``val_acc_shifted``: validation
        accuracy after steps 1 and 2; ``killed``: boolean array (H_1,) of the first-layer
        units dead after step 2; and for each of ``"relu"`` and ``"leaky_relu"`` a dict with
        ``dead`` (per-layer fractions after step 3), ``still_dead`` (share of the killed
        units still dead), ``moved`` (largest absolute change of a killed unit's incoming
        weights or bias during step 3) and ``val_acc``.
    """
    from tnn.activations import dead_unit_fraction

    def dead(net):
        return [dead_unit_fraction(z) for z in hidden_preactivations(net, X_train)]

    def killed_params(net):
        first = net[0]
        return torch.cat([first.weight.detach()[killed_t], first.bias.detach()[killed_t, None]], 1)

    data = (X_train, y_train, X_val, y_val)
    out = {"dead_init": dead(model)}
    hist = train_classifier(model, *data, epochs=warm_epochs, lr=lr, seed=seed, device=device,
                            progress=progress)
    out["dead_trained"], out["val_acc_trained"] = dead(model), hist.val_acc[-1]
    out["z_std"] = float(hidden_preactivations(model, X_train)[0].std())
    with torch.no_grad():
        model[0].bias -= bias_shift  # (H_1,): one bad update to every first-layer bias
    z1 = hidden_preactivations(model, X_train)[0]  # (N, H_1)
    killed = np.all(z1 <= 0, axis=0)  # (H_1,)
    killed_t = torch.as_tensor(killed, device=next(model.parameters()).device)
    out["dead_shifted"], out["killed"] = dead(model), killed
    out["val_acc_shifted"] = evaluate(model, *_tensors(X_val, y_val, model))[1]
    for activation in ("relu", "leaky_relu"):
        net = swap_activation(model, activation)
        start = killed_params(net).clone()
        hist = train_classifier(net, *data, epochs=epochs, lr=lr, seed=seed, device=device,
                                progress=progress)
        moved = (killed_params(net) - start).abs().max().item() if killed.any() else 0.0
        z1 = hidden_preactivations(net, X_train)[0]
        still = float(np.mean(np.all(z1[:, killed] <= 0, axis=0))) if killed.any() else 0.0
        out[activation] = {"dead": dead(net), "still_dead": still, "moved": moved,
                           "val_acc": hist.val_acc[-1]}
    return out


def _tensors(X, y, model):
    device = next(model.parameters()).device
    return (torch.as_tensor(np.asarray(X, dtype=np.float32), device=device),
            torch.as_tensor(np.asarray(y, dtype=np.int64), device=device))
