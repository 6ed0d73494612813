"""Expected values for the exercises' visible tests, and a guard against calling the library's
version of the function being checked.

When an assignment is released, the instructor's solution notebook runs with its hidden tests
removed and every visible check records what the reference returned, keyed by a hash of the
reference and the case's arguments, in ``expected.json`` beside the exercise notebook. In a
student's kernel (whose working directory is the notebook's folder) the checks read the
expected value from that file, so the reference need not be there; only a case the file does
not hold calls the reference.

The file also names the course-library functions the assignments grade. While a student's
function runs in a visible check, those functions raise, so an answer that only calls the
library's own version is told so at home instead of scoring 0 when graded (the library used
for grading has no body for them).

The file is plain JSON; arrays are tagged objects with base64 bytes, parsed strictly (no
pickle).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import math
import os
import sys
import types
from pathlib import Path

import numpy as np

FILENAME = "expected.json"
RECORD_ENV = "TNN_RECORD_EXPECTED"  # set while an assignment is released: record, never read
STRICT_ENV = "TNN_EXPECTED_STRICT"  # tests: a case missing from the file is an error
MAX_BYTES = 64 * 2**20
_DTYPE_KINDS = "fiub"


class LibraryAnswer(AssertionError):
    """A student's function called the library's version of a graded function."""


# ------------------------------------------------------------------------------------------
# keys
# ------------------------------------------------------------------------------------------
def _describe(value, depth: int = 0):
    """A JSON-able description of ``value`` that is the same in every process."""
    if depth > 6:
        return "..."
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(_key_bits(value))
        return ["nd", value.dtype.str, list(data.shape), hashlib.sha256(data.tobytes()).hexdigest()]
    if isinstance(value, np.generic):
        return _describe(np.asarray(value), depth + 1)
    if isinstance(value, bool | int | str) or value is None:
        return [type(value).__name__, value]
    if isinstance(value, float):
        return ["float", repr(float(_key_bits(np.array(value))))]
    if isinstance(value, list | tuple):
        return [type(value).__name__, [_describe(v, depth + 1) for v in value]]
    if isinstance(value, dict):
        return ["dict", [[str(k), _describe(v, depth + 1)] for k, v in sorted(value.items())]]
    if isinstance(value, functools.partial):
        return ["partial", _describe(value.func, depth + 1),
                _describe(list(value.args), depth + 1), _describe(dict(value.keywords), depth + 1)]
    if isinstance(value, types.FunctionType):
        module = value.__module__ or ""
        if module.startswith("tnn."):  # a library function: its name is its identity (not
            return ["fn", "tnn", value.__qualname__]  # its module: functions move between them)
        code = value.__code__  # a function of the notebook: what it refers to, its constants
        consts = [c for c in code.co_consts if isinstance(c, str | int | float)
                  and not isinstance(c, bool)]
        cells = [_describe(c.cell_contents, depth + 1) for c in (value.__closure__ or ())
                 if _has_contents(c)]
        return ["fn", value.__qualname__, list(code.co_names), [repr(c) for c in consts],
                _describe(list(value.__defaults__ or ()), depth + 1), cells]
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    return ["type", type(value).__qualname__]


# Mantissa bits of a float input that enter its key: an input computed in the test cell
# (``x ** 1.5``, ``np.exp``) may differ in its last bits from one CPU to another (NumPy's
# SIMD kernels), and must still find the value recorded on the instructor's machine.
_KEY_BITS = {2: 8, 4: 16, 8: 36}


def _key_bits(value: np.ndarray) -> np.ndarray:
    if value.dtype.kind != "f":
        return value
    bits = _KEY_BITS.get(value.dtype.itemsize, 36)
    data = value.astype(np.float64)
    with np.errstate(invalid="ignore"):
        mantissa, exponent = np.frexp(data)
        rounded = np.ldexp(np.round(mantissa * 2.0 ** bits) / 2.0 ** bits, exponent)
    return np.where(np.isfinite(data), rounded, data)


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def case_key(reference_fn, kwargs: dict) -> str:
    text = json.dumps([_describe(reference_fn), _describe(dict(kwargs))], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# ------------------------------------------------------------------------------------------
# codec
# ------------------------------------------------------------------------------------------
# Significant digits kept of a stored float: far inside every check's tolerance, and the
# stored file does not change with the last bits of a machine's arithmetic.
_DIGITS = {4: 7, 8: 12}
# Below this magnitude a stored float is stored as 0: a result that cancels to zero (the std
# of identical passes, a difference of equal sums) leaves round-off such as 7e-18 whose value
# changes from one run to the next on the same machine (NumPy's SIMD paths depend on memory
# alignment), and no significant-digit rounding removes it. Far inside every check's atol.
_ZERO = {4: 1e-7, 8: 1e-15}


def _round_float(v: float, digits: int, zero: float) -> float:
    return 0.0 if abs(v) < zero else float(f"{v:.{digits}g}")


def _rounded(arr: np.ndarray) -> np.ndarray:
    digits = _DIGITS.get(arr.dtype.itemsize) if arr.dtype.kind == "f" else None
    if digits is None or arr.size == 0:
        return arr
    zero = _ZERO[arr.dtype.itemsize]
    flat = [_round_float(v, digits, zero) for v in arr.ravel().tolist()]
    return np.array(flat, dtype=arr.dtype).reshape(arr.shape)


def encode(value):
    """``value`` as JSON data; ``TypeError`` for anything a visible check should not need."""
    if isinstance(value, np.ndarray | np.generic):
        arr = _rounded(np.ascontiguousarray(value))
        if arr.dtype.kind not in _DTYPE_KINDS:
            raise TypeError(f"cannot store an array of dtype {arr.dtype}")
        return {"__ndarray__": [arr.dtype.str, list(arr.shape),
                                base64.b64encode(arr.tobytes()).decode("ascii")],
                "scalar": isinstance(value, np.generic)}
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return (_round_float(value, _DIGITS[8], _ZERO[8]) if math.isfinite(value)
                else {"__float__": repr(value)})
    if isinstance(value, tuple | list):
        return {"__seq__": [encode(v) for v in value], "tuple": isinstance(value, tuple)}
    raise TypeError(f"cannot store a {type(value).__name__}")


def decode(data):
    if isinstance(data, bool | int | float | str) or data is None:
        return data
    if isinstance(data, dict) and set(data) == {"__ndarray__", "scalar"}:
        dtype_str, shape, payload = data["__ndarray__"]
        dtype = np.dtype(str(dtype_str))
        shape = tuple(int(s) for s in shape)
        if dtype.kind not in _DTYPE_KINDS or any(s < 0 for s in shape):
            raise ValueError("bad array in expected values")
        raw = base64.b64decode(payload.encode("ascii"), validate=True)
        if len(raw) != math.prod(shape) * dtype.itemsize:
            raise ValueError("bad array size in expected values")
        arr = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        return arr[()] if data["scalar"] else arr
    if isinstance(data, dict) and set(data) == {"__float__"}:
        return float(data["__float__"])  # inf, -inf, nan
    if isinstance(data, dict) and set(data) == {"__seq__", "tuple"}:
        items = [decode(v) for v in data["__seq__"]]
        return tuple(items) if data["tuple"] else items
    raise ValueError("unexpected entry in expected values")


# ------------------------------------------------------------------------------------------
# the file beside the notebook
# ------------------------------------------------------------------------------------------
_CACHE: dict = {}


def load(folder: Path | str | None = None) -> dict:
    """The parsed ``expected.json`` of ``folder`` (the working directory), or ``{}``."""
    path = Path(folder or os.getcwd()) / FILENAME
    try:
        stat = path.stat()
    except OSError:
        return {}
    stamp = (str(path), stat.st_mtime_ns, stat.st_size)
    if _CACHE.get("stamp") != stamp:
        data = {}
        if stat.st_size <= MAX_BYTES:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
        _CACHE.update(stamp=stamp, data=data if isinstance(data, dict) else {})
    return _CACHE["data"]


def _record(key: str, value) -> None:
    path = Path(os.environ[RECORD_ENV])
    try:
        entry = encode(value)
    except TypeError:
        return  # not storable: the check will call the reference
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("expected", {})[key] = entry
    path.write_text(json.dumps(data, sort_keys=True))


def expected_value(reference_fn, kwargs: dict, call):
    """The reference's result for ``kwargs``: from ``expected.json`` when it holds the case,
    else ``call()`` (recorded when an assignment is being released)."""
    recording = bool(os.environ.get(RECORD_ENV))
    key = None
    with contextlib.suppress(Exception):
        key = case_key(reference_fn, kwargs)
    if not recording and key is not None:
        entries = load().get("expected", {})
        if isinstance(entries, dict) and key in entries:
            with contextlib.suppress(ValueError, TypeError, KeyError):
                return decode(entries[key])
    if os.environ.get(STRICT_ENV) and not recording:
        raise LookupError(f"no expected value recorded for this case of {reference_fn!r}")
    value = call()
    if recording and key is not None:
        _record(key, value)
    return value


# ------------------------------------------------------------------------------------------
# the library's graded functions raise while a student's function runs
# ------------------------------------------------------------------------------------------
_CALLED: list = []


def _stub(*args, **kwargs):
    # runs with the library module's globals: reach this module through builtins only
    raise __import__("tnn._expected", fromlist=["_called"])._called()


def _called() -> LibraryAnswer:
    name = sys._getframe(1).f_code.co_name
    _CALLED.append(name)
    return LibraryAnswer(name)


def _guard(*args, **kwargs):
    # runs with the library module's globals: reach this module through builtins only
    return __import__("tnn._expected", fromlist=["_through"])._through(args, kwargs)


# id(guard code installed in a function) -> (function, its own code, the guard code)
_GUARDED: dict = {}


def _through(args, kwargs):
    """A library function the grading kernel lacks, called while a student's function runs:
    from the library's own code (a reference standing in for a dependency) it runs; called
    from the student's code it is an answer the grader will not have."""
    frame = sys._getframe(1)
    fn, code, _ = _GUARDED[id(frame.f_code)]
    caller = frame.f_back
    if caller is not None and str(caller.f_globals.get("__name__", "")).startswith("tnn"):
        original = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__)
        original.__kwdefaults__ = fn.__kwdefaults__
        return original(*args, **kwargs)
    _CALLED.append(fn.__name__)
    raise LibraryAnswer(fn.__name__)


def _graded_library_functions():
    """``[(qualified name, function, kind)]``: the library functions a student's function may
    not call, as the loaded library defines them; ``kind`` is ``"graded"`` (an answer of an
    exercise) or ``"unavailable"`` (absent from the grading kernel's library: it computes an
    answer under another name)."""
    data = load()
    kinds = {}
    for kind, key in (("unavailable", "unavailable"), ("graded", "graded")):
        listed = data.get(key, [])
        if isinstance(listed, list):
            kinds.update(dict.fromkeys((str(n) for n in listed), kind))
    found = []
    for module_name, module in list(sys.modules.items()):
        if not (module_name == "tnn" or module_name.startswith("tnn.")) or module is None:
            continue
        for name, kind in kinds.items():
            fn = getattr(module, name, None)
            if (isinstance(fn, types.FunctionType) and fn.__module__ == module_name
                    and fn.__closure__ is None):
                found.append((f"{module_name}.{name}", fn, kind))
    return found


def _notebook_namespace() -> dict:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_globals.get("__name__") == "__main__":
            return frame.f_globals
        frame = frame.f_back
    return {}


def call_student(student_fn, args: tuple, kwargs: dict, name: str):
    """Call ``student_fn(*args, **kwargs)`` with the library's graded functions disabled.

    A graded function that the notebook itself bound to its own name (a test that lets the
    reference stand in for a dependency) stays usable, unless it is the one being checked.
    """
    if os.environ.get(RECORD_ENV):
        return student_fn(*args, **kwargs)
    user_ns = _notebook_namespace()
    checked = str(name).split(" ")[0]
    swapped = []
    for qualname, fn, kind in _graded_library_functions():
        short = qualname.rsplit(".", 1)[1]
        # a test cell lets a graded reference stand in for a dependency by binding it to its
        # own name; a function the grading kernel lacks never stands in (its calls from the
        # library's own code pass through the guard)
        if kind == "graded" and short != checked and user_ns.get(short) is fn:
            continue
        swapped.append((fn, fn.__code__))
        if kind == "graded":
            fn.__code__ = _stub.__code__.replace(co_name=short)
        else:
            guard = _guard.__code__.replace(co_name=short)
            _GUARDED[id(guard)] = (fn, fn.__code__, guard)
            fn.__code__ = guard
    del _CALLED[:]
    try:
        result = student_fn(*args, **kwargs)
    except LibraryAnswer:
        result = None
    finally:
        for fn, code in swapped:
            fn.__code__ = code
        _GUARDED.clear()
    if _CALLED:
        called = _CALLED[0]
        del _CALLED[:]
        raise LibraryAnswer(
            f"{name} calls the course library's {called}, which is not in the library your "
            f"work is graded with (there, it has no body and the call fails: this answer "
            f"would score 0). Write {called} yourself, or call your own function from this "
            f"notebook.")
    return result
