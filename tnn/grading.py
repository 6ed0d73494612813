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

from tnn import _expected
from tnn.grading_cases import elementwise_cases

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


class _CheckFailed(AssertionError):
    """A failed check: an ``AssertionError`` that a notebook shows as its message alone.

    IPython prints what ``_render_traceback_`` returns instead of a traceback; without it, the
    frame that raises (this module's) is always shown, however the frames are marked.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"AssertionError: {self}"]


_CheckFailed.__name__ = _CheckFailed.__qualname__ = "AssertionError"  # what students read


def _student_facing(check):
    """Make a failed check read as its message, not as a traceback through this module:
    its ``AssertionError`` is raised afresh as :class:`_CheckFailed`, so a student sees the
    message, a few lines in all, instead of ~30 lines of grading internals."""

    @functools.wraps(check)
    def wrapper(*args, **kwargs):
        __tracebackhide__ = True  # noqa: F841 - read by IPython's traceback formatter
        try:
            return check(*args, **kwargs)
        except AssertionError as err:
            message = str(err)
        raise _CheckFailed(message) from None

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
    if isinstance(value, dict) and any(isinstance(v, _ndarray) for v in value.values()):
        return "{" + ", ".join(f"{k!r}: {format_value(v, limit=3)}" for k, v in value.items()) + "}"
    text = " ".join(repr(value).split())  # one line, whatever repr wraps
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
            f"Max abs error {max_err:.3g} "
            f"({'must be exact' if atol == rtol == 0 else f'allowed: {atol:g} + {rtol:g}*|expected|'})."
            f"{hint_text}"
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
        if isinstance(value, _ndarray) and 0 < value.size <= 10 and value.ndim == 1:
            shown = ", ".join(format_value(v) for v in value.tolist())
            parts.append(f"{key}=[{shown}] ({value.dtype})")  # small enough to read
        elif isinstance(value, _ndarray) and value.ndim > 0:
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
        reference's view of it; such a function fails the check (the caller's arrays must
        come back unchanged).
    name : str, optional
        Defaults to ``student_fn.__name__``.
    rtol, atol, hint : as in :func:`assert_close`
        float32 cases get their tolerance widened to ``max(rtol, 1e-5)`` and
        ``max(atol, 1e-6, 1e-6 * max|expected|)``: float32 keeps about 7 digits of the
        largest value involved, so a sum that cancels (a gradient summed over a batch) cannot
        be more exact than that, whichever correct order it is computed in.
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
    cases = list(cases)
    failed, first = [], None
    for number, case in enumerate(cases, 1):
        try:
            _check_case(student_fn, reference_fn, case, name, rtol, atol, hint, keep_dtype)
        except AssertionError as err:
            failed.append(number)
            first = first or str(err)
            if isinstance(err, _Stop):
                break  # the function raised: the message says where; the cases after wait
    if first is not None:
        if len(cases) == 1:
            raise AssertionError(first)
        which = (f"case {failed[0]}" if len(failed) == 1 else
                 "cases " + ", ".join(map(str, failed[:-1])) + f" and {failed[-1]}")
        raise AssertionError(f"{name} fails {which} of {len(cases)} (numbered from 1); case "
                             f"{failed[0]}: {first}")


class _Stop(AssertionError):
    """A case that stops :func:`check_function`: the student's function raised (it may have
    run out of time), is not written yet, or called the library's own version."""


def _check_case(student_fn, reference_fn, case, name, rtol, atol, hint, keep_dtype) -> None:
    """One case of :func:`check_function`: raises ``AssertionError`` with the message."""
    student_args = {k: _copy(v) for k, v in case.items()}
    reference_args = {k: _copy(v) for k, v in case.items()}
    shown = {k: _copy(v) for k, v in case.items()}
    expected = _expected.expected_value(reference_fn, case,
                                        functools.partial(reference_fn, **reference_args))
    try:
        got = _expected.call_student(student_fn, (), student_args, name)
    except _expected.LibraryAnswer as err:
        raise _Stop(str(err)) from None
    except NotImplementedError:
        raise _Stop(
            f"{name.split(' (')[0]} is not implemented yet: replace `raise NotImplementedError()` with "
            f"your code."
        ) from None
    except Exception as err:  # show the student which input broke their code, and where
        modified = getattr(err, "modified_inputs", None)  # reported by the grader's kernel
        if modified:
            raise AssertionError(_modified_message(name, modified, shown)) from None
        raise _Stop(
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
        atol=_float32_atol(atol, expected) if is32 else atol,
        hint=hint,
        require_float_dtype=first.dtype if (keep_dtype and first is not None) else None,
    )
    modified = [k for k in case if not _unchanged(shown[k], student_args[k])]
    if modified:
        raise AssertionError(_modified_message(name, modified, shown))


def _float32_atol(atol: float, expected) -> float:
    """The absolute tolerance of a float32 case: 1e-6 of the largest expected value."""
    try:
        values = _abs(_array(expected, dtype=_float64))
    except (TypeError, ValueError):
        return max(atol, 1e-6)
    finite = values[_isfinite(values)]
    scale = float(finite.max()) if finite.size else 0.0
    return max(atol, 1e-6, 1e-6 * scale)


def _copy(value):
    """A copy of an argument: arrays copied, lists, tuples and dicts of them item by item."""
    if isinstance(value, _ndarray):
        return value.copy()
    if isinstance(value, list | tuple):
        return type(value)(_copy(v) for v in value)
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    return value


def _unchanged(before, after) -> bool:
    """Whether ``after`` (what the student's function was given) still equals ``before``."""
    if isinstance(before, _ndarray):
        if not isinstance(after, _ndarray) or after.shape != before.shape:
            return False
        if after.dtype != before.dtype:
            return False
        same = before == after
        if before.dtype.kind in "fc":
            same = same | ((before != before) & (after != after))  # NaN stays NaN
        return bool(same.all())
    if isinstance(before, list | tuple):
        return (type(after) is type(before) and len(after) == len(before)
                and all(_unchanged(b, a) for b, a in zip(before, after, strict=True)))
    if type(before) is dict:
        return (type(after) is dict and set(after) == set(before)
                and all(_unchanged(b, after[k]) for k, b in before.items()))
    if isinstance(before, bool | int | float | str):
        return type(after) is type(before) and (after == before or before != before)
    return True  # e.g. a generator: it is meant to advance


def _modified_message(name: str, modified, inputs: dict | None = None) -> str:
    what = ", ".join(str(m) for m in modified)
    return (
        f"{name} modified its input {what} in place{_where(inputs)}: after the call the "
        f"caller's array no longer holds the values it passed. A function must leave its "
        f"arguments unchanged: return a new array (e.g. np.maximum(x, 0) or (X - mean) / std), "
        f"or work on a copy (x = x.copy()) before assigning into it; statements like "
        f"x[x < 0] = 0, X -= mean or x *= 2 write into the caller's array."
    )


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
    matching ``reference_fn(array)``, and the input tensor must come back unchanged.

    A CPU-only machine cannot tell a function that keeps the input's device from one that
    builds its tensors on the CPU whatever the input. So the function is also called once on
    a tensor on PyTorch's ``"meta"`` device (shapes and dtypes, no data): the result must be
    on ``"meta"`` too, and an error about mixing devices fails the check. A function that
    cannot run on ``"meta"`` for another reason (an operation without a meta implementation,
    code that reads the tensor's values) is not judged by this probe.
    """
    import torch

    device = torch.device(device)
    name = name or getattr(student_fn, "__name__", "your function")
    _register(student_fn, reference_fn)
    probe_like = None
    for array in arrays:
        array = _asarray(array)
        x = torch.as_tensor(array.copy(), device=device)
        try:
            got = _expected.call_student(student_fn, (x,), {}, name)
        except _expected.LibraryAnswer as err:
            raise AssertionError(str(err)) from None
        except NotImplementedError:
            raise AssertionError(
                f"{name} is not implemented yet: replace `raise NotImplementedError()` with "
                f"your code."
            ) from None
        except Exception as err:
            if getattr(err, "modified_inputs", None):  # reported by the grader's kernel
                raise AssertionError(_modified_tensor_message(name, device)) from None
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
        expected = _expected.expected_value(reference_fn, {"x": array},
                                            functools.partial(reference_fn, array.copy()))
        assert_close(
            got.detach().cpu().numpy(),
            expected,
            name=name,
            inputs={"x": array},
            rtol=max(rtol, 1e-5) if is32 else rtol,
            atol=_float32_atol(atol, expected) if is32 else atol,
            hint=hint,
        )
        if x.device.type != "meta" and not _unchanged(array, x.detach().cpu().numpy()):
            raise AssertionError(_modified_tensor_message(name, device))
        probe_like = probe_like if probe_like is not None else x
    if probe_like is not None and device.type != "meta":
        _check_on_meta(student_fn, name, probe_like, device, torch)


def _modified_tensor_message(name: str, device) -> str:
    return (
        f"{name} modified its input tensor in place (on {device}): after the call the caller's "
        f"tensor no longer holds the values it passed. Return a new tensor: use out-of-place "
        f"operations (torch.where(...), x * 2, torch.clamp(x, ...)) instead of in-place ones "
        f"(x[mask] = ..., x.mul_(...), x -= ...), or work on x.clone()."
    )


def _own_line(err: BaseException) -> str:
    """Like :func:`_student_line`, but skipping the frames inside installed libraries (torch
    raises a device error from deep inside itself)."""
    if getattr(err, "where", None) is not None:
        return _student_line(err)
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename != __file__
              and "-packages" not in f.filename and not f.filename.startswith("<frozen")]
    if not frames or not frames[-1].line:
        return ""
    return f" (at line {frames[-1].lineno}: `{frames[-1].line.strip()}`)"


# an error that says the function combined the input with a tensor or array on another device
_DEVICE_MIX = ("not on the expected device", "on the same device", "two devices",
               "device type tensor to numpy")


def _check_on_meta(student_fn, name: str, like, device, torch) -> None:
    """Call ``student_fn`` on a tensor on the "meta" device shaped like ``like``: the result
    must be on "meta" too. Tensors on ``device`` bound in a ``functools.partial`` (e.g. the
    statistics of a normalisation) move to "meta" with it, as they would to a GPU."""
    meta = torch.empty(tuple(like.shape), dtype=like.dtype, device="meta")

    def move(value):
        if isinstance(value, torch.Tensor) and value.device.type == device.type:
            return value.to("meta")  # (by type: "cuda" and "cuda:0" are the same GPU here)
        return value

    fn = student_fn
    if isinstance(fn, functools.partial):
        fn = functools.partial(fn.func, *(move(a) for a in fn.args),
                               **{k: move(v) for k, v in fn.keywords.items()})
    advice = (
        "create new tensors with device=x.device (torch.zeros(shape, device=x.device)) or "
        "torch.zeros_like(x), and convert NumPy arrays with "
        "torch.as_tensor(a, device=x.device, dtype=x.dtype). The grader also calls your "
        "function on PyTorch's 'meta' device, which stands in for a GPU: code that passes "
        "there runs unchanged on a GPU."
    )
    try:
        got = fn(meta)
    except Exception as err:  # noqa: BLE001 - only a device mix-up is a verdict
        text = f"{type(err).__name__}: {str(err).strip().rstrip('!.')}"
        if not any(marker in text for marker in _DEVICE_MIX):
            return  # it cannot run on "meta" for another reason: no verdict from this probe
        raise AssertionError(
            f"{name} mixed devices: for an input on meta it raised {text}"
            f"{_own_line(err)}. Your function combines the input with a tensor or array "
            f"on the CPU: {advice}"
        ) from None
    if not isinstance(got, torch.Tensor):
        return
    got_device = getattr(got, "kernel_device", got.device.type)
    if got_device != "meta":
        raise AssertionError(
            f"{name} returned a tensor on {got_device} for an input on meta: {advice}"
        )
