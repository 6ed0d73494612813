"""Topic 06: data augmentation. Label-mixing augmentations (Mixup, CutMix) and an
AutoAugment-style sub-policy interpreter live here; the geometric operations (flips, crops,
translations, resized crops, rotations, shears, Cutout) in :mod:`tnn.geometric` and the
photometric ones (colour jitter, PCA lighting, inversion, solarization) in
:mod:`tnn.photometric`, both re-exported: ``from tnn import augmentation`` gives the whole
topic.

Conventions, shared by every operation:

- NumPy references take batches of shape (N, H, W, C); their ``*_torch`` twins take
  (N, C, H, W) on any device, and never loop over images in Python.
- Randomness is explicit: each random operation takes a ``np.random.Generator`` (``rng``) or a
  ``torch.Generator`` (``generator``), draws **per-image** parameters, and returns them beside
  its output; ``params=`` replays them (across twins too), so a test or a figure can repeat an
  augmentation exactly.
- Inputs are never modified. Photometric operations expect values in [0, 1].

Augment at training time only: validation and test images stay as they are.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from tnn._validate import (
    _describe,
    as_image_batch,
    as_image_batch_torch,
    check_choice,
    check_positive,
)
from tnn.geometric import *  # noqa: F403 - the topic re-exports its parts
from tnn.geometric import __all__ as _geometric_all
from tnn.geometric import (
    _params,
    _source,
    affine,
    affine_torch,
    cutout,
    cutout_torch,
    rotation_matrix,
    shear_matrix,
    translate,
    translate_torch,
)
from tnn.photometric import *  # noqa: F403
from tnn.photometric import __all__ as _photometric_all
from tnn.photometric import (
    adjust_brightness,
    adjust_brightness_torch,
    adjust_contrast,
    adjust_contrast_torch,
    adjust_saturation,
    adjust_saturation_torch,
    invert,
    invert_torch,
    solarize,
    solarize_torch,
)

__all__ = [*_geometric_all, *_photometric_all, "soft_labels", "mixup", "mixup_torch",
           "cutmix", "cutmix_torch", "POLICY_OPERATIONS", "apply_subpolicy",
           "apply_subpolicy_torch"]


# --------------------------------------------------------------------------------------------
# labels as distributions over classes
# --------------------------------------------------------------------------------------------
def soft_labels(y, num_classes: int | None = None):
    """Labels as rows of class probabilities: integer labels (N,) become one-hot rows
    (N, num_classes); rows (N, K) that already sum to 1 are returned as floats."""
    is_tensor = isinstance(y, torch.Tensor)
    arr = y.detach().cpu().numpy() if is_tensor else np.asarray(y)
    if arr.ndim == 1 and arr.dtype.kind in "iu":
        if num_classes is None:
            raise ValueError("integer labels need num_classes (e.g. 10 for digits) to become "
                             "one-hot rows.")
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(f"labels must lie in 0 .. num_classes - 1 = {num_classes - 1}; got "
                             f"{arr.min()} .. {arr.max()}.")
        out = np.eye(num_classes)[arr]
    elif arr.ndim == 2 and arr.dtype.kind == "f":
        if not np.allclose(arr.sum(1), 1, atol=1e-5):
            raise ValueError("soft labels (N, K) must be rows that sum to 1.")
        out = arr.astype(np.float64)
    else:
        raise TypeError(f"y must hold integer labels (N,) or probability rows (N, K); got "
                        f"{_describe(y)}.")
    return torch.as_tensor(out, device=y.device) if is_tensor else out


def _check_alpha(alpha) -> float:
    return check_positive(alpha, "alpha")


def _torch_beta(alpha: float, n: int, generator) -> torch.Tensor:
    """Beta(alpha, alpha) draws from a torch.Generator (torch's Beta sampler takes none): a
    seed from the generator feeds NumPy's sampler, so the draws are reproducible."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    return torch.as_tensor(np.random.default_rng(seed).beta(alpha, alpha, n))


# --------------------------------------------------------------------------------------------
# Mixup and CutMix
# --------------------------------------------------------------------------------------------
def mixup(x, y, alpha: float = 0.2, rng=None, *, num_classes: int | None = None, params=None):
    """Mixup (Zhang et al., 2018): image i becomes ``lam[i] * x[i] + (1 - lam[i]) *
    x[index[i]]`` and its label the same blend of the two labels, lam ~ Beta(alpha, alpha) per
    image, ``index`` a random permutation of the batch. A 40 % cat / 60 % dog blend is
    labelled 0.4 cat, 0.6 dog.

    Returns ``(x_mixed, y_mixed (N, K), {"lam": (N,), "index": (N,)})``.
    """
    x = as_image_batch(x)
    n = len(x)
    labels = soft_labels(y, num_classes)
    if len(labels) != n:
        raise ValueError(f"x holds {n} images but y {len(labels)} labels.")
    if _source("rng", rng, params, "mixup"):
        params = {"lam": rng.beta(_check_alpha(alpha), _check_alpha(alpha), n),
                  "index": rng.permutation(n)}
    lam, index = _params(params, ("lam", "index"), n)
    lam, index = lam.astype(float), index.astype(np.int64)
    x_mixed = lam[:, None, None, None].astype(x.dtype) * x + \
        (1 - lam[:, None, None, None]).astype(x.dtype) * x[index]
    return x_mixed, lam[:, None] * labels + (1 - lam[:, None]) * labels[index], \
        {"lam": lam, "index": index}


def mixup_torch(x, y, alpha: float = 0.2, generator=None, *, num_classes: int | None = None,
                params=None):
    """Torch twin of :func:`mixup`."""
    x = as_image_batch_torch(x)
    n = len(x)
    labels = soft_labels(torch.as_tensor(y, device=x.device), num_classes).to(x.dtype)
    if len(labels) != n:
        raise ValueError(f"x holds {n} images but y {len(labels)} labels.")
    if _source("generator", generator, params, "mixup_torch"):
        params = {"lam": _torch_beta(_check_alpha(alpha), n, generator),
                  "index": torch.randperm(n, generator=generator, device=generator.device)}
    lam, index = _params(params, ("lam", "index"), n, torch_like=x)
    lam, index = lam.to(x.dtype), index.long()
    x_mixed = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[index]
    return x_mixed, lam[:, None] * labels + (1 - lam[:, None]) * labels[index], \
        {"lam": lam, "index": index}


def _box_mask(top, left, bottom, right, h, w, lib):
    rows = np.arange(h) if lib is np else torch.arange(h, device=top.device)
    cols = np.arange(w) if lib is np else torch.arange(w, device=top.device)
    in_rows = (rows[None] >= top[:, None]) & (rows[None] < bottom[:, None])
    in_cols = (cols[None] >= left[:, None]) & (cols[None] < right[:, None])
    return in_rows[:, :, None] & in_cols[:, None, :]


def _cutmix_boxes(lam, cy, cx, h, w):
    """A box of area ~(1 - lam) H W centred at (cy, cx), clipped to the image (NumPy)."""
    cut = np.sqrt(1 - lam)
    ch, cw = (h * cut).astype(np.int64), (w * cut).astype(np.int64)
    top, left = (cy - ch // 2).clip(0, h), (cx - cw // 2).clip(0, w)
    bottom, right = (cy + ch - ch // 2).clip(0, h), (cx + cw - cw // 2).clip(0, w)
    return {"top": top, "left": left, "bottom": bottom, "right": right}


def cutmix(x, y, alpha: float = 1.0, rng=None, *, num_classes: int | None = None, params=None):
    """CutMix (Yun et al., 2019): a box of image ``index[i]`` is pasted into image i; the box
    covers about (1 - lam) of the image, lam ~ Beta(alpha, alpha), and the labels are weighted
    by the area each image actually shows after the box is clipped to the border.

    Returns ``(x_mixed, y_mixed, {"index", "top", "left", "bottom", "right", "lam"})``, where
    ``lam`` is the share of image i that remains.
    """
    x = as_image_batch(x)
    n, h, w, _ = x.shape
    labels = soft_labels(y, num_classes)
    if len(labels) != n:
        raise ValueError(f"x holds {n} images but y {len(labels)} labels.")
    keys = ("index", "top", "left", "bottom", "right")
    if _source("rng", rng, params, "cutmix"):
        lam = rng.beta(_check_alpha(alpha), _check_alpha(alpha), n)
        params = {"index": rng.permutation(n),
                  **_cutmix_boxes(lam, rng.integers(0, h, n), rng.integers(0, w, n), h, w)}
    index, top, left, bottom, right = (v.astype(np.int64) for v in _params(params, keys, n))
    inside = _box_mask(top, left, bottom, right, h, w, np)
    lam = 1 - inside.sum((1, 2)) / (h * w)
    x_mixed = np.where(inside[..., None], x[index], x)
    return x_mixed, lam[:, None] * labels + (1 - lam[:, None]) * labels[index], \
        {"index": index, "top": top, "left": left, "bottom": bottom, "right": right, "lam": lam}


def cutmix_torch(x, y, alpha: float = 1.0, generator=None, *, num_classes: int | None = None,
                 params=None):
    """Torch twin of :func:`cutmix`."""
    x = as_image_batch_torch(x)
    n, _, h, w = x.shape
    labels = soft_labels(torch.as_tensor(y, device=x.device), num_classes).to(x.dtype)
    if len(labels) != n:
        raise ValueError(f"x holds {n} images but y {len(labels)} labels.")
    keys = ("index", "top", "left", "bottom", "right")
    if _source("generator", generator, params, "cutmix_torch"):
        lam = _torch_beta(_check_alpha(alpha), n, generator).numpy()
        centres = torch.rand(2, n, generator=generator, device=generator.device).cpu().numpy()
        boxes = _cutmix_boxes(lam, (centres[0] * h).astype(np.int64),
                              (centres[1] * w).astype(np.int64), h, w)
        params = {"index": torch.randperm(n, generator=generator, device=generator.device),
                  **boxes}
    index, top, left, bottom, right = (v.long() for v in _params(params, keys, n, torch_like=x))
    inside = _box_mask(top, left, bottom, right, h, w, torch)
    lam = 1 - inside.sum((1, 2)).to(x.dtype) / (h * w)
    x_mixed = torch.where(inside[:, None], x[index], x)
    return x_mixed, lam[:, None] * labels + (1 - lam[:, None]) * labels[index], \
        {"index": index, "top": top, "left": left, "bottom": bottom, "right": right, "lam": lam}


# --------------------------------------------------------------------------------------------
# AutoAugment-style sub-policies: (operation, probability, magnitude) pairs as data
# --------------------------------------------------------------------------------------------
#: operation -> (largest value at magnitude 10, whether a random sign applies, what it does)
POLICY_OPERATIONS: dict[str, tuple[float, bool, str]] = {
    "ShearX": (0.3, True, "x' = x + s y, s = 0.3 m / 10"),
    "ShearY": (0.3, True, "y' = y + s x"),
    "TranslateX": (0.45, True, "shift by 0.45 m / 10 of the width (AutoAugment's 150 of 331)"),
    "TranslateY": (0.45, True, "shift by 0.45 m / 10 of the height"),
    "Rotate": (30.0, True, "rotate by 30 m / 10 degrees"),
    "Brightness": (0.9, True, "brightness factor 1 +- 0.9 m / 10"),
    "Contrast": (0.9, True, "contrast factor 1 +- 0.9 m / 10"),
    "Color": (0.9, True, "saturation factor 1 +- 0.9 m / 10"),
    "Solarize": (1.0, False, "invert pixels at or above 1 - m / 10"),
    "Cutout": (0.5, False, "a square of side 0.5 m / 10 of the height set to 0"),
    "Invert": (0.0, False, "1 - x (the magnitude is ignored)"),
}


def _check_subpolicy(subpolicy):
    if isinstance(subpolicy, tuple) and len(subpolicy) == 3 and isinstance(subpolicy[0], str):
        subpolicy = [subpolicy]
    steps = []
    for step in subpolicy:
        if not (isinstance(step, tuple | list) and len(step) == 3):
            raise TypeError(f"each step must be (operation, probability, magnitude), e.g. "
                            f"('ShearX', 0.9, 7); got {_describe(step)}.")
        op, prob, mag = step
        check_choice(op, "operation", tuple(POLICY_OPERATIONS))
        if isinstance(prob, bool) or not isinstance(prob, numbers.Real) or not 0 <= prob <= 1:
            raise ValueError(f"{op}'s probability must lie in [0, 1]; got {prob!r}.")
        if isinstance(mag, bool) or not isinstance(mag, numbers.Real) or not 0 <= mag <= 10:
            raise ValueError(f"{op}'s magnitude must lie in [0, 10]; got {mag!r}.")
        steps.append((op, float(prob), float(mag)))
    return steps


def _operation(op: str, x, value, lib):
    """Operation ``op`` on the whole batch with per-image signed values (NumPy or torch)."""
    is_np = lib is np
    val = value if is_np else value.cpu().numpy()
    h, w = (x.shape[1], x.shape[2]) if is_np else (x.shape[2], x.shape[3])
    if op in ("ShearX", "ShearY", "Rotate"):
        matrix = rotation_matrix(val) if op == "Rotate" else \
            shear_matrix(sx=val) if op == "ShearX" else shear_matrix(sy=val)
        return (affine if is_np else affine_torch)(x, matrix)
    if op in ("TranslateX", "TranslateY"):
        shift = np.rint(val * (w if op == "TranslateX" else h)).astype(np.int64)
        dx, dy = (shift, 0) if op == "TranslateX" else (0, shift)
        return (translate if is_np else translate_torch)(x, dx, dy)
    if op in ("Brightness", "Contrast", "Color"):
        fns = {"Brightness": (adjust_brightness, adjust_brightness_torch),
               "Contrast": (adjust_contrast, adjust_contrast_torch),
               "Color": (adjust_saturation, adjust_saturation_torch)}[op]
        factor = 1 + value
        return fns[0](x, factor) if is_np else fns[1](x, factor)
    if op == "Solarize":
        return solarize(x, 1 - value) if is_np else solarize_torch(x, 1 - value)
    if op == "Invert":
        return invert(x) if is_np else invert_torch(x)
    size = int(round(float(np.max(val, initial=0)) * h))  # Cutout: one size per step
    centre = {"cy": np.full(len(x), h // 2), "cx": np.full(len(x), w // 2)}
    return (cutout if is_np else cutout_torch)(x, size, params=centre)[0]


def apply_subpolicy(x, subpolicy, rng=None, *, params=None):
    """Apply an AutoAugment sub-policy, a list of (operation, probability, magnitude) steps
    such as the lecture's ``[("ShearX", 0.9, 7), ("Invert", 0.2, 3)]``, in order: each image
    takes each step with its probability, with a random sign where the operation has one
    (a shear left or right). Magnitudes run 0..10; :data:`POLICY_OPERATIONS` maps them to
    values. Cutout's square is centred.

    Returns ``(out, [{"apply": bool (N,), "sign": (N,)} per step])``.
    """
    x = as_image_batch(x)
    steps = _check_subpolicy(subpolicy)
    n = len(x)
    if _source("rng", rng, params, "apply_subpolicy"):
        params = [{"apply": rng.random(n) < prob, "sign": np.where(rng.random(n) < 0.5, -1, 1)}
                  for _, prob, _ in steps]
    if not isinstance(params, list | tuple) or len(params) != len(steps):
        raise ValueError(f"params must hold one dict per step ({len(steps)}), as an earlier "
                         f"call returned them.")
    replayed = []
    for (op, _, mag), step in zip(steps, params, strict=True):
        apply, sign = _params(step, ("apply", "sign"), n)
        apply, sign = apply.astype(bool), sign.astype(float)
        largest, signed, _ = POLICY_OPERATIONS[op]
        value = largest * mag / 10 * (sign if signed else np.ones(n))
        x = np.where(apply[:, None, None, None], _operation(op, x, value, np), x)
        replayed.append({"apply": apply, "sign": sign})
    return x, replayed


def apply_subpolicy_torch(x, subpolicy, generator=None, *, params=None):
    """Torch twin of :func:`apply_subpolicy`."""
    x = as_image_batch_torch(x)
    steps = _check_subpolicy(subpolicy)
    n = len(x)
    if _source("generator", generator, params, "apply_subpolicy_torch"):
        draws = torch.rand(len(steps), 2, n, generator=generator, device=generator.device)
        params = [{"apply": draws[i, 0] < prob, "sign": torch.where(draws[i, 1] < 0.5, -1, 1)}
                  for i, (_, prob, _) in enumerate(steps)]
    if not isinstance(params, list | tuple) or len(params) != len(steps):
        raise ValueError(f"params must hold one dict per step ({len(steps)}), as an earlier "
                         f"call returned them.")
    replayed = []
    for (op, _, mag), step in zip(steps, params, strict=True):
        apply, sign = _params(step, ("apply", "sign"), n, torch_like=x)
        apply, sign = apply.bool(), sign.to(x.dtype)
        largest, signed, _ = POLICY_OPERATIONS[op]
        value = largest * mag / 10 * (sign if signed else torch.ones_like(sign))
        x = torch.where(apply[:, None, None, None], _operation(op, x, value, torch), x)
        replayed.append({"apply": apply, "sign": sign})
    return x, replayed
