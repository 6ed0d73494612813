"""Assignment 06_augmentation: honest alternatives and classic bugs (see __init__.py)."""

from autograde.alternatives import Bug

ANSWERS = {
    "random_crop": '''
import sys


def random_crop(x, padding, rng=None, *, params=None):
    """Both offsets in one draw, the windows gathered with index arrays; a note on stderr."""
    count, rows, cols = x.shape[0], x.shape[1], x.shape[2]
    if params is not None:
        offsets = np.stack([np.asarray(params["top"]), np.asarray(params["left"])]).astype(np.int64)
    else:
        offsets = rng.integers(0, 2 * padding + 1, size=(2, count))
    print(f"cropping {count} images", file=sys.stderr)
    big = np.zeros((count, rows + 2 * padding, cols + 2 * padding, x.shape[3]), dtype=x.dtype)
    big[:, padding:padding + rows, padding:padding + cols] = x
    r = offsets[0][:, None] + np.arange(rows)
    c = offsets[1][:, None] + np.arange(cols)
    out = big[np.arange(count)[:, None, None], r[:, :, None], c[:, None, :]]
    return out, {"top": offsets[0], "left": offsets[1]}
''',
    "cutout": '''
def cutout(x, size, rng=None, *, params=None):
    """A boolean mask from broadcast comparisons and np.where; the centres in one draw."""
    import numpy as np

    n, h, w = x.shape[:3]
    if params is None:
        centres = rng.integers(0, [h, w], size=(n, 2))
        cy, cx = centres[:, 0], centres[:, 1]
    else:
        cy, cx = np.asarray(params["cy"], dtype=np.int64), np.asarray(params["cx"], dtype=np.int64)
    top, left = cy - size // 2, cx - size // 2
    ys, xs = np.arange(h)[None, :], np.arange(w)[None, :]
    rows = (ys >= top[:, None]) & (ys < (top + size)[:, None])
    cols = (xs >= left[:, None]) & (xs < (left + size)[:, None])
    hidden = rows[:, :, None, None] & cols[:, None, :, None]
    return np.where(hidden, np.zeros((), dtype=x.dtype), x), {"cy": cy, "cx": cx}
''',
    "cutout_torch": '''
def cutout_torch(x, size, generator=None, *, params=None):
    """Distances from the square's first row and column, torch.where with a zero tensor."""
    import torch

    count, _, height, width = x.shape
    if params is not None:
        cy, cx = (torch.as_tensor(params[k]).to(x.device, torch.long) for k in ("cy", "cx"))
    else:
        draws = [torch.randint(0, limit, (count,), generator=generator, device=generator.device)
                 for limit in (height, width)]
        cy, cx = (d.to(x.device) for d in draws)
    first_row = (cy - size // 2).view(-1, 1, 1, 1)
    first_col = (cx - size // 2).view(-1, 1, 1, 1)
    ys = torch.arange(height, device=x.device).view(1, 1, -1, 1)
    xs = torch.arange(width, device=x.device).view(1, 1, 1, -1)
    hit = ((ys - first_row).clamp(min=-1) // max(size, 1) == 0) & (ys >= first_row) \\
        & ((xs - first_col) >= 0) & ((xs - first_col) < size) & (size > 0)
    return torch.where(hit, torch.zeros((), dtype=x.dtype, device=x.device), x), {"cy": cy, "cx": cx}
''',
    "mixup": '''
def mixup(x, y, alpha=0.2, rng=None, *, num_classes=None, params=None):
    """In torch: F.one_hot for the labels, the partner first, then the weights."""
    import torch

    n = len(x)
    if params is None:
        partner = rng.permutation(n)
        weights = rng.beta(alpha, alpha, n)
    else:
        partner, weights = np.asarray(params["index"]), np.asarray(params["lam"])
    images = torch.from_numpy(np.asarray(x))
    lam = torch.as_tensor(weights, dtype=torch.float64)
    order = torch.as_tensor(partner, dtype=torch.long)
    onehot = F.one_hot(torch.as_tensor(y, dtype=torch.long), num_classes).double()
    mixed = torch.lerp(images[order], images, lam.to(images.dtype).view(-1, 1, 1, 1))
    labels = torch.lerp(onehot[order], onehot, lam.view(-1, 1))
    return mixed.numpy(), labels.numpy(), {"lam": weights, "index": partner}
''',
    "hflip_with_points": '''
def hflip_with_points(x, points, flip):
    """np.where on a broadcast mask; the points mirrored about the centre column."""
    chosen = np.asarray(flip).astype(bool)
    centre = (x.shape[2] - 1) / 2
    mirrored_images = np.flip(x, axis=2)
    images = np.where(chosen.reshape(-1, 1, 1, 1), mirrored_images, x)
    pts = np.asarray(points, dtype=float)
    mirrored = np.concatenate([2 * centre - pts[..., :1], pts[..., 1:]], axis=-1)
    return images, np.where(chosen.reshape(-1, 1, 1), mirrored, pts)
''',
    "adjust_contrast": '''
import logging


def adjust_contrast(x, factor):
    """The gray level by a dot product, a loop over the images, logging."""
    logging.getLogger("contrast").info("contrast of %d images", len(x))
    weights = np.array([0.2989, 0.587, 0.114]) if x.shape[3] == 3 else np.ones(1)
    factors = np.broadcast_to(np.asarray(factor, dtype=float), (len(x),))
    out = np.empty_like(x)
    for i, image in enumerate(x):
        level = float(np.tensordot(image, weights.astype(x.dtype), axes=([2], [0])).mean())
        f = x.dtype.type(factors[i])
        out[i] = np.minimum(np.maximum(f * image + (1 - f) * level, 0), 1)
    return out
''',
    "augment_digits": '''
def augment_digits(x, y, seed):
    """Rotations by up to 15 degrees, built from rotation_matrix and affine_torch."""
    g = torch.Generator().manual_seed(seed)
    angles = (torch.rand(len(x), generator=g, dtype=torch.float64) * 30 - 15).numpy()
    turned = affine_torch(x, rotation_matrix(angles))
    return turned, torch.eye(10)[y]
''',
}

BUGS = {
    # rng.integers excludes its upper bound: the crop never reaches offset 2 * padding
    "crop_never_last_offset": Bug("06_augmentation", "random_crop", '''
def random_crop(x, padding, rng=None, *, params=None):
    n, h, w, _ = x.shape
    if params is None:
        top = rng.integers(0, 2 * padding, size=n)
        left = rng.integers(0, 2 * padding, size=n)
    else:
        top, left = np.asarray(params["top"]), np.asarray(params["left"])
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    out = np.stack([padded[i, top[i]:top[i] + h, left[i]:left[i] + w] for i in range(n)])
    return out, {"top": top, "left": left}
''', {"test_random_crop", "test_random_crop_hidden"}, ("never drew",)),
    # the square written into the caller's batch
    "cutout_in_place": Bug("06_augmentation", "cutout", '''
def cutout(x, size, rng=None, *, params=None):
    n, h, w, _ = x.shape
    if params is None:
        cy, cx = rng.integers(0, h, size=n), rng.integers(0, w, size=n)
    else:
        cy, cx = np.asarray(params["cy"]), np.asarray(params["cx"])
    for i in range(n):
        top, left = max(cy[i] - size // 2, 0), max(cx[i] - size // 2, 0)
        x[i, top:cy[i] - size // 2 + size, left:cx[i] - size // 2 + size] = 0
    return x, {"cy": cy, "cx": cx}
''', {"test_cutout", "test_cutout_hidden"}, ("in place",)),
    # a loop over the images, each square cut by slicing: reads values, one launch per image
    "cutout_torch_loops": Bug("06_augmentation", "cutout_torch", '''
def cutout_torch(x, size, generator=None, *, params=None):
    n, _, h, w = x.shape
    if params is None:
        cy = torch.randint(0, h, (n,), generator=generator).to(x.device)
        cx = torch.randint(0, w, (n,), generator=generator).to(x.device)
    else:
        cy, cx = torch.as_tensor(params["cy"]), torch.as_tensor(params["cx"])
    out = x.clone()
    for i in range(n):
        top, left = int(cy[i]) - size // 2, int(cx[i]) - size // 2
        out[i, :, max(top, 0):max(top + size, 0), max(left, 0):max(left + size, 0)] = 0
    return out, {"cy": cy, "cx": cx}
''', {"test_cutout_torch", "test_cutout_torch_hidden"}, ("meta device",)),
    # the images are mixed, the labels are not
    "mixup_labels_not_mixed": Bug("06_augmentation", "mixup", '''
def mixup(x, y, alpha=0.2, rng=None, *, num_classes=None, params=None):
    n = len(x)
    if params is None:
        lam, index = rng.beta(alpha, alpha, size=n), rng.permutation(n)
    else:
        lam, index = np.asarray(params["lam"]), np.asarray(params["index"])
    mixed = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[index]
    return mixed, np.eye(num_classes)[y], {"lam": lam, "index": index}
''', {"test_mixup", "test_mixup_hidden"}, ("label rows",)),
    # Karpathy's: the images are flipped, the labels (keypoints) stay where they were
    "flip_forgets_points": Bug("06_augmentation", "hflip_with_points", '''
def hflip_with_points(x, points, flip):
    flip = np.asarray(flip, dtype=bool)
    images = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
    return images, np.array(points, dtype=float)
''', {"test_hflip_with_points", "test_hflip_with_points_hidden"}, ("points",)),
    # one mean per channel instead of the mean gray level
    "contrast_channel_means": Bug("06_augmentation", "adjust_contrast", '''
def adjust_contrast(x, factor):
    level = x.mean(axis=(1, 2), keepdims=True)
    f = np.broadcast_to(np.asarray(factor, dtype=x.dtype), (len(x),)).reshape(-1, 1, 1, 1)
    return np.clip(f * x + (1 - f) * level, 0, 1).astype(x.dtype)
''', {"test_adjust_contrast", "test_adjust_contrast_hidden"}, ("adjust_contrast",)),
    # a flip for digits: it changes some labels and teaches no rotation
    "augment_with_flips": Bug("06_augmentation", "augment_digits", '''
def augment_digits(x, y, seed):
    generator = torch.Generator().manual_seed(seed)
    flip = torch.rand(len(x), generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x), F.one_hot(y, 10).float()
''', {"test_augmentation_experiment"}, ("rotated digits",)),
}
