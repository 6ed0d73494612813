"""Numerical gradient checking, CS231n style: the one checker the course, its tests and its
assignments share.

A backward pass is right when it agrees with centred finite differences,

    df/dx_i  ≈  (f(x + h e_i) - f(x - h e_i)) / (2 h),

whose error shrinks like h². Compared in float64 with h = 1e-5, a correct analytic gradient
usually agrees to a relative error below 1e-7; a wrong one is off by 1e-2 or more. Kinks
(ReLU at 0, max at a tie) can spoil the estimate when an input sits within h of one: draw test
inputs away from kinks.

- :func:`numerical_gradient` estimates d f(x) / dx for a scalar-valued ``f``.
- :func:`numerical_gradient_array` estimates the vector-Jacobian product ``dout · d f(x)/dx``
  for an array-valued ``f`` (what a layer's ``backward(dout)`` returns).
- :func:`relative_error` is the scale-free distance ``max |a-b| / max(|a|+|b|, tiny)``.
- :func:`check_gradient` runs the comparison and raises an ``AssertionError`` that says which
  entry disagrees the most, by how much, and what that usually means.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "numerical_gradient",
    "numerical_gradient_array",
    "relative_error",
    "check_gradient",
]

#: A correct float64 gradient usually agrees with the numerical estimate below this.
DEFAULT_TOLERANCE = 1e-6


def _as_float64(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be an array of real numbers; got dtype {arr.dtype}.")
    return arr.astype(np.float64)


def numerical_gradient(f: Callable[[np.ndarray], float], x, h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of a scalar function.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; may read ``x`` but must not keep a reference to it.
    x : ndarray of any shape
        The point at which to differentiate (converted to float64, not modified).
    h : float
        Step size; 1e-5 balances truncation error (h²) and rounding error (1e-16 / h).

    Returns
    -------
    grad : ndarray of float64, same shape as ``x``
    """
    x = _as_float64(x, "x").copy()
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = float(f(x))
        x[i] = old - h
        minus = float(f(x))
        x[i] = old
        grad[i] = (plus - minus) / (2.0 * h)
    return grad


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x, dout,
                             h: float = 1e-5) -> np.ndarray:
    """Centred-difference estimate of ``sum(dout * f(x))`` differentiated with respect to ``x``.

    This is what a layer's backward pass computes: given the upstream gradient ``dout`` (same
    shape as ``f(x)``), the gradient with respect to the input.

    Parameters
    ----------
    f : callable
        ``f(x) -> ndarray`` of the same shape as ``dout``.
    x : ndarray of any shape
    dout : ndarray, shape of ``f(x)``
    h : float

    Returns
    -------
    dx : ndarray of float64, same shape as ``x``
    """
    dout = _as_float64(dout, "dout")

    def scalar(z):
        out = np.asarray(f(z), dtype=np.float64)
        if out.shape != dout.shape:
            raise ValueError(f"f(x) has shape {out.shape} but dout has shape {dout.shape}; "
                             "they must match.")
        return float(np.sum(out * dout))

    return numerical_gradient(scalar, x, h)


def relative_error(a, b) -> float:
    """Largest absolute difference, scaled by the size of the two arrays.

    ``max |a - b| / max(max |a| + max |b|, 1e-12)``: 0 when equal, about 1 when unrelated.
    """
    a = _as_float64(a, "a")
    b = _as_float64(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"the two gradients have shapes {a.shape} and {b.shape}; "
                         "a gradient has the shape of what it differentiates.")
    scale = max(float(np.max(np.abs(a), initial=0.0)) + float(np.max(np.abs(b), initial=0.0)),
                1e-12)
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


def check_gradient(analytic, numeric, name: str = "gradient",
                   tolerance: float = DEFAULT_TOLERANCE) -> float:
    """Compare an analytic gradient with a numerical estimate; return the relative error.

    Raises ``AssertionError`` when the relative error exceeds ``tolerance``, naming the entry
    that disagrees most and what a large error usually means.
    """
    if analytic is None:
        raise AssertionError(f"{name}: the backward pass returned None; it must return an "
                             "array with the shape of the input it differentiates.")
    analytic = _as_float64(analytic, name)
    numeric = _as_float64(numeric, "numerical estimate")
    if analytic.shape != numeric.shape:
        raise AssertionError(f"{name} has shape {analytic.shape}, expected {numeric.shape} "
                             "(the shape of the input it differentiates).")
    if not np.all(np.isfinite(analytic)):
        raise AssertionError(f"{name} contains NaN or inf; look for a division or exp that "
                             "overflows in the backward pass.")
    err = relative_error(analytic, numeric)
    if err > tolerance:
        worst = np.unravel_index(int(np.argmax(np.abs(analytic - numeric))), analytic.shape)
        ratio = ""
        nz = np.abs(numeric) > 1e-8
        if nz.any():
            r = analytic[nz] / numeric[nz]
            if np.allclose(r, r.flat[0], rtol=1e-3):
                ratio = (f" Every entry is {r.flat[0]:.4g}× the numerical one: a constant "
                         "factor is missing or extra.")
        raise AssertionError(
            f"{name} disagrees with the numerical gradient: relative error {err:.2e} "
            f"(a correct float64 backward pass is usually below {tolerance:.0e}). Largest "
            f"difference at index {tuple(int(i) for i in worst)}: analytic "
            f"{analytic[worst]:.6g}, numerical {numeric[worst]:.6g}.{ratio} Check the local "
            "derivative and that the upstream gradient is multiplied in (chain rule)."
        )
    return err
