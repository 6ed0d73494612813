"""Handout bodies for topic 06's library (tnn/geometric.py, tnn/augmentation.py,
tnn/photometric.py; see tables.py: parsed, never imported).

Assignment 06 grades random_crop, cutout, cutout_torch, mixup and adjust_contrast under the
library's own names (and hflip_with_points, a flip with flip_points's one-line formula, which
the assignment states). Here the crop's windows are NumPy's ``sliding_window_view`` of the
padded batch, Cutout's square is erased with ``torch.Tensor.index_fill_`` over its clipped
rows and columns (its torch twin writes every image's square with one ``index_put_``), Mixup
blends with ``torch.lerp``, and the contrast is ``torch.lerp`` towards the mean gray level.
The parameters are drawn exactly as the library draws them (the same calls on the same
generator), so a lecture that seeds its generator prints the same numbers.
"""
# ruff: noqa: F821  (names resolve in the library module each body is spliced into)

GEOMETRIC, AUGMENTATION, PHOTOMETRIC = ("tnn/geometric.py", "tnn/augmentation.py",
                                        "tnn/photometric.py")

MODULE_OF |= {"random_crop": GEOMETRIC, "cutout": GEOMETRIC, "cutout_torch": GEOMETRIC,
              "mixup": AUGMENTATION, "adjust_contrast": PHOTOMETRIC}

DELEGATE |= {
    "random_crop": "numpy.lib.stride_tricks.sliding_window_view (every window of the padded "
                   "images, one picked per image)",
    "cutout": "torch.Tensor.index_fill_ (the square's rows and columns, clipped to the image)",
    "cutout_torch": "torch.Tensor.index_put_ (the square's pixels of every image at once, "
                    "clipped to the image)",
    "mixup": "torch.lerp (images and one-hot label rows)",
    "adjust_contrast": "torch.lerp towards the mean of the gray image",
}


# ------------------------------------------------------------------------------------------
# tnn/geometric.py
# ------------------------------------------------------------------------------------------
def random_crop(x, padding: int, rng=None, *, params=None, fill: float = 0.0):
    batch = as_image_batch(x)
    pad = check_int(padding, "padding", 0)
    count, height, width, _ = batch.shape
    if _source("rng", rng, params, "random_crop"):
        offsets = rng.integers(0, 2 * pad + 1, size=(2, count))
    else:
        offsets = np.stack([np.asarray(v).astype(np.int64)
                            for v in _params(params, ("top", "left"), count)])
        if offsets.size and (offsets.min() < 0 or offsets.max() > 2 * pad):
            raise ValueError(f"params offsets must lie in 0 .. 2 * padding = {2 * pad}.")
    framed = np.pad(batch, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant",
                    constant_values=fill)
    views = np.lib.stride_tricks.sliding_window_view(framed, (height, width), axis=(1, 2))
    picked = views[np.arange(count), offsets[0], offsets[1]]  # (N, C, H, W)
    return np.ascontiguousarray(np.moveaxis(picked, 1, -1)), {"top": offsets[0],
                                                               "left": offsets[1]}


def cutout(x, size: int, rng=None, *, params=None, fill: float = 0.0):
    batch = as_image_batch(x)
    side = check_int(size, "size", 0)
    count, height, width, _ = batch.shape
    if _source("rng", rng, params, "cutout"):
        centre_rows = rng.integers(0, height, count)
        centre_cols = rng.integers(0, width, count)
    else:
        centre_rows, centre_cols = (np.asarray(v).astype(np.int64)
                                    for v in _params(params, ("cy", "cx"), count))
    images = torch.from_numpy(np.array(batch, copy=True))
    for k in range(count):
        first_row, first_col = centre_rows[k] - side // 2, centre_cols[k] - side // 2
        rows = torch.arange(max(first_row, 0), min(first_row + side, height))
        cols = torch.arange(max(first_col, 0), min(first_col + side, width))
        band = images[k].index_select(0, rows)
        images[k].index_copy_(0, rows, band.index_fill_(1, cols, fill))
    return images.numpy(), {"cy": centre_rows, "cx": centre_cols}


def cutout_torch(x, size: int, generator=None, *, params=None, fill: float = 0.0):
    images = as_image_batch_torch(x)
    side = check_int(size, "size", 0)
    count, _, height, width = images.shape
    if _source("generator", generator, params, "cutout_torch"):
        centre_rows = torch.randint(0, height, (count,), generator=generator,
                                    device=generator.device).to(images.device)
        centre_cols = torch.randint(0, width, (count,), generator=generator,
                                    device=generator.device).to(images.device)
    else:
        centre_rows, centre_cols = (v.long() for v in _params(params, ("cy", "cx"), count,
                                                              torch_like=images))
    offsets = torch.arange(side, device=images.device)
    rows = (centre_rows - side // 2)[:, None, None] + offsets[None, :, None]
    cols = (centre_cols - side // 2)[:, None, None] + offsets[None, None, :]
    rows, cols = torch.broadcast_tensors(rows, cols)
    which = torch.arange(count, device=images.device)[:, None, None].expand_as(rows)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    erased = images.clone()
    channels_last = erased.permute(0, 2, 3, 1)  # a view: writes land in erased
    channels_last.index_put_((which[inside], rows[inside], cols[inside]),
                             torch.tensor(fill, dtype=images.dtype, device=images.device))
    return erased, {"cy": centre_rows, "cx": centre_cols}


# ------------------------------------------------------------------------------------------
# tnn/augmentation.py
# ------------------------------------------------------------------------------------------
def mixup(x, y, alpha: float = 0.2, rng=None, *, num_classes: int | None = None, params=None):
    batch = as_image_batch(x)
    count = len(batch)
    targets = soft_labels(y, num_classes)
    if len(targets) != count:
        raise ValueError(f"x holds {count} images but y {len(targets)} labels.")
    if _source("rng", rng, params, "mixup"):
        params = {"lam": rng.beta(_check_alpha(alpha), _check_alpha(alpha), count),
                  "index": rng.permutation(count)}
    weights, partners = _params(params, ("lam", "index"), count)
    weights, partners = weights.astype(float), partners.astype(np.int64)
    w = torch.from_numpy(weights)
    images = torch.from_numpy(np.ascontiguousarray(batch))
    blended = torch.lerp(images[partners], images, w.to(images.dtype).view(-1, 1, 1, 1))
    rows = torch.from_numpy(np.asarray(targets, dtype=np.float64))
    mixed_rows = torch.lerp(rows[partners], rows, w.view(-1, 1))
    return blended.numpy(), mixed_rows.numpy(), {"lam": weights, "index": partners}


# ------------------------------------------------------------------------------------------
# tnn/photometric.py
# ------------------------------------------------------------------------------------------
def adjust_contrast(x, factor) -> np.ndarray:
    batch = as_image_batch(x)
    _channels(batch.shape[-1])
    images = torch.from_numpy(np.ascontiguousarray(batch))
    if batch.shape[-1] == 3:
        luma = images @ torch.tensor(GRAY_WEIGHTS, dtype=images.dtype)
    else:
        luma = images[..., 0]
    level = luma.mean(dim=(1, 2)).view(-1, 1, 1, 1)
    ratio = torch.from_numpy(np.array(_factors(factor, len(batch), np), dtype=batch.dtype))
    out = torch.lerp(level.expand_as(images), images, ratio.view(-1, 1, 1, 1))
    return out.clamp(0, 1).numpy()
