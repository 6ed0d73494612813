"""Assignment 02_preprocessing: honest alternatives and classic bugs (see __init__.py)."""

from autograde.alternatives import Bug

ANSWERS = {
    "standardize": '''
import numpy as np


def standardize_fit(X, eps=EPS):
    """Sums in float64, by hand; back to X's dtype at the end."""
    X = np.asarray(X)
    n = X.shape[0]
    mean = X.sum(axis=0, dtype=np.float64) / n
    std = np.sqrt(((X - mean) ** 2).sum(axis=0) / n)
    std[std < eps] = 1.0
    return mean.astype(X.dtype), std.astype(X.dtype)


def standardize_transform(X, mean, std):
    out = np.array(X, copy=True)       # a copy of my own: in place on it is fine
    out -= mean
    out /= std
    return out
''',
    "mean_image": '''
def mean_image(images, layout="NHWC"):
    """A running sum over the images, in their dtype."""
    images = np.asarray(images)
    total = np.zeros(images.shape[1:], dtype=images.dtype)
    for image in images:
        total += image
    return total / images.shape[0]
''',
    "channel_mean": '''
import torch


def channel_mean(images, layout="NHWC"):
    t = torch.from_numpy(np.ascontiguousarray(images))
    if layout == "NHWC":
        return t.mean(dim=(0, 1, 2)).reshape(1, 1, -1).numpy()
    return t.mean(dim=(0, 2, 3)).reshape(-1, 1, 1).numpy()
''',
    "channel_std": '''
def channel_std(images, layout="NHWC", eps=EPS):
    """Channels first, every other axis flattened, one variance per row."""
    images = np.asarray(images)
    axis = 3 if layout == "NHWC" else 1
    rows = np.moveaxis(images, axis, 0).reshape(images.shape[axis], -1)   # (C, N*H*W)
    std = np.sqrt(rows.var(axis=1))
    std = np.where(std < eps, 1.0, std).astype(images.dtype)
    return std.reshape((1, 1, -1) if layout == "NHWC" else (-1, 1, 1))
''',
    "normalize_images": '''
import sys


def normalize_images(images, mean, std=None):
    images = np.asarray(images)
    centred = np.subtract(images, mean)
    if std is None:
        print("normalize_images: centring only", file=sys.stderr)
        return centred
    return np.divide(centred, std)
''',
    "normalize_images_torch": '''
import numpy as np
import torch


def _like(value, images):
    """A NumPy array or a tensor as a tensor of images' dtype on images' device."""
    if not isinstance(value, torch.Tensor):
        value = torch.from_numpy(np.asarray(value))
    return value.to(images)


def normalize_images_torch(images, mean, std):
    return torch.div(images - _like(mean, images), _like(std, images))
''',
    "standardize_backward": '''
def standardize_backward(x, dout, eps=EPS):
    """Feature by feature, in float64: the direct path minus the paths through the mean
    and the std."""
    x, dout = np.asarray(x), np.asarray(dout)
    x64, d64 = x.astype(np.float64), dout.astype(np.float64)
    dx = np.empty_like(x64)
    for j in range(x.shape[1]):
        col, g = x64[:, j], d64[:, j]
        mu, sigma = col.mean(), col.std()
        if sigma < eps:  # only centred: sigma is the constant 1, no path through it
            dx[:, j] = g - g.mean()
            continue
        y = (col - mu) / sigma
        dx[:, j] = (g - g.mean() - y * np.mean(g * y)) / sigma
    return dx.astype(x.dtype)
''',
    "select_features": '''
def select_features(X, y, k):
    """Pearson correlation from z-scores; a constant feature scores 0."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    spread = X.std(axis=0) * y.std()                                   # (D,)
    cov = ((X - X.mean(axis=0)) * (y - y.mean())[:, None]).mean(axis=0)  # (D,)
    score = np.zeros(X.shape[1])
    ok = spread > 0
    score[ok] = np.abs(cov[ok] / spread[ok])
    return np.argsort(-score, kind="stable")[:k]
''',
    "cross_val_accuracy": '''
from tqdm.auto import tqdm


def cross_val_accuracy(X, y, folds, k, leaky):
    X, y, folds = np.asarray(X), np.asarray(y), np.asarray(folds)
    right = np.zeros(len(y), dtype=bool)
    fixed = select_features(X, y, k) if leaky else None
    for fold in tqdm(sorted(set(folds.tolist())), desc="folds", leave=False):
        test = np.flatnonzero(folds == fold)
        train = np.flatnonzero(folds != fold)
        cols = fixed if leaky else select_features(X[train], y[train], k)
        pred = nearest_neighbour_predict(X[np.ix_(train, cols)], y[train], X[np.ix_(test, cols)])
        right[test] = pred == y[test]
    return float(right.mean())
''',
}


BUGS = {
    # right values, but the caller's training data is centred in place
    "standardize_in_place": Bug("02_preprocessing", "standardize", '''
def standardize_fit(X, eps=EPS):
    X = np.asarray(X)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std = np.where(std < eps, 1.0, std).astype(X.dtype)
    return mean, std


def standardize_transform(X, mean, std):
    X = np.asarray(X)
    X -= mean
    return X / std
''', {"test_standardize", "test_standardize_hidden"},
        ("standardize_transform modified its input X in place", "return a new array")),
    # right values on the CPU; the statistics never move to the images' device
    "normalize_torch_on_cpu": Bug("02_preprocessing", "normalize_images_torch", '''
def normalize_images_torch(images, mean, std):
    mean = torch.as_tensor(mean, dtype=images.dtype)   # stays on the CPU
    std = torch.as_tensor(std, dtype=images.dtype)
    return (images - mean) / std
''', {"test_normalize_images_torch", "test_normalize_images_torch_hidden"},
        ("normalize_images_torch mixed devices", "device=x.device")),
}
