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

- Batch statistics: :func:`standardize_batch` standardizes a batch with its own mean and std
  (batch normalization's core) and :func:`standardize_backward` is its backward pass, with the
  gradient paths through the mean and the std.
- Experiments of lecture 02: :func:`leakage_experiment` (statistics fitted on train vs train +
  validation, scored on an untouched test split), :func:`select_features`,
  :func:`cross_val_accuracy` and :func:`selection_leakage_experiment` (a fitted step that uses
  the labels), :func:`curvature_spectrum` and :func:`condition_number` (why scaling helps
  gradient descent), :func:`train_raw_vs_normalized`.

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
    "standardize_batch",
    "standardize_batch_torch",
    "standardize_backward",
    "standardize_backward_torch",
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
    "nearest_neighbour_predict",
    "nearest_neighbour_accuracy",
    "leakage_experiment",
    "select_features",
    "cross_val_accuracy",
    "selection_leakage_experiment",
    "largest_curvature",
    "curvature_spectrum",
    "condition_number",
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
# Standardizing a batch with its own statistics, and the backward pass through it
# --------------------------------------------------------------------------------------------
def standardize_batch(x, eps: float = EPS):
    """Standardize a batch with the batch's own statistics: ``(x - mean(x)) / std(x)``.

    This is batch normalization's core without the learned scale and shift. Unlike
    :func:`standardize_transform`, the statistics are functions of ``x`` itself, so a
    gradient with respect to ``x`` flows through them too (see :func:`standardize_backward`).

    Parameters
    ----------
    x : ndarray of shape (N, D), float32 or float64
    eps : float, default :data:`EPS`
        A feature whose std is below ``eps`` gets scale 1 (centred, not divided).

    Returns
    -------
    y : ndarray of shape (N, D), ``x``'s float dtype
    """
    mean, std = standardize_fit(x, eps)
    return standardize_transform(x, mean, std)


def standardize_batch_torch(x, eps: float = EPS):
    """Torch twin of :func:`standardize_batch`; differentiable, so autograd gives its backward."""
    mean, std = standardize_fit_torch(x, eps)
    return standardize_transform_torch(x, mean, std)


def _check_dout(dout_shape: tuple, x_shape: tuple) -> None:
    if dout_shape != x_shape:
        raise ValueError(
            f"dout must have the shape of the forward output, {x_shape} (one upstream "
            f"gradient per entry of y = standardize_batch(x)); got shape {dout_shape}."
        )


def standardize_backward(x, dout, eps: float = EPS):
    """Gradient of ``sum(dout * standardize_batch(x))`` with respect to ``x``.

    With ``y = (x - mu) / sigma`` per feature (``mu``, ``sigma`` the batch mean and population
    std, both functions of every ``x[n]``), the chain rule through ``mu`` and ``sigma`` gives,
    feature by feature::

        dx = (dout - mean(dout) - y * mean(dout * y)) / sigma

    (means over the N examples). The two subtracted terms are the paths through ``mu`` and
    through ``sigma``; they make ``dx`` sum to zero over the batch and be orthogonal to ``y``,
    because shifting or scaling a feature's inputs does not change its output. This is the
    backward pass of batch normalization without its learned scale. A feature whose std is
    below ``eps`` uses ``sigma = 1`` and ``y = 0`` (it is only centred), so its gradient is
    ``dout - mean(dout)``.

    Parameters
    ----------
    x : ndarray of shape (N, D), float32 or float64
        The forward input.
    dout : ndarray of shape (N, D)
        Upstream gradient, dL/dy.
    eps : float, default :data:`EPS`

    Returns
    -------
    dx : ndarray of shape (N, D), ``x``'s float dtype
    """
    x = as_float_array(x, "x")
    _check_table(x.shape, "x")
    _check_nonempty(x.shape[0], "x")
    dout = as_float_array(dout, "dout")
    _check_dout(dout.shape, x.shape)
    x64, dout64 = x.astype(np.float64), dout.astype(np.float64)
    mean, std = standardize_fit(x64, eps)  # (D,), (D,)
    y = (x64 - mean) / std  # (N, D)
    dx = (dout64 - dout64.mean(axis=0) - y * (dout64 * y).mean(axis=0)) / std  # (N, D)
    return dx.astype(x.dtype)


def standardize_backward_torch(x, dout, eps: float = EPS):
    """Torch twin of :func:`standardize_backward`, on ``x``'s device."""
    x = _as_float_tensor(x, "x")
    _check_table(tuple(x.shape), "x")
    _check_nonempty(x.shape[0], "x")
    dout = _stat_tensor(dout, x, "dout")
    _check_dout(tuple(dout.shape), tuple(x.shape))
    mean, std = standardize_fit_torch(x, eps)  # (D,), (D,)
    y = (x - mean) / std  # (N, D)
    return (dout - dout.mean(dim=0) - y * (dout * y).mean(dim=0)) / std


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


def _check_train_test(X_train, y_train, X_test, name_test: str = "X_test"):
    X_train, X_test = as_float_array(X_train, "X_train"), as_float_array(X_test, name_test)
    _check_table(X_train.shape, "X_train")
    _check_table(X_test.shape, name_test)
    y_train = np.asarray(y_train)
    if X_test.shape[1] != X_train.shape[1] or y_train.shape != (len(X_train),) or \
            len(X_train) == 0:
        raise ValueError(
            f"expected X_train (N, D) with N >= 1, y_train (N,) and {name_test} (M, D); got "
            f"{X_train.shape}, {y_train.shape}, {X_test.shape}.")
    return X_train, y_train, X_test


def nearest_neighbour_predict(X_train, y_train, X_test):
    """Labels of the 1-nearest-neighbour classifier (Euclidean distance).

    Parameters
    ----------
    X_train : ndarray of shape (N, D)
    y_train : ndarray of shape (N,), any label dtype
    X_test : ndarray of shape (M, D)

    Returns
    -------
    y_pred : ndarray of shape (M,), ``y_train``'s dtype
        The label of the closest training example; ties go to the first one.
    """
    X_train, y_train, X_test = _check_train_test(X_train, y_train, X_test)
    a, b = X_test.astype(np.float64), X_train.astype(np.float64)
    # |a - b|^2 = |a|^2 - 2 a.b + |b|^2; |a|^2 is the same for every candidate, so drop it
    sq = (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)  # (M, N)
    return y_train[np.argmin(sq, axis=1)]


def nearest_neighbour_accuracy(X_train, y_train, X_val, y_val) -> float:
    """Accuracy of the 1-nearest-neighbour classifier (Euclidean distance) on ``X_val``.

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
    y_val = np.asarray(y_val)
    if y_val.shape != (np.shape(X_val)[0],):
        raise ValueError(f"y_val must have shape ({np.shape(X_val)[0]},), one label per row of "
                         f"X_val; got {y_val.shape}.")
    return float(np.mean(nearest_neighbour_predict(X_train, y_train, X_val) == y_val))


def leakage_experiment(X, y, n_train: int, n_val: int, n_test: int, repeats: int,
                       rng: np.random.Generator) -> dict:
    """Standardization statistics fitted honestly (train) or leakily (train + val), scored on
    the validation split *and* on an untouched test split.

    For each of ``repeats`` random splits into train / val / test, a 1-nearest-neighbour
    classifier on the training split is scored three ways: on raw features, standardized
    with statistics from the training split (honest), and standardized with statistics from
    the training and validation splits (leaky). The test split is used by neither fit, so
    it tells whether a pipeline's validation score is optimistic: an optimistic validation
    score is higher than the same pipeline's test score.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    y : ndarray of shape (N,)
    n_train, n_val, n_test : int >= 1, with ``n_train + n_val + n_test <= N``
    repeats : int >= 1
    rng : np.random.Generator
        Draws the splits.

    Returns
    -------
    result : dict of float ndarrays of shape (repeats,)
        ``"<pipeline>_<split>"`` accuracies for pipeline in ``raw, honest, leaky`` and split in
        ``val, test``.
    """
    X = as_float_array(X, "X").astype(np.float64)
    _check_table(X.shape)
    y = np.asarray(y)
    sizes = (n_train, n_val, n_test, repeats)
    if y.shape != (len(X),) or min(sizes) < 1 or n_train + n_val + n_test > len(X):
        raise ValueError(
            f"need y of shape ({len(X)},), n_train, n_val, n_test, repeats >= 1 and "
            f"n_train + n_val + n_test <= {len(X)}; got y {y.shape}, n_train={n_train}, "
            f"n_val={n_val}, n_test={n_test}, repeats={repeats}.")
    out = {f"{p}_{s}": np.zeros(repeats) for p in ("raw", "honest", "leaky")
           for s in ("val", "test")}
    with _one_blas_thread():
        for r in range(repeats):
            _leakage_repeat(X, y, rng, (n_train, n_val, n_test), out, r)
    return out


def _leakage_repeat(X, y, rng, sizes, out, r):
    """One random split of :func:`leakage_experiment`; writes entry ``r`` of every array."""
    n_train, n_val, n_test = sizes
    order = rng.permutation(len(y))
    tr, va, te = np.split(order[:n_train + n_val + n_test], [n_train, n_train + n_val])
    fits = {"raw": None, "honest": X[tr], "leaky": X[np.concatenate([tr, va])]}
    for pipeline, fit_on in fits.items():
        if fit_on is None:  # raw features
            Z_train, Z = X[tr], X
        else:
            mean, std = standardize_fit(fit_on)  # (D,), (D,)
            Z_train, Z = standardize_transform(X[tr], mean, std), standardize_transform(X, mean, std)
        for split, idx in (("val", va), ("test", te)):
            out[f"{pipeline}_{split}"][r] = nearest_neighbour_accuracy(Z_train, y[tr], Z[idx], y[idx])


# --------------------------------------------------------------------------------------------
# Leakage that matters: a fitted step that uses the labels
# --------------------------------------------------------------------------------------------
def select_features(X, y, k: int):
    """Indices of the ``k`` features most correlated with the labels (a fit that uses ``y``).

    The score of feature j is the absolute Pearson correlation between column ``X[:, j]`` and
    ``y``; a constant column (or constant ``y``) scores 0.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), numeric labels (e.g. 0/1)
    k : int, 1 <= k <= D

    Returns
    -------
    idx : ndarray of shape (k,), int64
        Feature indices in decreasing order of score (ties: lower index first).
    """
    X = as_float_array(X, "X").astype(np.float64)
    _check_table(X.shape)
    _check_nonempty(X.shape[0], "X")
    y = as_float_array(y, "y").astype(np.float64)
    if y.shape != (len(X),):
        raise ValueError(f"y must have shape ({len(X)},), one label per row of X; got {y.shape}.")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= X.shape[1]:
        raise ValueError(f"k must be an int between 1 and D = {X.shape[1]}; got {_describe(k)}.")
    Xc, yc = X - X.mean(axis=0), y - y.mean()  # (N, D), (N,)
    cov = Xc.T @ yc  # (D,)
    norm = np.sqrt((Xc * Xc).sum(axis=0) * (yc @ yc))  # (D,)
    score = np.abs(np.divide(cov, norm, out=np.zeros_like(cov), where=norm > 0))  # (D,)
    return np.argsort(-score, kind="stable")[:k].astype(np.int64)


def cross_val_accuracy(X, y, folds, k: int, leaky: bool, select=None) -> float:
    """Cross-validated 1-nearest-neighbour accuracy on the ``k`` features chosen by ``select``.

    For every fold f, the examples with ``folds == f`` are held out and classified by their
    nearest neighbour among the others, using only the selected features. Honest
    (``leaky=False``): the features are selected inside each fold, on the held-in rows only.
    Leaky (``leaky=True``): they are selected once, on all rows, held-out ones included,
    before the data is split.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    y : ndarray of shape (N,), labels
    folds : ndarray of shape (N,), int: the fold of every example
    k : int, number of features to keep
    leaky : bool
    select : callable, optional
        ``select(X, y, k) -> indices``; default :func:`select_features`.

    Returns
    -------
    accuracy : float in [0, 1], over all N examples (each is held out exactly once)
    """
    select = select_features if select is None else select
    X = as_float_array(X, "X")
    _check_table(X.shape)
    y, folds = np.asarray(y), np.asarray(folds)
    if y.shape != (len(X),) or folds.shape != (len(X),):
        raise ValueError(f"y and folds must have shape ({len(X)},); got {y.shape} and "
                         f"{folds.shape}.")
    if len(np.unique(folds)) < 2:
        raise ValueError("folds must name at least two different folds; got "
                         f"{len(np.unique(folds))}.")
    chosen = select(X, y, k) if leaky else None  # leaky: one selection that saw every row
    correct = 0
    for f in np.unique(folds):
        held_out = folds == f  # (N,) bool
        held_in = ~held_out
        idx = chosen if leaky else select(X[held_in], y[held_in], k)
        pred = nearest_neighbour_predict(X[held_in][:, idx], y[held_in], X[held_out][:, idx])
        correct += int(np.sum(pred == y[held_out]))
    return correct / len(y)


def selection_leakage_experiment(n: int, d: int, k: int, n_folds: int, repeats: int,
                                 rng: np.random.Generator) -> dict:
    """Feature selection before vs inside cross-validation, on labels that are pure noise.

    Each repeat draws ``X`` of shape (n, d) from a standard normal, balanced 0/1 labels
    independent of ``X`` and a random assignment to ``n_folds`` folds, and scores both
    protocols of :func:`cross_val_accuracy`. No classifier can beat 0.5 on new data here.

    Returns
    -------
    result : dict with ``"leaky"`` and ``"honest"``: float ndarrays of shape (repeats,)
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator; got {_describe(rng)}.")
    out = {"leaky": np.zeros(repeats), "honest": np.zeros(repeats)}
    with _one_blas_thread():
        for r in range(repeats):
            X = rng.normal(size=(n, d))  # (n, d) features
            y = rng.permutation(np.arange(n) % 2)  # (n,) labels, independent of X
            folds = rng.permutation(np.arange(n) % n_folds)  # (n,) fold of each example
            for protocol in out:
                out[protocol][r] = cross_val_accuracy(X, y, folds, k, leaky=protocol == "leaky")
    return out


@contextmanager
def _one_blas_thread():
    """Run NumPy's BLAS on one thread for the duration: thousands of small matrix products
    gain nothing from threads, and on a busy 2-core machine the threads wait on each other.
    Results are the same either way."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


# --------------------------------------------------------------------------------------------
# Why it helps training: curvature, and the same network trained on raw vs normalized inputs
# --------------------------------------------------------------------------------------------
def curvature_spectrum(X):
    """Eigenvalues of ``X^T X / N``, the Hessian of the least-squares loss of a linear model.

    The loss convention is ``L(w) = ||X w - t||^2 / (2 N)`` (mean squared error with a factor
    1/2), whose Hessian is ``X^T X / N``; gradient descent on it diverges for learning rates
    above ``2 / lambda_max``, and a direction of curvature ``lambda`` shrinks by a factor
    ``|1 - lr * lambda|`` per step.

    Parameters
    ----------
    X : ndarray of shape (N, D)

    Returns
    -------
    eigenvalues : float64 ndarray of shape (D,), ascending
    """
    X = as_float_array(X, "X").astype(np.float64)
    _check_table(X.shape)
    _check_nonempty(X.shape[0], "X")
    n, d = X.shape
    if n >= d:
        return np.linalg.eigvalsh(X.T @ X / n)  # (D,)
    # fewer examples than features: X X^T / N (N, N) has the same non-zero eigenvalues, and
    # the other D - N are exactly 0; far cheaper for images (e.g. 500 x 3072)
    small = np.clip(np.linalg.eigvalsh(X @ X.T / n), 0.0, None)  # (N,)
    return np.concatenate([np.zeros(d - n), small])  # (D,)


def largest_curvature(X) -> float:
    """Largest eigenvalue of ``X^T X / N`` (see :func:`curvature_spectrum`).

    Parameters
    ----------
    X : ndarray of shape (N, D)

    Returns
    -------
    lam_max : float
    """
    return float(curvature_spectrum(X)[-1])


def condition_number(X, rtol: float = 1e-9) -> tuple[float, int]:
    """``lambda_max / lambda_min`` of ``X^T X / N`` over its non-null directions.

    A pixel that is constant (0 in every image, or centred to 0) adds an eigenvalue that is
    zero up to rounding: no gradient ever moves the weight along it, so it does not slow
    training and is left out. Eigenvalues below ``rtol * lambda_max`` count as null.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    rtol : float

    Returns
    -------
    kappa : float
        The condition number. At a learning rate the sharpest direction tolerates
        (``lr < 2 / lambda_max``), the flattest direction shrinks by a factor of at least
        ``1 - 2 / kappa`` per step: it needs on the order of ``kappa`` steps.
    rank : int
        How many eigenvalues were kept.
    """
    rtol = check_positive(rtol, "rtol")
    ev = curvature_spectrum(X)
    kept = ev[ev > rtol * ev[-1]]
    return float(kept[-1] / kept[0]), int(kept.size)


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
        After the last epoch each history's ``extras`` holds, measured on the training
        inputs: ``"dead_fraction"`` (share of hidden ReLUs whose input is <= 0 for every
        example: they pass no gradient), ``"logit_spread"`` (largest std over the examples
        of one class's logit; about 0 when the output no longer depends on the input) and
        ``"n_predicted_classes"`` (how many classes the network predicts at all).
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
                device=device, progress=False,
                on_epoch=_record_final_state(X_train, epochs))
    return histories


def _record_final_state(X_train, epochs: int):
    """An ``on_epoch`` callback that, after the last epoch, records whether the network died."""
    from tnn.nets import hidden_preactivations

    def on_epoch(model, epoch, history):
        if epoch != epochs:
            return
        pre = hidden_preactivations(model, X_train)[0]  # (N, hidden) input of the ReLUs
        device = next(model.parameters()).device
        with torch.no_grad():
            logits = model(torch.as_tensor(np.asarray(X_train, dtype=np.float32),
                                           device=device)).cpu().numpy()  # (N, classes)
        finite = bool(np.isfinite(logits).all())
        history.extras["dead_fraction"] = [float(np.mean(np.all(pre <= 0, axis=0)))]
        history.extras["logit_spread"] = [float(logits.std(axis=0).max()) if finite
                                          else float("nan")]
        history.extras["n_predicted_classes"] = [int(np.unique(logits.argmax(axis=1)).size)]

    return on_epoch
