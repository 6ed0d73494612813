"""Input validation shared by the topic modules (scikit-learn style messages).

Every public entry point converts its inputs through these helpers, so a student who passes
a string, ``None`` or an object array gets a message naming the argument, what was expected,
what arrived and how to fix it, instead of a deep NumPy traceback.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np


def _describe(value) -> str:
    """Short description of ``value`` for error messages: type, and dtype/shape for arrays."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"ndarray of dtype {value.dtype} and shape {value.shape}"
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return f"torch.Tensor of dtype {value.dtype} and shape {tuple(value.shape)}"
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def as_float_array(x, name: str = "x") -> np.ndarray:
    """Return ``x`` as a floating NumPy array, keeping float32/float64 as they are.

    Python numbers, lists of numbers and integer/boolean arrays become float64. Strings,
    ``None``, object arrays and complex numbers are refused with a ``TypeError`` naming
    ``name``.
    """
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(
            f"{name} must be a real number or an array of real numbers; got {_describe(x)}. "
            f"Pass a number, a list of numbers or a NumPy array, e.g. np.array([-1.0, 0.0, 2.0])."
        )
    if not isinstance(x, np.ndarray) and hasattr(x, "detach") and hasattr(x, "numpy"):
        raise TypeError(
            f"{name} must be a NumPy array here; got {_describe(x)}. Use the *_torch twin for "
            f"tensors, or convert with {name}.detach().cpu().numpy()."
        )
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} could not be read as an array of numbers ({err}); got {_describe(x)}."
        ) from None
    if arr.dtype.kind in "fiub":
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        elif arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)  # float16 / longdouble: compute in float64
        return arr
    kind = {"O": "object", "U": "string", "S": "bytes", "c": "complex"}.get(arr.dtype.kind, "")
    raise TypeError(
        f"{name} must hold real numbers (an int or float dtype); got {_describe(x)}"
        f"{' (' + kind + ' values)' if kind else ''}. Convert it first, e.g. "
        f"np.asarray({name}, dtype=np.float64), and check that every element is a number."
    )


def unwrap_0d(y: np.ndarray):
    """Return a 0-d result as a NumPy scalar of the same dtype, an array unchanged."""
    return y[()] if y.ndim == 0 else y


def as_float_tensor(x, name: str = "x", like=None):
    """Return ``x`` as a floating ``torch.Tensor`` (the torch twin of :func:`as_float_array`).

    Floating tensors are returned as they are; integer and boolean tensors (uint8 images)
    become the default float dtype; arrays, lists and numbers go through
    :func:`as_float_array` first, so the same inputs are refused with the same messages.
    With ``like``, the result is moved to ``like``'s device and dtype.
    """
    import torch

    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError(f"{name} must hold real numbers; got {_describe(x)}.")
        t = x if x.is_floating_point() else x.to(torch.get_default_dtype())
    elif x is None or isinstance(x, (str, bytes)):
        raise TypeError(
            f"{name} must be a torch.Tensor of real numbers; got {_describe(x)}. Create one "
            f"with torch.as_tensor(array, device=device)."
        )
    else:
        t = torch.as_tensor(as_float_array(x, name))  # refuses strings and object arrays
    if like is not None:
        t = t.to(device=like.device, dtype=like.dtype)
    return t


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` if it is a ``np.random.Generator``; otherwise say how to make one."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name} must be a np.random.Generator; got {_describe(rng)}. Create one with "
            f"np.random.default_rng(seed)."
        )
    return rng


def check_generator(generator, name: str = "generator"):
    """Return ``generator`` if it is a ``torch.Generator``; otherwise say how to make one."""
    import torch

    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"{name} must be a torch.Generator; got {_describe(generator)}. Create one with "
            f"tnn.device.torch_generator(seed, device)."
        )
    return generator


def check_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, refusing bools, non-integers and values below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {_describe(value)}.")
    return int(value)


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int >= 1 ("must be a positive int" in the message)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {_describe(value)}.")
    return int(value)


def check_shape(shape, name: str = "shape") -> tuple[int, ...]:
    """A weight shape: (D_in, D_out) for a linear layer or (C_out, C_in, k_h[, k_w]) for conv."""
    if isinstance(shape, numbers.Integral) or not isinstance(shape, Sequence | tuple):
        raise TypeError(
            f"{name} must be a tuple of ints such as (D_in, D_out) or (C_out, C_in, k, k); got "
            f"{_describe(shape)}."
        )
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(
            f"{name} must have at least 2 entries, (D_in, D_out) for a linear layer or "
            f"(C_out, C_in, k_h, k_w) for a convolution; got {shape}."
        )
    for i, d in enumerate(shape):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise ValueError(f"{name}[{i}] must be a positive int; got {d!r} in {shape}.")
    return tuple(int(d) for d in shape)


def check_scales(scales, depth: int) -> list[float]:
    """Per-layer weight scales: ``depth`` positive floats, or ones when ``scales`` is None."""
    if scales is None:
        return [1.0] * depth
    scales = [check_positive(float(c), f"scales[{i}]") for i, c in enumerate(scales)]
    if len(scales) != depth:
        raise ValueError(f"scales must hold one number per weight matrix ({depth}); got "
                         f"{len(scales)}.")
    return scales


def hist_range(activation: str, values_min: float, values_max: float) -> tuple[float, float]:
    """The range of a layer histogram: the activation's own range for tanh ([-1, 1]) and
    sigmoid ([0, 1]), otherwise the values' min and max (widened by 0.5 if they are equal)."""
    if activation == "tanh":
        return (-1.0, 1.0)
    if activation == "sigmoid":
        return (0.0, 1.0)
    lo, hi = float(values_min), float(values_max)
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, refusing non-numbers and (non-)positive values."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {_describe(value)}.")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}; got {value}.")
    return value


def check_real(value, name: str) -> float:
    """Return ``value`` as a finite float, refusing non-numbers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite real number; got {_describe(value)}.")
    return float(value)


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise say which values are allowed."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {_describe(value)}.")
    return value


def check_table(shape: tuple, name: str = "X") -> None:
    """Check that ``shape`` is a table's, (N, D): N examples of D features."""
    if len(shape) != 2:
        hint = (f" For a single example use {name}[None, :]; for one feature use "
                f"{name}[:, None]." if len(shape) == 1 else
                f" Flatten each example first, e.g. {name}.reshape(len({name}), -1).")
        raise ValueError(
            f"{name} must be a 2-D array of shape (N, D) (N examples, D features); got an "
            f"array of shape {shape}.{hint}"
        )


def check_nonempty(n: int, name: str) -> None:
    """Refuse an empty training set: statistics need at least one example."""
    if n == 0:
        raise ValueError(
            f"{name} holds no examples (N = 0); statistics need at least one training example."
        )


def check_weight_chain(x_shape, weight_shapes) -> None:
    """Check that a batch of shape (N, D) can flow through matrices (D, D1), (D1, D2), ..."""
    if len(x_shape) != 2:
        raise ValueError(f"x must have shape (N, D); got shape {tuple(x_shape)}.")
    if len(weight_shapes) == 0:
        raise ValueError("weights must hold at least one (D_in, D_out) matrix.")
    d = x_shape[1]
    for i, shape in enumerate(weight_shapes):
        if len(shape) != 2 or shape[0] != d:
            raise ValueError(
                f"weights[{i}] must have shape ({d}, D_out) to follow an input of width {d}; "
                f"got {tuple(shape)}."
            )
        d = shape[1]


def check_param_dicts(params, grads) -> None:
    """``params`` and ``grads`` are dicts name -> array with the same names (one step of an
    optimizer or a penalty over a network's parameters)."""
    if not isinstance(params, dict) or not isinstance(grads, dict):
        raise TypeError("params and grads must be dicts name -> array, e.g. {'W1': W1, "
                        f"'b1': b1}}; got {type(params).__name__} and {type(grads).__name__}.")
    if set(params) != set(grads):
        raise ValueError(f"params and grads must have the same names; got {sorted(params)} "
                         f"and {sorted(grads)}.")


def as_image_batch(x, name: str = "x") -> np.ndarray:
    """A batch of images in NumPy's layout (N, H, W, C), as a floating array.

    One image of shape (H, W, C) is refused with the fix (``x[None]``), a grayscale batch of
    shape (N, H, W) with ``x[..., None]``: every augmentation draws per-image parameters, so
    the batch axis must be explicit.
    """
    arr = as_float_array(x, name)
    if arr.ndim != 4:
        hint = {3: f" For one image use {name}[None]; for a grayscale batch (N, H, W) use "
                   f"{name}[..., None].",
                2: f" For one grayscale image use {name}[None, :, :, None]."}.get(arr.ndim, "")
        raise ValueError(f"{name} must be a batch of images of shape (N, H, W, C) (NumPy's "
                         f"layout; the torch twins take (N, C, H, W)); got shape "
                         f"{arr.shape}.{hint}")
    return arr


def as_image_batch_torch(x, name: str = "x"):
    """The torch twin of :func:`as_image_batch`: a floating tensor of shape (N, C, H, W)."""
    t = as_float_tensor(x, name)
    if t.ndim != 4:
        hint = {3: f" For one image use {name}[None]; for a grayscale batch (N, H, W) use "
                   f"{name}[:, None]."}.get(t.ndim, "")
        raise ValueError(f"{name} must be a batch of images of shape (N, C, H, W) (torch's "
                         f"layout; the NumPy functions take (N, H, W, C)); got shape "
                         f"{tuple(t.shape)}.{hint}")
    return t
