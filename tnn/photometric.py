"""Topic 06, photometric augmentations on images with values in [0, 1]: brightness, contrast
and saturation (colour jitter), AlexNet's PCA lighting noise, inversion and solarization.

NumPy references on (N, H, W, C) batches beside torch twins on (N, C, H, W); C is 1 (gray)
or 3 (RGB). The jitter formulas are PIL's ImageEnhance, which torchvision's
``adjust_brightness`` / ``adjust_contrast`` / ``adjust_saturation`` follow: each blends the
image with a reference image and clips to [0, 1],

=============  ==============================================  =============================
operation      reference image                                 factor 0 gives
=============  ==============================================  =============================
brightness     black                                           a black image
contrast       the mean of the image's grayscale, everywhere   a flat gray image
saturation     the image's own grayscale                       the grayscale image
=============  ==============================================  =============================

with grayscale = 0.2989 R + 0.587 G + 0.114 B (ITU-R 601, torchvision's weights); a factor
of 1 leaves the image as it is. Random operations draw per-image parameters from an explicit
generator and return them, as in :mod:`tnn.geometric`.
"""

from __future__ import annotations

import numpy as np
import torch

from tnn._validate import _describe, as_image_batch, as_image_batch_torch, check_positive
from tnn.geometric import _params, _source

__all__ = [
    "grayscale", "grayscale_torch", "adjust_brightness", "adjust_brightness_torch",
    "adjust_contrast", "adjust_contrast_torch", "adjust_saturation", "adjust_saturation_torch",
    "color_jitter", "color_jitter_torch", "fit_pca_lighting", "pca_lighting",
    "pca_lighting_torch", "invert", "invert_torch", "solarize", "solarize_torch",
]

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


def _channels(c: int) -> None:
    if c not in (1, 3):
        raise ValueError(f"photometric operations take gray (C = 1) or RGB (C = 3) images; got "
                         f"C = {c}. Check the layout: NumPy batches are (N, H, W, C), torch "
                         f"batches (N, C, H, W).")


def _factors(factor, n: int, lib, like=None):
    if lib is np:
        f = np.broadcast_to(np.asarray(factor, dtype=float), (n,))
    else:
        f = torch.as_tensor(factor, dtype=like.dtype, device=like.device).expand(n) \
            if torch.as_tensor(factor).ndim == 0 else torch.as_tensor(factor).to(like)
    if (f < 0).any():
        raise ValueError("enhancement factors must be >= 0 (1 leaves the image unchanged).")
    return f


def grayscale(x) -> np.ndarray:
    """(N, H, W, 1) luminance of an RGB batch; a gray batch is returned as a copy."""
    x = as_image_batch(x)
    _channels(x.shape[-1])
    if x.shape[-1] == 1:
        return x.copy()
    return (x @ np.asarray(GRAY_WEIGHTS, dtype=x.dtype))[..., None]


def grayscale_torch(x) -> torch.Tensor:
    """Torch twin of :func:`grayscale`: (N, 1, H, W)."""
    x = as_image_batch_torch(x)
    _channels(x.shape[1])
    if x.shape[1] == 1:
        return x.clone()
    w = torch.tensor(GRAY_WEIGHTS, dtype=x.dtype, device=x.device)
    return (x * w[:, None, None]).sum(1, keepdim=True)


def _blend(x, reference, f, lib):
    shape = (-1, 1, 1, 1)
    if lib is np:
        f = f.reshape(shape).astype(x.dtype)
        return (f * x + (1 - f) * reference).clip(0, 1)
    if isinstance(reference, float):  # black: a plain scaling
        return (x * f.reshape(shape)).clamp_(0, 1)
    # reference + f (x - reference), in one pass and clipped in place
    return torch.lerp(reference.expand_as(x), x, f.reshape(shape)).clamp_(0, 1)


def adjust_brightness(x, factor) -> np.ndarray:
    """Scale every pixel by ``factor`` (one number, or one per image), clipped to [0, 1]."""
    x = as_image_batch(x)
    return _blend(x, 0.0, _factors(factor, len(x), np), np)


def adjust_brightness_torch(x, factor) -> torch.Tensor:
    """Torch twin of :func:`adjust_brightness`."""
    x = as_image_batch_torch(x)
    return _blend(x, 0.0, _factors(factor, len(x), torch, x), torch)


def adjust_contrast(x, factor) -> np.ndarray:
    """Move every pixel away from (factor > 1) or towards (< 1) the image's mean gray level."""
    x = as_image_batch(x)
    mean = grayscale(x).mean(axis=(1, 2, 3), keepdims=True)
    return _blend(x, mean, _factors(factor, len(x), np), np)


def adjust_contrast_torch(x, factor) -> torch.Tensor:
    """Torch twin of :func:`adjust_contrast`."""
    x = as_image_batch_torch(x)
    mean = grayscale_torch(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean, _factors(factor, len(x), torch, x), torch)


def adjust_saturation(x, factor) -> np.ndarray:
    """Move every pixel away from (factor > 1) or towards (< 1) its own gray value; a gray
    image has no colour to change and is returned as it is."""
    x = as_image_batch(x)
    return _blend(x, grayscale(x), _factors(factor, len(x), np), np) if x.shape[-1] == 3 \
        else x.copy()


def adjust_saturation_torch(x, factor) -> torch.Tensor:
    """Torch twin of :func:`adjust_saturation`."""
    x = as_image_batch_torch(x)
    return _blend(x, grayscale_torch(x), _factors(factor, len(x), torch, x), torch) \
        if x.shape[1] == 3 else x.clone()


def _jitter_range(value, name):
    value = check_positive(value, name, allow_zero=True)
    return max(0.0, 1 - value), 1 + value


def color_jitter(x, brightness=0.0, contrast=0.0, saturation=0.0, rng=None, *, params=None):
    """Brightness, then contrast, then saturation, each with a per-image factor drawn
    uniformly from [max(0, 1 - v), 1 + v] (v = 0 leaves that property alone). The order is
    fixed (torchvision's ColorJitter shuffles it per call).

    Returns ``(out, {"brightness": (N,), "contrast": (N,), "saturation": (N,)})``.
    """
    x = as_image_batch(x)
    n = len(x)
    keys = ("brightness", "contrast", "saturation")
    if _source("rng", rng, params, "color_jitter"):
        ranges = [_jitter_range(v, k) for k, v in zip(keys, (brightness, contrast, saturation), strict=True)]
        params = {k: rng.uniform(lo, hi, n) for k, (lo, hi) in zip(keys, ranges, strict=True)}
    b, c, s = _params(params, keys, n)
    out = adjust_saturation(adjust_contrast(adjust_brightness(x, b), c), s)
    return out, {"brightness": b, "contrast": c, "saturation": s}


def color_jitter_torch(x, brightness=0.0, contrast=0.0, saturation=0.0, generator=None, *,
                       params=None):
    """Torch twin of :func:`color_jitter`."""
    x = as_image_batch_torch(x)
    n = len(x)
    keys = ("brightness", "contrast", "saturation")
    if _source("generator", generator, params, "color_jitter_torch"):
        ranges = [_jitter_range(v, k) for k, v in zip(keys, (brightness, contrast, saturation), strict=True)]
        u = torch.rand(3, n, generator=generator, device=generator.device, dtype=x.dtype)
        params = {k: (lo + (hi - lo) * u[i]).to(x.device)
                  for i, (k, (lo, hi)) in enumerate(zip(keys, ranges, strict=True))}
    b, c, s = (v.to(x.dtype) for v in _params(params, keys, n, torch_like=x))
    out = adjust_saturation_torch(adjust_contrast_torch(adjust_brightness_torch(x, b), c), s)
    return out, {"brightness": b, "contrast": c, "saturation": s}


# --------------------------------------------------------------------------------------------
# AlexNet's "fancy PCA" lighting noise
# --------------------------------------------------------------------------------------------
def fit_pca_lighting(images) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (3,), largest first, and eigenvectors (3, 3), one per column, of the 3 x 3
    covariance of every RGB pixel of the TRAINING images (N, H, W, 3)."""
    x = as_image_batch(images, "images")
    if x.shape[-1] != 3:
        raise ValueError(f"PCA lighting needs RGB images (C = 3); got C = {x.shape[-1]}.")
    values, vectors = np.linalg.eigh(np.cov(x.reshape(-1, 3).astype(np.float64), rowvar=False))
    order = np.argsort(values)[::-1]
    return values[order], vectors[:, order]


def _lighting_args(eigvals, eigvecs):
    eigvals = np.asarray(eigvals, dtype=float)
    eigvecs = np.asarray(eigvecs, dtype=float)
    if eigvals.shape != (3,) or eigvecs.shape != (3, 3):
        raise ValueError(f"eigvals must have shape (3,) and eigvecs (3, 3), as fit_pca_lighting "
                         f"returns them; got {eigvals.shape} and {eigvecs.shape}.")
    return eigvals, eigvecs


def pca_lighting(x, eigvals, eigvecs, std: float = 0.1, rng=None, *, params=None):
    """AlexNet's lighting noise: add ``eigvecs @ (alpha * eigvals)`` to every pixel of image i,
    alpha ~ N(0, std^2) drawn per image and component (Krizhevsky et al., 2012). The shift
    follows the training set's own colour variation; values are not clipped.

    Returns ``(out, {"alpha": (N, 3)})``.
    """
    x = as_image_batch(x)
    eigvals, eigvecs = _lighting_args(eigvals, eigvecs)
    if _source("rng", rng, params, "pca_lighting"):
        alpha = rng.normal(0.0, check_positive(std, "std", allow_zero=True), (len(x), 3))
    else:
        (alpha,) = _params(params, ("alpha",), len(x))
    shift = (alpha * eigvals) @ eigvecs.T  # (N, 3)
    return x + shift[:, None, None, :].astype(x.dtype), {"alpha": alpha}


def pca_lighting_torch(x, eigvals, eigvecs, std: float = 0.1, generator=None, *, params=None):
    """Torch twin of :func:`pca_lighting`."""
    x = as_image_batch_torch(x)
    eigvals, eigvecs = _lighting_args(eigvals, eigvecs)
    if _source("generator", generator, params, "pca_lighting_torch"):
        alpha = torch.randn(len(x), 3, generator=generator, device=generator.device,
                            dtype=torch.float64) * check_positive(std, "std", allow_zero=True)
    else:
        (alpha,) = _params(params, ("alpha",), len(x), torch_like=x)
    alpha = alpha.to(device=x.device, dtype=torch.float64)
    vals = torch.as_tensor(eigvals, device=x.device)
    vecs = torch.as_tensor(eigvecs, device=x.device)
    shift = ((alpha * vals) @ vecs.T).to(x.dtype)
    return x + shift[:, :, None, None], {"alpha": alpha}


# --------------------------------------------------------------------------------------------
# inversion and solarization (two of AutoAugment's operations)
# --------------------------------------------------------------------------------------------
def invert(x) -> np.ndarray:
    """1 - x: a negative of every image in [0, 1]."""
    return 1 - as_image_batch(x)


def invert_torch(x) -> torch.Tensor:
    """Torch twin of :func:`invert`."""
    return 1 - as_image_batch_torch(x)


def _threshold(threshold, n, lib, like=None):
    if isinstance(threshold, str | bytes) or threshold is None:
        raise TypeError(f"threshold must be a number in [0, 1]; got {_describe(threshold)}.")
    if lib is np:
        return np.broadcast_to(np.asarray(threshold, dtype=float), (n,)).reshape(-1, 1, 1, 1)
    t = torch.as_tensor(threshold, dtype=like.dtype, device=like.device)
    return (t.expand(n) if t.ndim == 0 else t).reshape(-1, 1, 1, 1)


def solarize(x, threshold) -> np.ndarray:
    """Invert every pixel at or above ``threshold`` (one number, or one per image)."""
    x = as_image_batch(x)
    return np.where(x >= _threshold(threshold, len(x), np), 1 - x, x)


def solarize_torch(x, threshold) -> torch.Tensor:
    """Torch twin of :func:`solarize`."""
    x = as_image_batch_torch(x)
    return torch.where(x >= _threshold(threshold, len(x), torch, x), 1 - x, x)
