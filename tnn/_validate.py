"""Input validation shared by the topic modules (scikit-learn style messages).

Every public entry point converts its inputs through these helpers, so a student who passes
a string, ``None`` or an object array gets a message naming the argument, what was expected,
what arrived and how to fix it, instead of a deep NumPy traceback.
"""

from __future__ import annotations

import numbers

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
