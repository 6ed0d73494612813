"""Topic 02: data preprocessing: zero-centring and normalizing, fitted on the training split.

Two kinds of data, one rule: **fit** the statistics on the training split only, then
**transform** every split (train, validation, test) with those same statistics.

- Tabular data ``X`` of shape (N, D): :func:`standardize_fit` returns the per-feature mean and
  standard deviation, :func:`standardize_transform` applies ``(X - mean) / std``. This is what
  ``X -= np.mean(X, axis=0); X /= np.std(X, axis=0)`` does, split into its two halves, and
  what ``sklearn.preprocessing.StandardScaler`` computes.
- Images, in either memory layout: ``"NHWC"`` (N images of H x W pixels with C channels; NumPy,
  PIL, matplotlib) or ``"NCHW"`` (PyTorch). Three schemes:

  ============================  ==================================  ======================
  scheme                        statistics (NHWC / NCHW shape)      used by
  ============================  ==================================  ======================
  ``"mean_image"``              mean image (H, W, C) / (C, H, W)    AlexNet
  ``"channel_mean"``            per-channel mean (1, 1, C) / (C, 1, 1)  VGG
  ``"channel_mean_std"``        per-channel mean and std, same shape  most models today
  ============================  ==================================  ======================

  :func:`mean_image`, :func:`channel_mean` and :func:`channel_std` fit one statistic each,
  :func:`fit_image_stats` picks by scheme, and :func:`normalize_images` applies
  ``(images - mean) / std``.

**Zero variance.** A feature or channel whose standard deviation is below ``eps`` (default
:data:`EPS` = 1e-8), for instance a pixel that is 0 in every training image, gets a scale of
exactly 1: it is centred but not divided, so it stays 0 instead of becoming ``0/0 = NaN``, and
a validation value there is not blown up by ``1/1e-8``. scikit-learn's ``StandardScaler`` does
the same, so the two agree on every column.

Standard deviations are the population ones (``ddof=0``, dividing by N), as ``np.std`` and
``StandardScaler``. The NumPy functions compute the statistics in float64 and return them in
the input's float dtype (float32 stays float32; integer images such as uint8 become float64).
The torch twins (``*_torch``) compute in the tensor's dtype on the tensor's device, and move
statistics passed to them onto that device.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

from tnn._validate import _describe, as_float_array, check_choice, check_positive

__all__ = [
    "EPS",
    "LAYOUTS",
    "SCHEMES",
    "standardize_fit",
    "standardize_fit_torch",
    "standardize_transform",
    "standardize_transform_torch",
    "mean_image",
    "mean_image_torch",
    "channel_mean",
    "channel_mean_torch",
    "channel_std",
    "channel_std_torch",
    "fit_image_stats",
    "fit_image_stats_torch",
    "normalize_images",
    "normalize_images_torch",
    "to_layout",
    "random_patches",
    "nearest_neighbour_accuracy",
    "leakage_experiment",
    "largest_curvature",
    "train_raw_vs_normalized",
]

EPS = 1e-8  # a std below this counts as zero variance: that feature/channel gets scale 1

LAYOUTS = ("NHWC", "NCHW")
SCHEMES = ("mean_image", "channel_mean", "channel_mean_std")

# axes the per-channel statistics reduce over, and where the channel axis is
_REDUCE = {"NHWC": (0, 1, 2), "NCHW": (0, 2, 3)}
_CHANNEL_AXIS = {"NHWC": 3, "NCHW": 1}
_SHAPE_NAMES = {"NHWC": "(N, H, W, C)", "NCHW": "(N, C, H, W)"}


# --------------------------------------------------------------------------------------------
# Validation shared by the NumPy and torch paths (they see shapes as tuples)
# --------------------------------------------------------------------------------------------
def _check_table(shape: tuple, name: str = "X") -> None:
    if len(shape) != 2:
        hint = (f" For a single example use {name}[None, :]; for one feature use "
                f"{name}[:, None]." if len(shape) == 1 else
                f" Flatten each example first, e.g. {name}.reshape(len({name}), -1).")
        raise ValueError(
            f"{name} must be a 2-D array of shape (N, D) (N examples, D features); got an "
            f"array of shape {shape}.{hint}"
        )


def _check_images(shape: tuple, layout: str, name: str = "images") -> None:
    check_choice(layout, "layout", LAYOUTS)
    if len(shape) != 4:
        if len(shape) == 3:
            hint = (f" For one image add a batch axis with {name}[None]; for a batch of "
                    f"grey-scale images add a channel axis with "
                    f"{name}[..., None] (NHWC) or {name}[:, None] (NCHW).")
        else:
            hint = " Reshape it to a batch of images first."
        raise ValueError(
            f"{name} must be a 4-D array of shape {_SHAPE_NAMES[layout]} for layout="
            f"{layout!r}; got an array of shape {shape}.{hint}"
        )


def _check_nonempty(n: int, name: str) -> None:
    if n == 0:
        raise ValueError(
            f"{name} holds no examples (N = 0); statistics need at least one training example."
        )


def _check_table_stat(shape: tuple, x_shape: tuple, name: str) -> None:
    if shape != (x_shape[1],):
        raise ValueError(
            f"{name} must have shape (D,) = ({x_shape[1]},), one value per feature of X; got "
            f"shape {shape}. Fit it with standardize_fit on training data with the same "
            f"{x_shape[1]} features."
        )


def _image_stat_shapes(x_shape: tuple, layout: str) -> tuple[tuple, tuple]:
    """(per-pixel shape, per-channel shape) that statistics for these images may have."""
    c = x_shape[_CHANNEL_AXIS[layout]]
    per_channel = (1, 1, c) if layout == "NHWC" else (c, 1, 1)
    return tuple(x_shape[1:]), per_channel


def _check_image_stat(shape: tuple, x_shape: tuple, layout: str, name: str) -> None:
    per_pixel, per_channel = _image_stat_shapes(x_shape, layout)
    if shape in (per_pixel, per_channel):
        return
    c = x_shape[_CHANNEL_AXIS[layout]]
    if len(shape) == 3:
        stat_c = shape[2] if layout == "NHWC" else shape[0]
        if stat_c != c:
            other = "NCHW" if layout == "NHWC" else "NHWC"
            raise ValueError(
                f"{name} has {stat_c} channels but images has {c} (layout={layout!r}, channel "
                f"axis {_CHANNEL_AXIS[layout]}); got {name} of shape {shape} for images of "
                f"shape {x_shape}. Fit {name} on images of the same layout, or if {name} was "
                f"fitted in {other!r}, pass layout={other!r} or convert it with to_layout."
            )
    raise ValueError(
        f"{name} must have the per-pixel shape {per_pixel} (mean image) or the per-channel "
        f"shape {per_channel} for images of shape {x_shape} in layout {layout!r}; got shape "
        f"{shape}. Fit it with fit_image_stats(train_images, scheme, layout={layout!r})."
    )


def _safe_std_np(std: np.ndarray, eps: float) -> np.ndarray:
    """Replace a std below ``eps`` by 1 (zero-variance: centre only, do not divide)."""
    return np.where(std < eps, 1.0, std)


def _safe_std_torch(std: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.where(std < eps, torch.ones_like(std), std)


def _as_float_tensor(x, name: str) -> torch.Tensor:
    """``x`` as a floating tensor; integer tensors (e.g. uint8 images) become float32."""
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"{name} must hold real numbers; got {_describe(x)}.")
        return x if x.is_floating_point() else x.to(torch.get_default_dtype())
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(
            f"{name} must be a torch.Tensor of real numbers; got {_describe(x)}. Create one "
            f"with torch.as_tensor(array, device=device)."
        )
    return torch.as_tensor(as_float_array(x, name))


def _stat_tensor(value, like: torch.Tensor, name: str) -> torch.Tensor:
    """A statistic as a tensor with ``like``'s dtype, on ``like``'s device."""
    return _as_float_tensor(value, name).to(device=like.device, dtype=like.dtype)


# --------------------------------------------------------------------------------------------
# Tabular data: X of shape (N, D)
# --------------------------------------------------------------------------------------------
def standardize_fit(X, eps: float = EPS):
    """Per-feature mean and standard deviation of the training data ``X``.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Training examples only: validation and test data must not influence the statistics.
    eps : float, default :data:`EPS`
        A std below ``eps`` (a constant feature) is returned as 1.

    Returns
    -------
    mean : ndarray of shape (D,)
    std : ndarray of shape (D,), every entry >= eps
        Population standard deviation (``ddof=0``), in ``X``'s float dtype.
    """
    X = as_float_array(X, "X")
    _check_table(X.shape)
    _check_nonempty(X.shape[0], "X")
    eps = check_positive(eps, "eps")
    mean = X.mean(axis=0, dtype=np.float64)  # (D,)
    std = _safe_std_np(X.std(axis=0, dtype=np.float64), eps)  # (D,)
    return mean.astype(X.dtype), std.astype(X.dtype)


def standardize_fit_torch(X, eps: float = EPS):
    """Torch twin of :func:`standardize_fit`, on ``X``'s device."""
    X = _as_float_tensor(X, "X")
    _check_table(tuple(X.shape))
    _check_nonempty(X.shape[0], "X")
    eps = check_positive(eps, "eps")
    mean = X.mean(dim=0)  # (D,)
    std = _safe_std_torch(X.std(dim=0, correction=0), eps)  # (D,)
    return mean, std


def standardize_transform(X, mean, std):
    """Zero-centre and scale ``X`` with statistics fitted on the training split.

    Parameters
    ----------
    X : ndarray of shape (N, D)
        Any split: train, validation or test.
    mean, std : ndarray of shape (D,)
        From :func:`standardize_fit` on the training split.

    Returns
    -------
    Z : ndarray of shape (N, D), ``(X - mean) / std``, in ``X``'s float dtype
    """
    X = as_float_array(X, "X")
    _check_table(X.shape)
    mean, std = as_float_array(mean, "mean"), as_float_array(std, "std")
    _check_table_stat(mean.shape, X.shape, "mean")
    _check_table_stat(std.shape, X.shape, "std")
    _check_scale(std, "std")
    Z = (X - mean.astype(X.dtype)) / std.astype(X.dtype)  # (N, D)
    return Z


def standardize_transform_torch(X, mean, std):
    """Torch twin of :func:`standardize_transform`; statistics move to ``X``'s device."""
    X = _as_float_tensor(X, "X")
    _check_table(tuple(X.shape))
    mean, std = _stat_tensor(mean, X, "mean"), _stat_tensor(std, X, "std")
    _check_table_stat(tuple(mean.shape), tuple(X.shape), "mean")
    _check_table_stat(tuple(std.shape), tuple(X.shape), "std")
    _check_scale(std, "std")
    return (X - mean) / std


def _check_scale(std, name: str) -> None:
    """Refuse a std with zeros, negatives or NaN: dividing by it would give inf or NaN."""
    ok = bool((std > 0).all()) if isinstance(std, torch.Tensor) else bool(np.all(std > 0))
    if not ok:
        raise ValueError(
            f"{name} must be > 0 everywhere (it divides the data); got "
            f"{_describe(std)} with zero, negative or NaN entries. Fit it with the library's "
            f"fit functions, which replace a zero std by 1."
        )


# --------------------------------------------------------------------------------------------
# Images: (N, H, W, C) or (N, C, H, W)
# --------------------------------------------------------------------------------------------
def mean_image(images, layout: str = "NHWC"):
    """The mean image of a training set (AlexNet's preprocessing).

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C) or (N, C, H, W), see ``layout``
    layout : {"NHWC", "NCHW"}

    Returns
    -------
    mean : ndarray of shape (H, W, C) for NHWC, (C, H, W) for NCHW
        One mean per pixel position and channel.
    """
    images = as_float_array(images, "images")
    _check_images(images.shape, layout)
    _check_nonempty(images.shape[0], "images")
    return images.mean(axis=0, dtype=np.float64).astype(images.dtype)  # (H, W, C) / (C, H, W)


def mean_image_torch(images, layout: str = "NHWC"):
    """Torch twin of :func:`mean_image`, on ``images``' device."""
    images = _as_float_tensor(images, "images")
    _check_images(tuple(images.shape), layout)
    _check_nonempty(images.shape[0], "images")
    return images.mean(dim=0)


def channel_mean(images, layout: str = "NHWC"):
    """Per-channel mean over all images and pixel positions (VGG's preprocessing).

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C) or (N, C, H, W)
    layout : {"NHWC", "NCHW"}

    Returns
    -------
    mean : ndarray of shape (1, 1, C) for NHWC, (C, 1, 1) for NCHW
        Shaped to broadcast against one image, and against a batch.
    """
    images = as_float_array(images, "images")
    _check_images(images.shape, layout)
    _check_nonempty(images.shape[0], "images")
    m = images.mean(axis=_REDUCE[layout], dtype=np.float64, keepdims=True)  # (1,1,1,C)/(1,C,1,1)
    return m[0].astype(images.dtype)  # (1, 1, C) / (C, 1, 1)


def channel_mean_torch(images, layout: str = "NHWC"):
    """Torch twin of :func:`channel_mean`."""
    images = _as_float_tensor(images, "images")
    _check_images(tuple(images.shape), layout)
    _check_nonempty(images.shape[0], "images")
    return images.mean(dim=_REDUCE[layout], keepdim=True)[0]


def channel_std(images, layout: str = "NHWC", eps: float = EPS):
    """Per-channel standard deviation over all images and pixel positions.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C) or (N, C, H, W)
    layout : {"NHWC", "NCHW"}
    eps : float, default :data:`EPS`
        A channel whose std is below ``eps`` (constant everywhere) gets 1.

    Returns
    -------
    std : ndarray of shape (1, 1, C) for NHWC, (C, 1, 1) for NCHW
        Population std (``ddof=0``) of each channel, pooled over N, H and W.
    """
    images = as_float_array(images, "images")
    _check_images(images.shape, layout)
    _check_nonempty(images.shape[0], "images")
    eps = check_positive(eps, "eps")
    s = images.std(axis=_REDUCE[layout], dtype=np.float64, keepdims=True)  # (1,1,1,C)/(1,C,1,1)
    return _safe_std_np(s[0], eps).astype(images.dtype)  # (1, 1, C) / (C, 1, 1)


def channel_std_torch(images, layout: str = "NHWC", eps: float = EPS):
    """Torch twin of :func:`channel_std`."""
    images = _as_float_tensor(images, "images")
    _check_images(tuple(images.shape), layout)
    _check_nonempty(images.shape[0], "images")
    eps = check_positive(eps, "eps")
    s = images.std(dim=_REDUCE[layout], correction=0, keepdim=True)[0]
    return _safe_std_torch(s, eps)


def fit_image_stats(images, scheme: str = "channel_mean_std", layout: str = "NHWC",
                    eps: float = EPS):
    """Fit one of the three image preprocessing schemes on training images.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C) or (N, C, H, W)
        Training images only.
    scheme : {"mean_image", "channel_mean", "channel_mean_std"}
    layout : {"NHWC", "NCHW"}
    eps : float
        Zero-variance floor for ``"channel_mean_std"`` (see :func:`channel_std`).

    Returns
    -------
    mean : ndarray of shape (H, W, C) / (C, H, W) for ``"mean_image"``, else (1, 1, C) / (C, 1, 1)
    std : ndarray of shape (1, 1, C) / (C, 1, 1) for ``"channel_mean_std"``, else None
        Pass both to :func:`normalize_images`.
    """
    check_choice(scheme, "scheme", SCHEMES)
    if scheme == "mean_image":
        return mean_image(images, layout), None
    if scheme == "channel_mean":
        return channel_mean(images, layout), None
    return channel_mean(images, layout), channel_std(images, layout, eps)


def fit_image_stats_torch(images, scheme: str = "channel_mean_std", layout: str = "NHWC",
                          eps: float = EPS):
    """Torch twin of :func:`fit_image_stats`."""
    check_choice(scheme, "scheme", SCHEMES)
    if scheme == "mean_image":
        return mean_image_torch(images, layout), None
    if scheme == "channel_mean":
        return channel_mean_torch(images, layout), None
    return channel_mean_torch(images, layout), channel_std_torch(images, layout, eps)


def normalize_images(images, mean, std=None, layout: str = "NHWC"):
    """Apply fitted statistics: ``(images - mean) / std``, or ``images - mean`` without std.

    Parameters
    ----------
    images : ndarray of shape (N, H, W, C) or (N, C, H, W)
        Any split: train, validation or test.
    mean : ndarray of the per-pixel shape (H, W, C) / (C, H, W) or per-channel shape
        (1, 1, C) / (C, 1, 1), from :func:`fit_image_stats` on the training images
    std : ndarray of the same possible shapes, optional
    layout : {"NHWC", "NCHW"}
        The layout of ``images`` and of the statistics.

    Returns
    -------
    out : ndarray, same shape as ``images``, in ``images``' float dtype
    """
    images = as_float_array(images, "images")
    _check_images(images.shape, layout)
    mean = as_float_array(mean, "mean")
    _check_image_stat(mean.shape, images.shape, layout, "mean")
    out = images - mean.astype(images.dtype)  # broadcasts over N (and H, W per channel)
    if std is not None:
        std = as_float_array(std, "std")
        _check_image_stat(std.shape, images.shape, layout, "std")
        _check_scale(std, "std")
        out = out / std.astype(images.dtype)
    return out


def normalize_images_torch(images, mean, std=None, layout: str = "NHWC"):
    """Torch twin of :func:`normalize_images`; statistics move to ``images``' device."""
    images = _as_float_tensor(images, "images")
    _check_images(tuple(images.shape), layout)
    mean = _stat_tensor(mean, images, "mean")
    _check_image_stat(tuple(mean.shape), tuple(images.shape), layout, "mean")
    out = images - mean
    if std is not None:
        std = _stat_tensor(std, images, "std")
        _check_image_stat(tuple(std.shape), tuple(images.shape), layout, "std")
        _check_scale(std, "std")
        out = out / std
    return out


def to_layout(array, source: str, target: str):
    """Move the channel axis of a batch (4-D) or a statistic (3-D) between NHWC and NCHW.

    Parameters
    ----------
    array : ndarray or torch.Tensor with 4 axes (a batch) or 3 axes (a statistic)
    source, target : {"NHWC", "NCHW"}

    Returns
    -------
    same values with the channel axis moved; a view where possible
    """
    check_choice(source, "source", LAYOUTS)
    check_choice(target, "target", LAYOUTS)
    ndim = array.ndim
    if ndim not in (3, 4):
        raise ValueError(
            f"array must have 4 axes (a batch of images) or 3 (one statistic); got shape "
            f"{tuple(array.shape)}."
        )
    if source == target:
        return array
    last, first = ndim - 1, ndim - 3  # channel axis in NHWC, in NCHW
    src, dst = (last, first) if source == "NHWC" else (first, last)
    if isinstance(array, torch.Tensor):
        return torch.movedim(array, src, dst)
    return np.moveaxis(array, src, dst)


# --------------------------------------------------------------------------------------------
# Real images as a small data set, and the leakage experiment
# --------------------------------------------------------------------------------------------
def random_patches(images, n: int, size: int, rng: np.random.Generator):
    """Crop ``n`` random ``size`` x ``size`` patches from a list of NHWC images.

    Parameters
    ----------
    images : sequence of ndarrays of shape (H_i, W_i, C), e.g. ``load_sample_images().images``
    n, size : int >= 1
    rng : np.random.Generator
        Picks the image and the corner of every patch.

    Returns
    -------
    patches : ndarray of shape (n, size, size, C), the images' dtype (uint8 stays uint8)
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator; got {_describe(rng)}. "
                        "Create one with np.random.default_rng(seed).")
    images = [np.asarray(im) for im in images]
    if not images or any(im.ndim != 3 for im in images):
        raise ValueError("images must be a non-empty list of (H, W, C) arrays; got shapes "
                         f"{[im.shape for im in images]}.")
    for name, value in (("n", n), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {_describe(value)}.")
    if any(min(im.shape[:2]) < size for im in images):
        raise ValueError(f"size={size} is larger than the smallest image "
                         f"{min(min(im.shape[:2]) for im in images)} pixels.")
    out = []
    for k in rng.integers(len(images), size=n):
        im = images[k]
        top = rng.integers(im.shape[0] - size + 1)
        left = rng.integers(im.shape[1] - size + 1)
        out.append(im[top:top + size, left:left + size])  # (size, size, C)
    return np.stack(out)


def nearest_neighbour_accuracy(X_train, y_train, X_val, y_val) -> float:
    """Validation accuracy of the 1-nearest-neighbour classifier (Euclidean distance).

    Distances depend on every feature's scale, so this classifier shows plainly what
    preprocessing does. Ties go to the first training example, as in scikit-learn.

    Parameters
    ----------
    X_train : ndarray of shape (N, D)
    y_train : ndarray of shape (N,)
    X_val : ndarray of shape (M, D)
    y_val : ndarray of shape (M,)

    Returns
    -------
    accuracy : float in [0, 1]
    """
    X_train, X_val = as_float_array(X_train, "X_train"), as_float_array(X_val, "X_val")
    _check_table(X_train.shape, "X_train")
    _check_table(X_val.shape, "X_val")
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    if X_val.shape[1] != X_train.shape[1] or y_train.shape != (len(X_train),) or \
            y_val.shape != (len(X_val),):
        raise ValueError(
            f"expected X_train (N, D), y_train (N,), X_val (M, D), y_val (M,); got "
            f"{X_train.shape}, {y_train.shape}, {X_val.shape}, {y_val.shape}.")
    sq = ((X_val[:, None, :] - X_train[None, :, :]) ** 2).sum(axis=2)  # (M, N)
    return float(np.mean(y_train[np.argmin(sq, axis=1)] == y_val))


def leakage_experiment(X, y, n_train: int, n_val: int, repeats: int,
                       rng: np.random.Generator) -> dict:
    """Validation accuracy with statistics fitted on the training split vs on train + val.

    For each of ``repeats`` random splits, standardize with statistics from the training
    split only (honest) and from the training and validation splits together (leaky), and
    score a 1-nearest-neighbour classifier on the validation split both ways.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    y : ndarray of shape (N,)
    n_train, n_val : int, with ``n_train + n_val <= N``
    repeats : int >= 1
    rng : np.random.Generator
        Draws the splits.

    Returns
    -------
    result : dict of ndarrays of shape (repeats,)
        ``honest`` and ``leaky`` validation accuracies, and ``gap = leaky - honest``.
    """
    X = as_float_array(X, "X")
    _check_table(X.shape)
    y = np.asarray(y)
    if y.shape != (len(X),) or n_train < 1 or n_val < 1 or n_train + n_val > len(X):
        raise ValueError(
            f"need y of shape ({len(X)},) and 1 <= n_train, n_val with n_train + n_val <= "
            f"{len(X)}; got y {y.shape}, n_train={n_train}, n_val={n_val}.")
    honest, leaky = np.zeros(repeats), np.zeros(repeats)
    for r in range(repeats):
        order = rng.permutation(len(y))
        tr, va = order[:n_train], order[n_train:n_train + n_val]
        for out, fit_on in ((honest, X[tr]), (leaky, X[np.concatenate([tr, va])])):
            mean, std = standardize_fit(fit_on)
            out[r] = nearest_neighbour_accuracy(
                standardize_transform(X[tr], mean, std), y[tr],
                standardize_transform(X[va], mean, std), y[va])
    return {"honest": honest, "leaky": leaky, "gap": leaky - honest}


# --------------------------------------------------------------------------------------------
# Why it helps training: curvature, and the same network trained on raw vs normalized inputs
# --------------------------------------------------------------------------------------------
def largest_curvature(X) -> float:
    """Largest eigenvalue of ``X^T X / N``: the sharpest curvature of a linear least-squares
    loss on inputs ``X``.

    Gradient descent on that loss diverges for learning rates above ``2 / largest_curvature``;
    an offset (non-zero mean) or one feature with a large scale makes this number large, and
    so forces a small learning rate on every direction.

    Parameters
    ----------
    X : ndarray of shape (N, D)

    Returns
    -------
    lam_max : float
    """
    X = as_float_array(X, "X").astype(np.float64)
    _check_table(X.shape)
    _check_nonempty(X.shape[0], "X")
    return float(np.linalg.eigvalsh(X.T @ X / X.shape[0])[-1])  # (D, D) -> largest eigenvalue


def train_raw_vs_normalized(splits: dict, lrs, *, epochs: int = 20, hidden: int = 64,
                            seed: int = 0, device="cpu") -> dict:
    """Train the same MLP on raw and on standardized inputs, for each learning rate.

    Each run starts from the same initial weights (``torch.manual_seed(seed)`` before
    building the model) and sees the same batch order; only the inputs differ. The
    statistics come from the training split.

    Parameters
    ----------
    splits : dict with ``"train"`` and ``"val"`` :class:`tnn.data.Split` s, ``X`` of shape (N, D)
    lrs : sequence of float
    epochs, hidden, seed : int
    device : torch.device or str

    Returns
    -------
    histories : dict mapping ``("raw" | "normalized", lr)`` to :class:`tnn.nets.History`
    """
    from tnn.nets import make_mlp, train_classifier

    with _one_cpu_thread(device):
        return _train_raw_vs_normalized(splits, lrs, epochs, hidden, seed, device,
                                        make_mlp, train_classifier)


@contextmanager
def _one_cpu_thread(device):
    """Run torch on one CPU thread for the duration (restored afterwards).

    A 64 -> 64 -> 10 MLP on batches of 64 is far too small to gain from intra-op threads;
    on a busy 2-core machine the threads wait on each other and a run that takes 0.4 s on
    one thread takes 10 s or more on two. Results are the same either way.
    """
    if torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _train_raw_vs_normalized(splits, lrs, epochs, hidden, seed, device, make_mlp,
                             train_classifier):
    train, val = splits["train"], splits["val"]
    mean, std = standardize_fit(train.X)
    inputs = {
        "raw": (train.X, val.X),
        "normalized": (standardize_transform(train.X, mean, std),
                       standardize_transform(val.X, mean, std)),
    }
    n_classes = int(max(train.y.max(), val.y.max())) + 1
    histories = {}
    for lr in lrs:
        for kind, (X_train, X_val) in inputs.items():
            torch.manual_seed(seed)
            model = make_mlp([train.X.shape[1], hidden, n_classes], "relu")
            histories[(kind, lr)] = train_classifier(
                model, X_train, train.y, X_val, val.y, epochs=epochs, lr=lr, seed=seed,
                device=device, progress=False)
    return histories
