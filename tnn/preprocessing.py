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
  gradient descent), :func:`train_raw_vs_normalized`. They live in :mod:`tnn.leakage` and
  :mod:`tnn.conditioning` and are re-exported here: ``from tnn import preprocessing`` gives
  the whole topic.

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

import numpy as np
import torch

from tnn._validate import (
    _describe,
    as_float_array,
    as_float_tensor,
    check_choice,
    check_nonempty,
    check_positive,
    check_table,
)
from tnn.conditioning import (
    condition_number,
    curvature_spectrum,
    largest_curvature,
    train_raw_vs_normalized,
)
from tnn.leakage import (
    cross_val_accuracy,
    leakage_experiment,
    nearest_neighbour_accuracy,
    nearest_neighbour_predict,
    random_patches,
    select_features,
    selection_leakage_experiment,
)

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


def _stat_tensor(value, like: torch.Tensor, name: str) -> torch.Tensor:
    """A statistic as a tensor with ``like``'s dtype, on ``like``'s device."""
    return as_float_tensor(value, name).to(device=like.device, dtype=like.dtype)


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
    check_table(X.shape)
    check_nonempty(X.shape[0], "X")
    eps = check_positive(eps, "eps")
    mean = X.mean(axis=0, dtype=np.float64)  # (D,)
    std = _safe_std_np(X.std(axis=0, dtype=np.float64), eps)  # (D,)
    return mean.astype(X.dtype), std.astype(X.dtype)


def standardize_fit_torch(X, eps: float = EPS):
    """Torch twin of :func:`standardize_fit`, on ``X``'s device."""
    X = as_float_tensor(X, "X")
    check_table(tuple(X.shape))
    check_nonempty(X.shape[0], "X")
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
    check_table(X.shape)
    mean, std = as_float_array(mean, "mean"), as_float_array(std, "std")
    _check_table_stat(mean.shape, X.shape, "mean")
    _check_table_stat(std.shape, X.shape, "std")
    _check_scale(std, "std")
    Z = (X - mean.astype(X.dtype)) / std.astype(X.dtype)  # (N, D)
    return Z


def standardize_transform_torch(X, mean, std):
    """Torch twin of :func:`standardize_transform`; statistics move to ``X``'s device."""
    X = as_float_tensor(X, "X")
    check_table(tuple(X.shape))
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
    below ``eps`` is only centred (``sigma`` is the constant 1, ``y = x - mu``): there is no
    path through ``sigma``, and its gradient is ``dout - mean(dout)``.

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
    check_table(x.shape, "x")
    check_nonempty(x.shape[0], "x")
    dout = as_float_array(dout, "dout")
    _check_dout(dout.shape, x.shape)
    x64, dout64 = x.astype(np.float64), dout.astype(np.float64)
    mean, std = standardize_fit(x64, eps)  # (D,), (D,)
    y = (x64 - mean) / std  # (N, D)
    # the path through sigma exists only where sigma is the batch std, not the constant 1
    through_sigma = np.where(x64.std(axis=0) < eps, 0.0, (dout64 * y).mean(axis=0))  # (D,)
    dx = (dout64 - dout64.mean(axis=0) - y * through_sigma) / std  # (N, D)
    return dx.astype(x.dtype)


def standardize_backward_torch(x, dout, eps: float = EPS):
    """Torch twin of :func:`standardize_backward`, on ``x``'s device."""
    x = as_float_tensor(x, "x")
    check_table(tuple(x.shape), "x")
    check_nonempty(x.shape[0], "x")
    dout = _stat_tensor(dout, x, "dout")
    _check_dout(tuple(dout.shape), tuple(x.shape))
    mean, std = standardize_fit_torch(x, eps)  # (D,), (D,)
    y = (x - mean) / std  # (N, D)
    through_sigma = torch.where(x.std(dim=0, correction=0) < eps, 0.0, (dout * y).mean(dim=0))
    return (dout - dout.mean(dim=0) - y * through_sigma) / std


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
    check_nonempty(images.shape[0], "images")
    return images.mean(axis=0, dtype=np.float64).astype(images.dtype)  # (H, W, C) / (C, H, W)


def mean_image_torch(images, layout: str = "NHWC"):
    """Torch twin of :func:`mean_image`, on ``images``' device."""
    images = as_float_tensor(images, "images")
    _check_images(tuple(images.shape), layout)
    check_nonempty(images.shape[0], "images")
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
    check_nonempty(images.shape[0], "images")
    m = images.mean(axis=_REDUCE[layout], dtype=np.float64, keepdims=True)  # (1,1,1,C)/(1,C,1,1)
    return m[0].astype(images.dtype)  # (1, 1, C) / (C, 1, 1)


def channel_mean_torch(images, layout: str = "NHWC"):
    """Torch twin of :func:`channel_mean`."""
    images = as_float_tensor(images, "images")
    _check_images(tuple(images.shape), layout)
    check_nonempty(images.shape[0], "images")
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
    check_nonempty(images.shape[0], "images")
    eps = check_positive(eps, "eps")
    s = images.std(axis=_REDUCE[layout], dtype=np.float64, keepdims=True)  # (1,1,1,C)/(1,C,1,1)
    return _safe_std_np(s[0], eps).astype(images.dtype)  # (1, 1, C) / (C, 1, 1)


def channel_std_torch(images, layout: str = "NHWC", eps: float = EPS):
    """Torch twin of :func:`channel_std`."""
    images = as_float_tensor(images, "images")
    _check_images(tuple(images.shape), layout)
    check_nonempty(images.shape[0], "images")
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
    images = as_float_tensor(images, "images")
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
