"""A small torch MLP and training loop shared by the lectures (digits-sized problems)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

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
    """
    device = torch.device(device)
    model.to(device)
    Xt = torch.as_tensor(np.asarray(X_train, dtype=np.float32), device=device)
    yt = torch.as_tensor(np.asarray(y_train, dtype=np.int64), device=device)
    Xv = torch.as_tensor(np.asarray(X_val, dtype=np.float32), device=device)
    yv = torch.as_tensor(np.asarray(y_val, dtype=np.int64), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    gen = torch.Generator().manual_seed(seed)
    history = History()
    if on_epoch is not None:
        on_epoch(model, 0, history)
    for epoch in tqdm(range(1, epochs + 1), desc="epochs", disable=not progress, leave=False):
        model.train()
        order = torch.randperm(len(yt), generator=gen).to(device)
        total = 0.0
        for start in range(0, len(yt), batch_size):
            idx = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
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
