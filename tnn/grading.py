"""Student-facing checks used by the exercise notebooks' test cells.

A failing check raises ``AssertionError`` with a message a student can act on: which input
failed, what was expected and what came back, the largest error, and a hint. Returning
``None``, a list, the wrong shape, an integer or boolean array, or NaNs each get their own
message instead of a traceback from deep inside NumPy.

The checks copy whatever the student returns into fresh float64 arrays and compare with
plain arithmetic, so an object that overrides ``__eq__`` or a patched ``np.allclose`` does
not change the verdict.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "route_warnings_to_stdout",
    "assert_close",
    "check_function",
    "check_torch_function",
    "format_value",
    "elementwise_cases",
]

# Bound at import: test cells keep working even if a notebook rebinds these names later
# (``np.array = ...`` in an answer changes the attribute, not these references).
_asarray = np.asarray
_isfinite = np.isfinite
_abs = np.abs
_array = np.array
_where_fn = np.where
_argwhere = np.argwhere
_errstate = np.errstate
_ndarray = np.ndarray
_generic = np.generic
_floating = np.floating
_float64 = np.float64
_float32 = np.float32
_dtype = np.dtype
_default_rng = np.random.default_rng


def _student_facing(check):
    """Make a failed check read as its message, not as a traceback through this module.

    The check's own frames are marked ``__tracebackhide__`` (IPython skips them) and its
    ``AssertionError`` is raised afresh from this wrapper, so a student sees their test cell's
    line and the message, a few lines in all, instead of ~30 lines of grading internals.
    """

    @functools.wraps(check)
    def wrapper(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841 - read by IPython's traceback formatter
        try:
            return check(*args, **kwargs)
        except AssertionError as err:
            message = str(err)
        raise AssertionError(message) from None

    return wrapper


def _student_line(err: BaseException) -> str:
    """' (line N: `code`)' for the last frame of ``err``'s traceback outside this module."""
    where = getattr(err, "where", None)  # set when the code ran in another process
    if where is not None:
        return f" (at {where})" if where else ""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename != __file__]
    if not frames or not frames[-1].line:
        return ""
    return f" (at line {frames[-1].lineno}: `{frames[-1].line.strip()}`)"


_REDACT = {"on": False}


@contextlib.contextmanager
def redacted_expected():
    """Within this block, failure messages leave out the expected values.

    The grader uses it for hidden tests: the feedback says which input failed, what came
    back and the hint, but not the answer.
    """
    before = _REDACT["on"]
    _REDACT["on"] = True
    try:
        yield
    finally:
        _REDACT["on"] = before


def _expected_text(value) -> str:
    return "(hidden)" if _REDACT["on"] else format_value(value)


def _register(student_fn, reference_fn) -> None:
    """Tell a grader-side stand-in for the student's function which reference it is checked
    against (so the reference may stand in for it while later functions are checked)."""
    register = getattr(student_fn, "register_reference", None)
    if callable(register):
        register(reference_fn)


def route_warnings_to_stdout() -> None:
    """Print Python warnings (NumPy, torch) to stdout instead of stderr.

    nbgrader scores a test cell 0 when anything reaches stderr, even if every assert passed;
    a harmless ``RuntimeWarning`` must not cost a correct answer its points. The warning is
    still shown, on stdout, and each distinct warning only once.
    """

    def _show(message, category, filename, lineno, file=None, line=None):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        sys.stdout.write(text)

    warnings.showwarning = _show
    warnings.simplefilter("default")


def format_value(value, limit: int = 6) -> str:
    """Compact text for a number or small array, for messages."""
    if isinstance(value, _ndarray):
        if value.ndim == 0:
            return format_value(value[()])
        flat = value.ravel()
        body = ", ".join(format_value(v) for v in flat[:limit])
        more = f", ... ({value.size} values)" if value.size > limit else ""
        return f"array(shape={value.shape}, [{body}{more}])"
    if isinstance(value, float | _floating):
        return f"{float(value):.6g}"
    if isinstance(value, list | tuple) and value and any(isinstance(v, _ndarray) for v in value):
        return f"{type(value).__name__} of {len(value)} arrays"  # e.g. a list of weights
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _type_name(value) -> str:
    if isinstance(value, _ndarray):
        return f"ndarray of dtype {value.dtype} and shape {value.shape}"
    return type(value).__name__


def _to_float_array(got, name: str, expected: np.ndarray, where: str, hint: str) -> np.ndarray:
    """Validate a student's result and return it as a fresh float64 array."""
    if got is None:
        raise AssertionError(
            f"{name} returned None{where}. Did you forget the `return` statement?"
        )
    if hasattr(got, "detach") and hasattr(got, "cpu"):  # a torch tensor where NumPy was asked
        raise AssertionError(
            f"{name} returned a torch.Tensor{where}; this function should use NumPy and return "
            f"an ndarray. Convert with .detach().cpu().numpy() or use np.* functions."
        )
    if isinstance(got, list | tuple) and expected.ndim > 0:
        raise AssertionError(
            f"{name} returned a {type(got).__name__}{where}; expected an ndarray of shape "
            f"{expected.shape}. Use NumPy operations on the whole array (no Python loops)."
        )
    if not isinstance(got, _ndarray | _generic | int | float):
        raise AssertionError(
            f"{name} returned {_type_name(got)}{where}; expected a NumPy array"
            f"{' of shape ' + str(expected.shape) if expected.ndim else ' or a float'}."
        )
    arr = _asarray(got)
    if arr.dtype.kind == "b":
        raise AssertionError(
            f"{name} returned a boolean array{where}; expected floating-point numbers. "
            f"Convert a mask with .astype(x.dtype). {hint}".rstrip()
        )
    if arr.dtype.kind not in "fiu":
        raise AssertionError(
            f"{name} returned values of dtype {arr.dtype}{where}; expected real floating-point "
            f"numbers (float32 or float64)."
        )
    if arr.shape != expected.shape:
        raise AssertionError(
            f"{name} returned shape {arr.shape}{where}; expected shape {expected.shape}. "
            f"Check which axes your function reduces over and its keepdims and reshapes "
            f"(an elementwise function keeps its input's shape)."
        )
    return _array(arr, dtype=_float64, copy=True)


@_student_facing
def assert_close(
    got,
    expected,
    *,
    name: str = "result",
    inputs: dict | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    hint: str = "",
    require_float_dtype: np.dtype | None = None,
) -> None:
    """Assert that a student's ``got`` matches the reference ``expected`` elementwise.

    Parameters
    ----------
    got : object
        What the student's function returned.
    expected : float or ndarray
        The reference answer.
    name : str
        The student's function, for messages.
    inputs : dict, optional
        Arguments the function was called with, e.g. ``{"x": x}``; the first array among
        them is used to show the failing input value.
    rtol, atol : float
        Pass when ``|got - expected| <= atol + rtol * |expected|`` everywhere.
    hint : str
        Added to every failure message.
    require_float_dtype : dtype, optional
        Also require ``got`` to have exactly this float dtype (e.g. float32 in, float32 out).

    Raises
    ------
    AssertionError
        With a student-facing message.
    """
    expected = _array(expected, dtype=_float64, copy=True)
    where = _where(inputs)
    hint_text = f" Hint: {hint}" if hint else ""
    got_arr = _to_float_array(got, name, expected, where, hint)
    if require_float_dtype is not None:
        dtype = _asarray(got).dtype
        if dtype != _dtype(require_float_dtype):
            raise AssertionError(
                f"{name} returned dtype {dtype}{where}; expected {_dtype(require_float_dtype)} "
                f"(the input's dtype). Keep the input's dtype: avoid np.float64 constants and "
                f"astype(float)."
            )
    bad_nan = ~_isfinite(got_arr) & _isfinite(expected)
    if bad_nan.any():
        idx = _first_index(bad_nan)
        raise AssertionError(
            f"{name} returned {format_value(got_arr[idx])} (not a finite number) at "
            f"{int(bad_nan.sum())} of {bad_nan.size} positions{where}; the first is at "
            f"{_input_at(inputs, idx, expected.shape)}, where the answer is "
            f"{_expected_text(expected[idx])}. NaN or inf usually means an overflow in exp() or "
            f"a 0/0 or inf/inf division.{hint_text}"
        )
    with _errstate(invalid="ignore", over="ignore"):  # inf - inf is handled just below
        err = _abs(got_arr - expected)
    both_inf = ~_isfinite(expected) & (got_arr == expected)
    err = _where_fn(both_inf, 0.0, err)
    tol = atol + rtol * _abs(_where_fn(_isfinite(expected), expected, 0.0))
    wrong = ~(err <= tol)
    if wrong.any():
        idx = _first_index(wrong)
        finite_err = err[_isfinite(err)]
        max_err = float(finite_err.max()) if finite_err.size else math.inf
        raise AssertionError(
            f"{name} is wrong at {int(wrong.sum())} of {wrong.size} positions{where}. "
            f"First: at {_input_at(inputs, idx, expected.shape)} expected "
            f"{_expected_text(expected[idx])}, got {format_value(got_arr[idx])}. "
            f"Max abs error {max_err:.3g} (allowed: {atol:g} + {rtol:g}*|expected|).{hint_text}"
        )


def _first_index(mask: np.ndarray):
    if mask.ndim == 0:
        return ()
    return tuple(int(i) for i in _argwhere(mask)[0])


def _where(inputs: dict | None) -> str:
    if not inputs:
        return ""
    parts = []
    for key, value in inputs.items():
        if isinstance(value, _ndarray) and value.ndim > 0:
            parts.append(f"{key} of shape {value.shape} and dtype {value.dtype}")
        else:
            parts.append(f"{key}={format_value(value)}")
    return " for " + ", ".join(parts)


def _input_at(inputs: dict | None, idx, shape) -> str:
    """Describe the input element behind output position ``idx``."""
    position = f"index {idx}" if idx != () else "the scalar input"
    for key, value in (inputs or {}).items():
        if isinstance(value, _ndarray) and value.shape == shape:
            return f"{key}{list(idx) if idx != () else ''} = {format_value(value[idx])}"
        if isinstance(value, float | int | _floating) and shape == ():
            return f"{key} = {format_value(value)}"
    return position


@_student_facing
def check_function(
    student_fn: Callable,
    reference_fn: Callable,
    cases: Iterable[dict],
    *,
    name: str | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    hint: str = "",
    keep_dtype: bool = False,
) -> None:
    """Call ``student_fn`` and ``reference_fn`` on each case and compare the results.

    Parameters
    ----------
    student_fn, reference_fn : callable
    cases : iterable of dict
        Keyword arguments for one call each, e.g. ``[{"x": np.array([-10., 0., 10.])}]``.
        Inputs are copied, so a function that modifies its input in place cannot change the
        reference's view of it.
    name : str, optional
        Defaults to ``student_fn.__name__``.
    rtol, atol, hint : as in :func:`assert_close`
        float32 cases get their tolerance widened to ``max(rtol, 1e-5)``.
    keep_dtype : bool
        Require the result's float dtype to equal the first input array's dtype.

    Returns
    -------
    None
        Deliberately: nbgrader reads a number left as a test cell's last value as partial
        credit, so a check that returned a count could change a cell's score.
    """
    if not callable(student_fn):
        raise AssertionError(f"Expected a function to test; got {_type_name(student_fn)}.")
    name = name or getattr(student_fn, "__name__", "your function")
    _register(student_fn, reference_fn)
    for case in cases:
        student_args = {k: _copy(v) for k, v in case.items()}
        reference_args = {k: _copy(v) for k, v in case.items()}
        shown = {k: _copy(v) for k, v in case.items()}
        expected = reference_fn(**reference_args)
        try:
            got = student_fn(**student_args)
        except NotImplementedError:
            raise AssertionError(
                f"{name} is not implemented yet: replace `raise NotImplementedError()` with "
                f"your code."
            ) from None
        except Exception as err:  # show the student which input broke their code, and where
            raise AssertionError(
                f"{name} raised {type(err).__name__}: {err}{_where(shown)}"
                f"{_student_line(err)}.{' Hint: ' + hint if hint else ''}"
            ) from err
        first = next((v for v in case.values() if isinstance(v, _ndarray)), None)
        is32 = first is not None and first.dtype == _float32
        assert_close(
            got,
            expected,
            name=name,
            inputs=shown,
            rtol=max(rtol, 1e-5) if is32 else rtol,
            atol=max(atol, 1e-6) if is32 else atol,
            hint=hint,
            require_float_dtype=first.dtype if (keep_dtype and first is not None) else None,
        )


def _copy(value):
    return value.copy() if isinstance(value, _ndarray) else value


@_student_facing
def check_torch_function(
    student_fn: Callable,
    reference_fn: Callable,
    arrays: Sequence[np.ndarray],
    device,
    *,
    name: str | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    hint: str = "",
) -> None:
    """Check a torch function on ``device`` against a NumPy reference.

    Each array is turned into a tensor on ``device`` and passed as the only argument. The
    result must be a ``torch.Tensor`` on that same device, with the input's dtype and shape,
    matching ``reference_fn(array)``.
    """
    import torch

    device = torch.device(device)
    name = name or getattr(student_fn, "__name__", "your function")
    _register(student_fn, reference_fn)
    for array in arrays:
        array = _asarray(array)
        x = torch.as_tensor(array.copy(), device=device)
        try:
            got = student_fn(x)
        except NotImplementedError:
            raise AssertionError(
                f"{name} is not implemented yet: replace `raise NotImplementedError()` with "
                f"your code."
            ) from None
        except Exception as err:
            raise AssertionError(
                f"{name} raised {type(err).__name__}: {err} for a tensor of shape "
                f"{tuple(x.shape)} on {device}{_student_line(err)}."
                f"{' Hint: ' + hint if hint else ''}"
            ) from err
        if got is None:
            raise AssertionError(f"{name} returned None. Did you forget the `return` statement?")
        if not isinstance(got, torch.Tensor):
            raise AssertionError(
                f"{name} returned {_type_name(got)}; expected a torch.Tensor. Use torch "
                f"operations (torch.exp, torch.where, ...) rather than NumPy or math."
            )
        # computed in another process, a tensor reports the device it was on there
        got_device = getattr(got, "kernel_device", got.device.type)
        if got_device != device.type:
            raise AssertionError(
                f"{name} returned a tensor on {got_device} for an input on {device}; keep the "
                f"computation on the input's device (create new tensors with "
                f"torch.zeros_like(x) or device=x.device)."
            )
        if got.dtype != x.dtype:
            raise AssertionError(
                f"{name} returned dtype {got.dtype} for a {x.dtype} input; keep the input's dtype."
            )
        is32 = array.dtype == _float32
        assert_close(
            got.detach().cpu().numpy(),
            reference_fn(array.copy()),
            name=name,
            inputs={"x": array},
            rtol=max(rtol, 1e-5) if is32 else rtol,
            atol=max(atol, 1e-6) if is32 else atol,
            hint=hint,
        )


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
