"""Lecture 06's measured experiments, on any device (the augmentations run batched in torch):

- the same small network trained on a deliberately small digits training set with and
  without augmentation, scored on clean, rotated and shifted validation digits
  (:func:`augmentation_study`; augmented at training time only);
- which mirrorings keep a digit's label: a classifier trained on upright digits scores
  flipped and upside-down ones, class by class (:func:`flip_label_study`);
- a localisation task whose labels must move with the pixels, trained with the labels
  flipped and with the labels forgotten (:func:`localisation_study`);
- scikit-learn's two sample photographs, made small, to show the operations on colour
  images (:func:`sample_images`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from tnn import augmentation as aug
from tnn._validate import check_choice, check_int, check_rng
from tnn.data import Split, small_digits
from tnn.device import few_threads

__all__ = ["AUGMENTATIONS", "digits_images", "augment_batch", "transformed_val",
           "train_augmented", "augmentation_study", "sample_images", "MIRRORS",
           "flip_label_study", "PIPELINES", "marker_digits", "train_localiser",
           "localisation_study"]

#: name -> what happens to each training batch (8 x 8 digits, values in [0, 1])
AUGMENTATIONS: dict[str, str] = {
    "none": "the images as they are",
    "shift": "random crop with 1 pixel of padding (a shift of up to 1 pixel each way)",
    "cutout": "Cutout: a 4 x 4 square at a random centre set to 0",
    "mixup": "Mixup with alpha = 0.4: pairs of images and their labels blended",
    "shift+cutout": "a shift, then Cutout",
    "rotate": "a rotation by up to 15 degrees either way",
    "affine": "a rotation by up to 10 degrees and a shear up to 0.2, subpixel",
}


def digits_images(X) -> np.ndarray:
    """Flat digits (N, 64) as a NumPy image batch (N, 8, 8, 1)."""
    return np.asarray(X).reshape(-1, 8, 8, 1)


def augment_batch(name: str, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator,
                  num_classes: int = 10):
    """One training batch (N, 1, 8, 8) and its labels under augmentation ``name``; returns the
    images and label rows (N, num_classes)."""
    check_choice(name, "augmentation", tuple(AUGMENTATIONS))
    if name == "mixup":
        x, labels, _ = aug.mixup_torch(x, y, 0.4, generator, num_classes=num_classes)
        return x, labels
    if name == "rotate":
        x, _ = aug.random_rotation_torch(x, 15.0, generator)
    if name == "affine":
        u = torch.rand(2, len(x), generator=generator, device=generator.device).cpu().numpy()
        m = aug.rotation_matrix(20 * u[0] - 10) @ aug.shear_matrix(0.4 * u[1] - 0.2)
        x = aug.affine_torch(x, m)
    if "shift" in name:
        x, _ = aug.random_crop_torch(x, 1, generator)
    if "cutout" in name:
        x, _ = aug.cutout_torch(x, 4, generator)
    return x, F.one_hot(y, num_classes).to(x.dtype)


def _mlp(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def _cnn(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 16, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def transformed_val(splits, kind: str, seed: int = 100):
    """The validation split with the variation a deployment might bring: ``"rotated"`` (each
    image turned by up to 20 degrees either way) or ``"shifted"`` (moved by up to one pixel
    each way, the border filled with 0); one fixed draw per ``seed``, the same for every
    model it scores."""
    kind = check_choice(kind, "kind", ("rotated", "shifted"))
    x = digits_images(splits["val"].X)
    rng = np.random.default_rng(seed)
    out = aug.random_rotation(x, 20.0, rng)[0] if kind == "rotated" else \
        aug.random_crop(x, 1, rng)[0]
    return Split(out.reshape(len(x), 64).astype(np.float32), splits["val"].y)


def train_augmented(splits, augmentation="none", *, seed: int = 0, epochs: int = 100,
                    hidden: int = 256, lr: float = 1e-3, batch_size: int = 50,
                    model: str = "mlp", eval_splits: dict | None = None, device="cpu") -> dict:
    """Train a 64-``hidden``-10 ReLU MLP (``model="cnn"``: two 3 x 3 convolutions, a pool and
    two linear layers) with Adam on ``splits["train"]`` (digits scaled to [0, 1], as
    :func:`tnn.data.small_digits` returns them), augmenting every training batch; validation
    images are never augmented.

    ``augmentation`` is a name from :data:`AUGMENTATIONS` or a function
    ``(x (N, 1, 8, 8), y (N,), generator) -> (x, label rows (N, 10))``.

    Returns ``train_acc`` and ``val_acc`` per epoch (clean training images, eval mode), the
    final ``gap`` = train_acc - val_acc, ``eval_acc`` (final accuracy on each split of
    ``eval_splits``, e.g. :func:`transformed_val`) and the trained ``model``.
    """
    if not callable(augmentation):
        check_choice(augmentation, "augmentation", tuple(AUGMENTATIONS))
    epochs = check_int(epochs, "epochs")
    device = torch.device(device)
    torch.manual_seed(seed)
    model = {"mlp": _mlp, "cnn": _cnn}[model](hidden).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator(device=device).manual_seed(seed)
    x_tr = torch.as_tensor(splits["train"].X, device=device).reshape(-1, 1, 8, 8)
    y_tr = torch.as_tensor(splits["train"].y, device=device)
    x_va = torch.as_tensor(splits["val"].X, device=device).reshape(-1, 1, 8, 8)
    y_va = torch.as_tensor(splits["val"].y, device=device)
    history = {"train_acc": [], "val_acc": []}
    with few_threads(device):
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(x_tr), generator=gen, device=device)
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                if callable(augmentation):
                    xb, yb = augmentation(x_tr[idx].clone(), y_tr[idx].clone(), gen)
                else:
                    xb, yb = augment_batch(augmentation, x_tr[idx], y_tr[idx], gen)
                loss = -(yb * F.log_softmax(model(xb), 1)).sum(1).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                history["train_acc"].append((model(x_tr).argmax(1) == y_tr).float().mean().item())
                history["val_acc"].append((model(x_va).argmax(1) == y_va).float().mean().item())
        history = {k: np.array(v) for k, v in history.items()}
        model.eval()
        with torch.no_grad():
            history["eval_acc"] = {
                name: (model(torch.as_tensor(split.X, device=device).reshape(-1, 1, 8, 8))
                       .argmax(1).cpu().numpy() == np.asarray(split.y)).mean().item()
                for name, split in (eval_splits or {}).items()}
    history["gap"] = float(history["train_acc"][-1] - history["val_acc"][-1])
    history["model"] = model
    return history


def augmentation_study(seeds=(0, 1, 2, 3), augmentations=("none", "shift", "rotate", "mixup"),
                       *, n_train: int = 200, n_val: int = 500, device="cpu", **train_kw) -> dict:
    """Final accuracy per augmentation and split seed on the clean, rotated and shifted
    validation images, and the train/val gap: ``{name: {"clean": (S,), "rotated": (S,),
    "shifted": (S,), "gap": (S,)}}``; the same split and initialization for every
    augmentation of a seed."""
    out = {name: {"clean": [], "rotated": [], "shifted": [], "gap": []} for name in augmentations}
    for seed in seeds:
        splits = small_digits(np.random.default_rng(seed), n_train=n_train, n_val=n_val)
        variants = {kind: transformed_val(splits, kind, seed=100 + seed)
                    for kind in ("rotated", "shifted")}
        for name in augmentations:
            h = train_augmented(splits, name, seed=seed, device=device, eval_splits=variants,
                                **train_kw)
            out[name]["clean"].append(h["val_acc"][-1])
            out[name]["gap"].append(h["gap"])
            for kind in variants:
                out[name][kind].append(h["eval_acc"][kind])
    return {k: {m: np.array(v) for m, v in d.items()} for k, d in out.items()}


# --------------------------------------------------------------------------------------------
# pictures to augment: scikit-learn's two sample photographs, made small
# --------------------------------------------------------------------------------------------
def sample_images(height: int = 64, width: int = 96) -> np.ndarray:
    """scikit-learn's sample photographs (china.jpg, flower.jpg) as a batch (2, height,
    width, 3) in [0, 1], float32: the central crop that fits ``k`` times, averaged over
    k x k blocks (no aliasing), k as large as the 427 x 640 originals allow."""
    from sklearn.datasets import load_sample_images

    height, width = check_int(height, "height"), check_int(width, "width")
    photos = np.stack(load_sample_images().images).astype(np.float32) / 255  # (2, 427, 640, 3)
    k = min(photos.shape[1] // height, photos.shape[2] // width)
    if k < 1:
        raise ValueError(f"the photographs are 427 x 640; asked for {height} x {width}.")
    top, left = (photos.shape[1] - k * height) // 2, (photos.shape[2] - k * width) // 2
    crop = photos[:, top:top + k * height, left:left + k * width]
    return crop.reshape(2, height, k, width, k, 3).mean((2, 4))


# --------------------------------------------------------------------------------------------
# label-preserving or not: a classifier trained on upright digits scores mirrored ones
# --------------------------------------------------------------------------------------------
#: name -> what is done to each 8 x 8 validation digit
MIRRORS: dict[str, str] = {
    "as is": "the digit as it is",
    "horizontal flip": "mirrored left to right",
    "vertical flip": "mirrored top to bottom",
    "rotate 180": "turned upside down (both flips)",
}


def _mirror(X, name: str) -> np.ndarray:
    """Flat digits (N, 64) transformed as :data:`MIRRORS` names it, flat again."""
    x = digits_images(X)
    if name in ("horizontal flip", "rotate 180"):
        x = aug.hflip(x)
    if name in ("vertical flip", "rotate 180"):
        x = aug.vflip(x)
    return x.reshape(len(x), 64)


def flip_label_study(seed: int = 0, *, n_train: int = 1000, epochs: int = 40,
                     device="cpu") -> dict:
    """Train the digits MLP on upright digits (no augmentation), then classify its validation
    digits after each transformation of :data:`MIRRORS`.

    Returns ``{"val_acc": float, "per_class": {name: (10,) share of class c still called c},
    "confusion": {name: (10, 10) row c: share of class c predicted as each class},
    "n_per_class": (10,)}``.
    """
    n_val = 1797 - check_int(n_train, "n_train")
    splits = small_digits(np.random.default_rng(seed), n_train=n_train, n_val=n_val)
    h = train_augmented(splits, "none", seed=seed, epochs=epochs, device=device)
    model, (X, y) = h["model"], (splits["val"].X, splits["val"].y)
    counts = np.bincount(y, minlength=10)
    out = {"val_acc": float(h["val_acc"][-1]), "per_class": {}, "confusion": {},
           "n_per_class": counts}
    with torch.no_grad(), few_threads(device):
        for name in MIRRORS:
            xt = torch.as_tensor(_mirror(X, name), device=torch.device(device))
            pred = model(xt.reshape(-1, 1, 8, 8)).argmax(1).cpu().numpy()
            confusion = np.zeros((10, 10))
            np.add.at(confusion, (y, pred), 1)
            out["confusion"][name] = confusion / counts[:, None]
            out["per_class"][name] = np.diag(out["confusion"][name]).copy()
    return out


# --------------------------------------------------------------------------------------------
# Karpathy's warning: in a localisation task the labels must move with the pixels
# --------------------------------------------------------------------------------------------
#: pipeline -> how training batches are augmented
PIPELINES: dict[str, str] = {
    "no flips": "the images as they are",
    "flips, labels flipped": "random horizontal flips, the marker's x mirrored with "
                             "tnn.geometric.flip_points (correct)",
    "flips, labels kept": "random horizontal flips, the labels left as they were (the bug)",
}


def marker_digits(rng, n: int = 600, *, ink: float = 0.5):
    """Digits with a bright 2 x 2 marker pasted at a random place: the task is to regress the
    marker's centre (x, y) in pixels.

    Each digit is drawn from scikit-learn's digits, scaled to [0, ``ink``], and the marker's
    four pixels are set to 1, its top-left corner drawn uniformly from 0..6 in each direction
    (so the centre lies in 0.5..6.5). Returns ``(X (n, 64) float32, points (n, 1, 2) float32
    as (x, y))``.
    """
    from sklearn.datasets import load_digits

    rng = check_rng(rng)
    n = check_int(n, "n")
    data = load_digits().data.astype(np.float32) / 16 * ink
    x = data[rng.integers(0, len(data), n)].reshape(n, 8, 8).copy()
    top, left = rng.integers(0, 7, size=(2, n))
    for dr in (0, 1):
        for dc in (0, 1):
            x[np.arange(n), top + dr, left + dc] = 1.0
    points = np.stack([left + 0.5, top + 0.5], -1)[:, None, :].astype(np.float32)
    return x.reshape(n, 64), points


def train_localiser(data, pipeline: str = "flips, labels flipped", *, seed: int = 0,
                    epochs: int = 60, hidden: int = 128, lr: float = 1e-3,
                    batch_size: int = 50, device="cpu") -> dict:
    """Train a 64-``hidden``-2 ReLU MLP with Adam on mean squared error to regress the
    marker's centre; ``data`` is ``{"train": (X, points), "val": (X, points)}`` from
    :func:`marker_digits`; training batches are augmented as ``pipeline`` (a name from
    :data:`PIPELINES`) says, validation images never.

    Returns ``train_loss`` (E,) (the mean loss of each epoch's augmented batches, what a
    training log shows), ``val_err`` (E, 2) (mean absolute error in pixels of x and y on the
    validation images), ``val_pred`` (N, 2) (the final predictions on them) and ``flipped``
    (share of training images flipped).
    """
    pipeline = check_choice(pipeline, "pipeline", tuple(PIPELINES))
    device = torch.device(device)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 2)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator(device=device).manual_seed(seed)
    x_tr, p_tr, x_va, p_va = (torch.as_tensor(a, device=device)
                              for a in (*data["train"], *data["val"]))
    history = {"train_loss": [], "val_err": []}
    flipped = []
    with few_threads(device):
        for _ in range(check_int(epochs, "epochs")):
            order = torch.randperm(len(x_tr), generator=gen, device=device)
            losses = []
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                xb, pb = x_tr[idx].reshape(-1, 1, 8, 8), p_tr[idx]
                if pipeline != "no flips":
                    xb, drawn = aug.random_flip_torch(xb, 0.5, gen)
                    flipped.append(drawn["flip"].float().mean().item())
                    if pipeline == "flips, labels flipped":
                        pb = aug.flip_points(pb, drawn["flip"], 8)
                loss = F.mse_loss(model(xb.reshape(len(idx), 64)), pb[:, 0])
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            history["train_loss"].append(float(np.mean(losses)))
            with torch.no_grad():
                err = (model(x_va) - p_va[:, 0]).abs().mean(0)
            history["val_err"].append(err.cpu().numpy())
        with torch.no_grad():
            pred = model(x_va).cpu().numpy()
    return {"train_loss": np.array(history["train_loss"]), "val_err": np.array(history["val_err"]),
            "val_pred": pred, "flipped": float(np.mean(flipped)) if flipped else 0.0}


def localisation_study(seeds=(0, 1, 2, 3), pipelines=tuple(PIPELINES), *, n_train: int = 500,
                       n_val: int = 500, device="cpu", **train_kw) -> dict:
    """:func:`train_localiser` for every pipeline on the same data and initialization per
    seed: ``{pipeline: {"train_loss": (S, E), "x_err": (S,), "y_err": (S,), "x_true": (N,),
    "x_pred": (N,)}}`` (final validation errors in pixels; the marker's true and predicted x
    on the first seed's validation images)."""
    out = {p: {"train_loss": [], "x_err": [], "y_err": []} for p in pipelines}
    first = {}
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        data = {"train": marker_digits(rng, n_train), "val": marker_digits(rng, n_val)}
        for p in pipelines:
            h = train_localiser(data, p, seed=seed, device=device, **train_kw)
            out[p]["train_loss"].append(h["train_loss"])
            out[p]["x_err"].append(h["val_err"][-1, 0])
            out[p]["y_err"].append(h["val_err"][-1, 1])
            if p not in first:
                first[p] = {"x_true": data["val"][1][:, 0, 0], "x_pred": h["val_pred"][:, 0]}
    return {p: {**{k: np.array(v) for k, v in d.items()}, **first[p]} for p, d in out.items()}
