"""Inputs that the exercises' hidden tests share (re-exported by :mod:`tnn.grading`)."""

from __future__ import annotations

import numpy as np

# Bound at import, as in tnn.grading: a notebook that rebinds np.array cannot change them.
_array = np.array
_float32 = np.float32
_default_rng = np.random.default_rng


def elementwise_cases(seed: int, *, scale: float = 5.0, extremes: bool = True) -> list[dict]:
    """Inputs for hidden tests of an elementwise function ``f(x)``.

    A Python float, a (N,) float64 array, a (N, D) float32 array, values around 0 (the kink
    of ReLU-like functions) and, with ``extremes``, +-50 and +-1000 in float64 and float32.
    """
    rng = _default_rng(seed)
    cases = [
        {"x": float(rng.normal() * scale)},
        {"x": rng.normal(size=17) * scale},
        {"x": (rng.normal(size=(8, 5)) * scale).astype(_float32)},
        {"x": _array([-3.0, -1e-3, 0.0, 1e-3, 3.0])},
    ]
    if extremes:
        cases += [
            {"x": _array([-1000.0, -50.0, 50.0, 1000.0])},
            {"x": _array([[-1000.0, 1000.0], [-30.0, 30.0]], dtype=_float32)},
        ]
    return cases
