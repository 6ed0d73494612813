"""Topic 06, geometric augmentations: flips, crops, translations, resized crops, rotations and
shears, and Cutout, each a NumPy reference on (N, H, W, C) batches beside a torch twin on
(N, C, H, W) batches on any device.

Every random operation draws **one set of parameters per image** (not one crop for the whole
batch) from an explicit generator and returns them with its output; passing them back as
``params=`` replays the same augmentation without a generator::

    out, params = random_crop(x, padding=4, rng=rng)
    again, _ = random_crop(x, padding=4, params=params)           # identical to out
    twin, _ = random_crop_torch(xt, padding=4, params=params)     # NumPy's draws, in torch

Parameters are plain dicts of per-image arrays (tensors in the torch twins); both twins
accept either. No function writes into its input. Pixel coordinates follow image
convention: ``x`` (column) to the right, ``y`` (row) down, the centre of an H x W image at
((W - 1) / 2, (H - 1) / 2).

Ground truth (tests/test_augmentation.py): crops and flips against plain slicing,
resized crops against ``torch.nn.functional.interpolate`` (bilinear, no antialiasing, which is
what torchvision's ``resized_crop(..., antialias=False)`` calls), rotations and shears against
``scipy.ndimage.affine_transform`` (order 1, ``mode="grid-constant"``), and against
torchvision.transforms.v2.functional where torchvision is installed.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from tnn._validate import (
    _describe,
    as_image_batch,
    as_image_batch_torch,
    check_choice,
    check_generator,
    check_int,
    check_positive,
    check_rng,
)

__all__ = [
    "hflip", "hflip_torch", "vflip", "vflip_torch", "random_flip", "random_flip_torch",
    "flip_points",
    "translate", "translate_torch", "random_crop", "random_crop_torch",
    "resized_crop", "resized_crop_torch", "random_resized_crop", "random_resized_crop_torch",
    "affine", "affine_torch", "rotation_matrix", "shear_matrix",
    "random_rotation", "random_rotation_torch",
    "cutout", "cutout_torch",
]


# --------------------------------------------------------------------------------------------
# parameters: drawn here, or replayed from an earlier call
# --------------------------------------------------------------------------------------------
def _params(params, keys, n, *, torch_like=None):
    """The arrays (tensors, with ``torch_like``) stored under ``keys``, one entry per image."""
    if not isinstance(params, dict) or not set(keys) <= set(params):
        raise ValueError(f"params must be the dict an earlier call returned, with keys "
                         f"{sorted(keys)}; got {_describe(params)}"
                         f"{' with keys ' + str(sorted(params)) if isinstance(params, dict) else ''}.")
    out = []
    for key in keys:
        value = params[key]
        if torch_like is None:
            value = np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
        else:
            value = torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor)
                                    else value, device=torch_like.device)
        if value.ndim == 0 or value.shape[0] != n:
            raise ValueError(f"params[{key!r}] must hold one entry per image ({n}); got shape "
                             f"{tuple(value.shape)}. Replay parameters on the batch they were "
                             f"drawn for.")
        out.append(value)
    return out


def _source(rng, generator, params, name: str):
    """Exactly one source of randomness: a generator to draw from, or ``params`` to replay."""
    if params is None:
        if generator is None:
            raise TypeError(f"{name} needs a generator to draw from, or params= from an earlier "
                            f"call to replay.")
        return check_rng(generator, rng) if rng == "rng" else check_generator(generator, rng)
    return None


def _probability(p, name: str = "p") -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1]; got {_describe(p)}.")
    return float(p)


# --------------------------------------------------------------------------------------------
# flips
# --------------------------------------------------------------------------------------------
def hflip(x) -> np.ndarray:
    """Mirror every image left to right: (N, H, W, C) -> same shape, a new array."""
    return as_image_batch(x)[:, :, ::-1].copy()


def hflip_torch(x) -> torch.Tensor:
    """Torch twin of :func:`hflip` on (N, C, H, W)."""
    return as_image_batch_torch(x).flip(-1)


def vflip(x) -> np.ndarray:
    """Mirror every image top to bottom."""
    return as_image_batch(x)[:, ::-1].copy()


def vflip_torch(x) -> torch.Tensor:
    """Torch twin of :func:`vflip`."""
    return as_image_batch_torch(x).flip(-2)


def random_flip(x, p: float = 0.5, rng=None, *, axis: str = "horizontal", params=None):
    """Flip each image with probability ``p``; returns ``(out, {"flip": bool (N,)})``."""
    x = as_image_batch(x)
    axis = check_choice(axis, "axis", ("horizontal", "vertical"))
    if _source("rng", rng, params, "random_flip"):
        flip = rng.random(len(x)) < _probability(p)
    else:
        (flip,) = _params(params, ("flip",), len(x))
        flip = flip.astype(bool)
    mirrored = x[:, :, ::-1] if axis == "horizontal" else x[:, ::-1]
    return np.where(flip[:, None, None, None], mirrored, x), {"flip": flip}


def random_flip_torch(x, p: float = 0.5, generator=None, *, axis: str = "horizontal",
                      params=None):
    """Torch twin of :func:`random_flip`."""
    x = as_image_batch_torch(x)
    axis = check_choice(axis, "axis", ("horizontal", "vertical"))
    if _source("generator", generator, params, "random_flip_torch"):
        flip = torch.rand(len(x), generator=generator, device=generator.device) < _probability(p)
        flip = flip.to(x.device)
    else:
        (flip,) = _params(params, ("flip",), len(x), torch_like=x)
        flip = flip.bool()
    mirrored = x.flip(-1 if axis == "horizontal" else -2)
    return torch.where(flip[:, None, None, None], mirrored, x), {"flip": flip}


def flip_points(points, flip, width: int) -> np.ndarray:
    """Keypoints (N, K, 2) as (x, y) pixel coordinates, mirrored where ``flip`` is True.

    A horizontal flip moves column x to ``width - 1 - x``: the labels of a localisation task
    must move with the pixels, or the augmented examples teach the network wrong answers
    (Karpathy's "forgot to flip the labels", which the network survives silently). Works on
    arrays and tensors alike.
    """
    width = check_int(width, "width")
    if not isinstance(points, torch.Tensor):
        points = np.asarray(points, dtype=float)
    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(f"points must have shape (N, K, 2), (x, y) per keypoint; got "
                         f"{tuple(points.shape)}.")
    if isinstance(points, torch.Tensor):
        flip = torch.as_tensor(flip, device=points.device).bool()
        mirrored = torch.stack([width - 1 - points[..., 0], points[..., 1]], -1)
        return torch.where(flip[:, None, None], mirrored, points)
    flip = np.asarray(flip, dtype=bool)
    mirrored = np.stack([width - 1 - points[..., 0], points[..., 1]], -1)
    return np.where(flip[:, None, None], mirrored, points)


# --------------------------------------------------------------------------------------------
# crops with padding and integer translations (the same operation seen two ways)
# --------------------------------------------------------------------------------------------
def _padded_crop(x, top, left, pad: int, fill: float):
    n, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=fill)
    rows = top[:, None] + np.arange(h)
    cols = left[:, None] + np.arange(w)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def _padded_crop_torch(x, top, left, pad: int, fill: float):
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), value=fill)
    rows = top[:, None] + torch.arange(h, device=x.device)
    cols = left[:, None] + torch.arange(w, device=x.device)
    return padded[torch.arange(n, device=x.device)[:, None, None, None],
                  torch.arange(c, device=x.device)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def random_crop(x, padding: int, rng=None, *, params=None, fill: float = 0.0):
    """CIFAR-style random crop: pad each side by ``padding`` pixels of ``fill``, then cut an
    H x W window at a random offset per image.

    Returns ``(out, {"top": (N,), "left": (N,)})`` with offsets in 0 .. 2 * padding; the
    window at (padding, padding) is the original image. A crop at offset (top, left) equals a
    translation by (dx, dy) = (padding - left, padding - top): see :func:`translate`.
    """
    x = as_image_batch(x)
    pad = check_int(padding, "padding", 0)
    if _source("rng", rng, params, "random_crop"):
        top, left = rng.integers(0, 2 * pad + 1, size=(2, len(x)))
    else:
        top, left = (v.astype(np.int64) for v in _params(params, ("top", "left"), len(x)))
        if (top < 0).any() or (left < 0).any() or (top > 2 * pad).any() or (left > 2 * pad).any():
            raise ValueError(f"params offsets must lie in 0 .. 2 * padding = {2 * pad}.")
    return _padded_crop(x, top, left, pad, fill), {"top": top, "left": left}


def random_crop_torch(x, padding: int, generator=None, *, params=None, fill: float = 0.0):
    """Torch twin of :func:`random_crop`: one indexing operation for the whole batch."""
    x = as_image_batch_torch(x)
    pad = check_int(padding, "padding", 0)
    if _source("generator", generator, params, "random_crop_torch"):
        top, left = torch.randint(0, 2 * pad + 1, (2, len(x)), generator=generator,
                                  device=generator.device).to(x.device)
    else:
        top, left = (v.long() for v in _params(params, ("top", "left"), len(x), torch_like=x))
        if (top < 0).any() or (left < 0).any() or (top > 2 * pad).any() or (left > 2 * pad).any():
            raise ValueError(f"params offsets must lie in 0 .. 2 * padding = {2 * pad}.")
    return _padded_crop_torch(x, top, left, pad, fill), {"top": top, "left": left}


def _shifts(dx, dy, n: int):
    """Per-image integer shifts as int64 arrays of shape (N,); scalars apply to every image."""
    try:
        return tuple(np.broadcast_to(np.asarray(
            v.detach().cpu() if isinstance(v, torch.Tensor) else v, dtype=np.int64), (n,))
            for v in (dx, dy))
    except ValueError:
        raise ValueError(f"dx and dy must be ints or hold one shift per image ({n}).") from None


def translate(x, dx, dy, *, fill: float = 0.0) -> np.ndarray:
    """Shift image i right by ``dx[i]`` and down by ``dy[i]`` whole pixels (negative: left /
    up), filling the uncovered border with ``fill``. Scalars shift every image alike."""
    x = as_image_batch(x)
    dx, dy = _shifts(dx, dy, len(x))
    pad = int(max(np.abs(dx).max(initial=0), np.abs(dy).max(initial=0)))
    return _padded_crop(x, pad - dy, pad - dx, pad, fill)


def translate_torch(x, dx, dy, *, fill: float = 0.0) -> torch.Tensor:
    """Torch twin of :func:`translate`."""
    x = as_image_batch_torch(x)
    dx, dy = _shifts(dx, dy, len(x))
    pad = int(max(np.abs(dx).max(initial=0), np.abs(dy).max(initial=0)))
    dx, dy = (torch.as_tensor(np.array(v), device=x.device) for v in (dx, dy))
    return _padded_crop_torch(x, pad - dy, pad - dx, pad, fill)


# --------------------------------------------------------------------------------------------
# resized crops: a box per image, resampled to a fixed size (bilinear, no antialiasing)
# --------------------------------------------------------------------------------------------
def _size(size) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (size, size)
    if not (isinstance(size, tuple | list) and len(size) == 2):
        raise TypeError(f"size must be an int or a pair (height, width); got {_describe(size)}.")
    return check_int(size[0], "size[0]"), check_int(size[1], "size[1]")


def _linear_taps(start, length, out: int):
    """Source rows (or columns) and weights of a bilinear resize of ``length`` pixels to
    ``out``, as torch.nn.functional.interpolate(align_corners=False) computes them."""
    pos = ((np.arange(out) + 0.5) * (length / out)[:, None] - 0.5).clip(0)
    lo = pos.astype(np.int64)  # floor, since pos >= 0
    hi = lo + (lo < length[:, None] - 1)
    return start[:, None] + lo, start[:, None] + hi, pos - lo


def resized_crop(x, top, left, height, width, size) -> np.ndarray:
    """Cut box i (``top[i]``, ``left[i]``, ``height[i]``, ``width[i]``) out of image i and
    resize it to ``size`` with bilinear interpolation (no antialiasing)."""
    x = as_image_batch(x)
    out_h, out_w = _size(size)
    n = len(x)
    top, left, height, width = (np.broadcast_to(np.asarray(v, dtype=np.int64), (n,))
                                for v in (top, left, height, width))
    if (height < 1).any() or (width < 1).any() or (top < 0).any() or (left < 0).any() \
            or (top + height > x.shape[1]).any() or (left + width > x.shape[2]).any():
        raise ValueError("every box must lie inside its image with height and width >= 1.")
    r0, r1, fy = _linear_taps(top, height.astype(float), out_h)
    c0, c1, fx = _linear_taps(left, width.astype(float), out_w)
    idx = np.arange(n)[:, None, None]
    fy, fx = fy[:, :, None, None].astype(x.dtype), fx[:, None, :, None].astype(x.dtype)
    top_row = x[idx, r0[:, :, None], c0[:, None, :]] * (1 - fx) + x[idx, r0[:, :, None], c1[:, None, :]] * fx
    bottom = x[idx, r1[:, :, None], c0[:, None, :]] * (1 - fx) + x[idx, r1[:, :, None], c1[:, None, :]] * fx
    return top_row * (1 - fy) + bottom * fy


def resized_crop_torch(x, top, left, height, width, size) -> torch.Tensor:
    """Torch twin of :func:`resized_crop`: the whole batch in one gather."""
    x = as_image_batch_torch(x)
    out_h, out_w = _size(size)
    n, c = x.shape[:2]
    top, left, height, width = (torch.as_tensor(v, device=x.device).long().expand(n)
                                for v in (top, left, height, width))
    if (height < 1).any() or (width < 1).any() or (top < 0).any() or (left < 0).any() \
            or (top + height > x.shape[2]).any() or (left + width > x.shape[3]).any():
        raise ValueError("every box must lie inside its image with height and width >= 1.")
    # grid_sample at interpolate's own source coordinates: positions clamped to the box
    # (rows top .. top + height - 1) give the same two taps and weights
    rows = _box_positions(top, height, out_h)
    cols = _box_positions(left, width, out_w)
    h, w = x.shape[2:]
    grid = torch.stack(torch.broadcast_tensors((2 * cols[:, None, :] + 1) / w - 1,
                                               (2 * rows[:, :, None] + 1) / h - 1), -1)
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="border",
                         align_corners=False)


def _box_positions(start, length, out: int) -> torch.Tensor:
    """Source positions (N, out), in whole-image pixels, of a bilinear resize of each box."""
    steps = torch.arange(out, device=start.device, dtype=torch.float64)
    pos = (steps + 0.5) * (length.double() / out)[:, None] - 0.5
    return start[:, None] + torch.minimum(pos.clamp(min=0), (length - 1)[:, None].double())


def _check_range(pair, name):
    lo, hi = (float(v) for v in pair)
    if not 0 < lo <= hi:
        raise ValueError(f"{name} must be a pair (low, high) with 0 < low <= high; got {pair}.")
    return lo, hi


def _boxes(area_frac, log_ratio, u_top, u_left, h: int, w: int, ratio):
    """Turn 10 uniform draws per image into torchvision's RandomResizedCrop boxes (NumPy)."""
    ratios = np.exp(log_ratio)
    bw = np.rint(np.sqrt(area_frac * h * w * ratios)).astype(np.int64)
    bh = np.rint(np.sqrt(area_frac * h * w / ratios)).astype(np.int64)
    ok = (bw > 0) & (bw <= w) & (bh > 0) & (bh <= h)
    first = ok.argmax(1)
    rows = np.arange(len(first))
    bh, bw = bh[rows, first], bw[rows, first]
    # no attempt fitted: the largest centred box with the ratio clamped to the allowed range
    in_ratio = w / h
    fb_w = w if in_ratio <= max(ratio) else int(round(h * max(ratio)))
    fb_h = h if in_ratio >= min(ratio) else int(round(w / min(ratio)))
    if in_ratio < min(ratio):
        fb_w = w
    if in_ratio > max(ratio):
        fb_h = h
    fallback = ~ok.any(1)
    bh, bw = np.where(fallback, fb_h, bh), np.where(fallback, fb_w, bw)
    top = np.where(fallback, (h - bh) // 2, (u_top * (h - bh + 1)).astype(np.int64))
    left = np.where(fallback, (w - bw) // 2, (u_left * (w - bw + 1)).astype(np.int64))
    return {"top": top, "left": left, "height": bh, "width": bw}


def random_resized_crop(x, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), rng=None, *,
                        params=None):
    """Inception-style crop: per image a box covering a random share ``scale`` of the area
    with a log-uniform aspect ratio in ``ratio`` (ten tries, then a centred fallback, as
    torchvision's RandomResizedCrop), resized to ``size``.

    Returns ``(out, {"top", "left", "height", "width"})``, each of shape (N,).
    """
    x = as_image_batch(x)
    n, h, w = x.shape[:3]
    if _source("rng", rng, params, "random_resized_crop"):
        lo, hi = _check_range(scale, "scale")
        r_lo, r_hi = _check_range(ratio, "ratio")
        area = rng.uniform(lo, hi, (n, 10))
        log_ratio = rng.uniform(math.log(r_lo), math.log(r_hi), (n, 10))
        params = _boxes(area, log_ratio, rng.random(n), rng.random(n), h, w, (r_lo, r_hi))
    boxes = dict(zip(("top", "left", "height", "width"),
                     (v.astype(np.int64) for v in _params(params, ("top", "left", "height",
                                                                   "width"), n)), strict=True))
    return resized_crop(x, size=size, **boxes), boxes


def random_resized_crop_torch(x, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), generator=None,
                              *, params=None):
    """Torch twin of :func:`random_resized_crop` (the boxes are drawn with the torch generator
    and turned into integers on the host: N x 10 numbers, negligible beside the images)."""
    x = as_image_batch_torch(x)
    n, _, h, w = x.shape
    if _source("generator", generator, params, "random_resized_crop_torch"):
        lo, hi = _check_range(scale, "scale")
        r_lo, r_hi = _check_range(ratio, "ratio")
        u = torch.rand(n, 22, generator=generator, device=generator.device,
                       dtype=torch.float64).cpu().numpy()
        params = _boxes(lo + (hi - lo) * u[:, :10],
                        math.log(r_lo) + (math.log(r_hi) - math.log(r_lo)) * u[:, 10:20],
                        u[:, 20], u[:, 21], h, w, (r_lo, r_hi))
    boxes = dict(zip(("top", "left", "height", "width"),
                     (v.long() for v in _params(params, ("top", "left", "height", "width"), n,
                                                torch_like=x)), strict=True))
    return resized_crop_torch(x, size=size, **boxes), boxes


# --------------------------------------------------------------------------------------------
# affine warps about the image centre: rotation, shear (bilinear, zeros outside)
# --------------------------------------------------------------------------------------------
def rotation_matrix(degrees) -> np.ndarray:
    """(N, 2, 2) matrices turning images counter-clockwise (as seen) by ``degrees``, in pixel
    coordinates with y pointing down."""
    t = np.deg2rad(np.atleast_1d(np.asarray(degrees, dtype=float)))
    c, s = np.cos(t), np.sin(t)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)


def shear_matrix(sx=0.0, sy=0.0) -> np.ndarray:
    """(N, 2, 2) shears: x' = x + sx * y (ShearX), y' = y + sy * x (ShearY)."""
    sx, sy = np.broadcast_arrays(np.atleast_1d(np.asarray(sx, dtype=float)),
                                 np.atleast_1d(np.asarray(sy, dtype=float)))
    one = np.ones_like(sx)
    return np.stack([np.stack([one, sx], -1), np.stack([sy, one], -1)], -2)


def _inverse_map(matrix, shift, h: int, w: int):
    """Source (row, col) coordinates of every output pixel: p_in = A^-1 (p_out - c - t) + c."""
    n = len(matrix)
    inv = np.linalg.inv(matrix)
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    ys, xs = np.meshgrid(np.arange(h, dtype=float), np.arange(w, dtype=float), indexing="ij")
    rel = np.stack([xs, ys], -1)[None] - centre - shift.reshape(n, 1, 1, 2)
    src = np.einsum("nij,nhwj->nhwi", inv, rel) + centre
    return src[..., 1], src[..., 0]


def _affine_args(matrix, shift, n):
    matrix = np.asarray(matrix.detach().cpu() if isinstance(matrix, torch.Tensor) else matrix,
                        dtype=float)
    if matrix.shape in ((2, 2), (1, 2, 2)):
        matrix = np.broadcast_to(matrix, (n, 2, 2))
    shift = np.zeros((n, 2)) if shift is None else np.broadcast_to(np.asarray(
        shift.detach().cpu() if isinstance(shift, torch.Tensor) else shift, dtype=float), (n, 2))
    if matrix.shape != (n, 2, 2):
        raise ValueError(f"matrix must have shape (2, 2) or (N, 2, 2) with N = {n}; got "
                         f"{matrix.shape}.")
    if not np.all(np.abs(np.linalg.det(matrix)) > 1e-12):
        raise ValueError("every matrix must be invertible (a warp that flattens the image "
                         "has no inverse map).")
    return matrix, shift


def affine(x, matrix, shift=None, *, fill: float = 0.0) -> np.ndarray:
    """Warp image i by the linear map ``matrix[i]`` about the image centre, then move it by
    ``shift[i]`` = (tx, ty) pixels; bilinear interpolation, ``fill`` outside the image
    (interpolated towards it at the border, like ``mode="grid-constant"``)."""
    x = as_image_batch(x)
    n, h, w, _ = x.shape
    matrix, shift = _affine_args(matrix, shift, n)
    ys, xs = _inverse_map(matrix, shift, h, w)
    y0, x0 = np.floor(ys), np.floor(xs)
    out = np.zeros_like(x)
    idx = np.arange(n)[:, None, None]
    for dy, wy in ((0, 1 - (ys - y0)), (1, ys - y0)):
        for dx, wx in ((0, 1 - (xs - x0)), (1, xs - x0)):
            r, c = (y0 + dy).astype(np.int64), (x0 + dx).astype(np.int64)
            inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            vals = np.where(inside[..., None], x[idx, r.clip(0, h - 1), c.clip(0, w - 1)], fill)
            out += (wy * wx)[..., None].astype(x.dtype) * vals
    return out


def affine_torch(x, matrix, shift=None, *, fill: float = 0.0) -> torch.Tensor:
    """Torch twin of :func:`affine`: ``torch.nn.functional.affine_grid`` and ``grid_sample``
    (bilinear, align_corners=True) on the whole batch, the grid built on x's device; ``fill``
    enters as an offset, since grid_sample pads with zeros."""
    x = as_image_batch_torch(x)
    n, _, h, w = x.shape
    if h < 2 or w < 2:
        raise ValueError(f"affine warps need images of at least 2 x 2 pixels; got {h} x {w}.")
    matrix, shift = _affine_args(matrix, shift, n)
    # pixel offsets from the centre are D u in grid_sample's normalized coordinates u
    half = np.diag([(w - 1) / 2, (h - 1) / 2])
    inv = np.linalg.inv(matrix)
    linear = np.linalg.inv(half) @ inv @ half
    offset = -np.einsum("ij,njk,nk->ni", np.linalg.inv(half), inv, shift)
    theta = torch.as_tensor(np.concatenate([linear, offset[:, :, None]], -1), dtype=x.dtype,
                            device=x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=True)
    out = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out + fill


def random_rotation(x, degrees: float, rng=None, *, params=None, fill: float = 0.0):
    """Rotate each image by an angle drawn uniformly from [-degrees, degrees];
    returns ``(out, {"angle": (N,)})``."""
    x = as_image_batch(x)
    if _source("rng", rng, params, "random_rotation"):
        degrees = check_positive(degrees, "degrees", allow_zero=True)
        angle = rng.uniform(-degrees, degrees, len(x))
    else:
        (angle,) = _params(params, ("angle",), len(x))
    return affine(x, rotation_matrix(angle), fill=fill), {"angle": angle}


def random_rotation_torch(x, degrees: float, generator=None, *, params=None, fill: float = 0.0):
    """Torch twin of :func:`random_rotation`."""
    x = as_image_batch_torch(x)
    if _source("generator", generator, params, "random_rotation_torch"):
        u = torch.rand(len(x), generator=generator, device=generator.device, dtype=torch.float64)
        angle = (2 * u - 1) * check_positive(degrees, "degrees", allow_zero=True)
    else:
        (angle,) = _params(params, ("angle",), len(x), torch_like=x)
    return affine_torch(x, rotation_matrix(angle.cpu().numpy()), fill=fill), {"angle": angle}


# --------------------------------------------------------------------------------------------
# Cutout: a square of each image set to ``fill`` (the square may hang over the border)
# --------------------------------------------------------------------------------------------
def _cutout_mask(cy, cx, size: int, h: int, w: int, lib):
    rows = lib.arange(h, device=cy.device) if lib is torch else np.arange(h)
    cols = lib.arange(w, device=cy.device) if lib is torch else np.arange(w)
    start_y, start_x = cy - size // 2, cx - size // 2
    in_rows = (rows[None] >= start_y[:, None]) & (rows[None] < start_y[:, None] + size)
    in_cols = (cols[None] >= start_x[:, None]) & (cols[None] < start_x[:, None] + size)
    return in_rows[:, :, None] & in_cols[:, None, :]  # (N, H, W)


def cutout(x, size: int, rng=None, *, params=None, fill: float = 0.0):
    """Cutout (DeVries & Taylor, 2017): per image a ``size`` x ``size`` square, centred at a
    uniformly drawn pixel, is set to ``fill``; near the border only the part inside counts.

    Returns ``(out, {"cy": (N,), "cx": (N,)})``, the square's centre pixel per image.
    """
    x = as_image_batch(x)
    size = check_int(size, "size", 0)
    n, h, w, _ = x.shape
    if _source("rng", rng, params, "cutout"):
        cy, cx = rng.integers(0, h, n), rng.integers(0, w, n)
    else:
        cy, cx = (v.astype(np.int64) for v in _params(params, ("cy", "cx"), n))
    mask = _cutout_mask(cy, cx, size, h, w, np)
    return np.where(mask[..., None], np.asarray(fill, dtype=x.dtype), x), {"cy": cy, "cx": cx}


def cutout_torch(x, size: int, generator=None, *, params=None, fill: float = 0.0):
    """Torch twin of :func:`cutout`."""
    x = as_image_batch_torch(x)
    size = check_int(size, "size", 0)
    n, _, h, w = x.shape
    if _source("generator", generator, params, "cutout_torch"):
        cy = torch.randint(0, h, (n,), generator=generator, device=generator.device).to(x.device)
        cx = torch.randint(0, w, (n,), generator=generator, device=generator.device).to(x.device)
    else:
        cy, cx = (v.long() for v in _params(params, ("cy", "cx"), n, torch_like=x))
    mask = _cutout_mask(cy, cx, size, h, w, torch)
    return x.masked_fill(mask[:, None], fill), {"cy": cy, "cx": cx}
