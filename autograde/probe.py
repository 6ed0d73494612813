"""The data channel between the grader and a student's kernel.

The grader never trusts the kernel with a verdict: it sends the inputs of a check, the kernel
calls the student's function and sends back what it returned, *as data*, and the grader
compares that with the reference it computed itself (:mod:`autograde.trusted`).

What crosses the channel is JSON: numbers, strings, lists, dicts, ``None``, and tagged
objects for arrays (``np.save`` bytes, base64, loaded with ``allow_pickle=False``), tuples and
torch tensors (their values, dtype, shape and device). Anything else the student returns
arrives as an :class:`Unsupported` placeholder naming its type. :func:`decode` parses
strictly and within :data:`MAX_BYTES`: no pickle, no code, no object of the kernel's choosing.

The same codec runs in the kernel: :data:`KERNEL_CODE` is its source, sent to the kernel
after the student's notebook ran (so whatever the student did to the kernel before, the
helpers are fresh; and whatever the kernel does to them, it only changes data).
"""

from __future__ import annotations

import inspect
import json

import numpy as np

#: MIME type of a probe's answer in the kernel's display output.
MIME = "application/x-tnn-probe+json"
#: The largest answer the grader reads (bytes of JSON).
MAX_BYTES = 64 * 1024 * 1024


class ProbeError(Exception):
    """The kernel's answer is malformed (too large, not JSON, an unknown tag)."""

    where = ""  # not a line of the student's code


class Unsupported:
    """Stands for a value of a type that cannot cross the channel (e.g. a custom object)."""

    def __init__(self, type_name: str):
        self.type_name = str(type_name)[:100]

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


# ---- the codec, shared by both sides (its source is also sent to the kernel) ----

def _encode(obj, depth=0):
    import base64 as _b64
    import io as _io

    import numpy as _np

    if depth > 20:
        return {"__unsupported__": "nesting deeper than 20"}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (_np.generic, _np.ndarray)):  # before float: np.float64 is a float
        arr = _np.asarray(obj)
        if arr.dtype.kind not in "biufc":
            return {"__unsupported__": f"ndarray of dtype {arr.dtype}"}
        buf = _io.BytesIO()
        _np.save(buf, arr, allow_pickle=False)
        return {"__nd__": _b64.b64encode(buf.getvalue()).decode(), "scalar": arr.ndim == 0
                and not isinstance(obj, _np.ndarray)}
    if isinstance(obj, int):  # exact, however large (a generator's state is 128-bit)
        return obj if abs(obj) < 2**53 else {"__int__": str(obj)}
    if isinstance(obj, _np.random.Generator):  # sent as its bit generator's state
        return {"__rng__": type(obj.bit_generator).__name__,
                "state": _encode(obj.bit_generator.state, depth + 1)}
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else {"__float__": repr(obj)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, depth + 1) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, depth + 1) for v in obj]
    if isinstance(obj, dict):
        return {"__dict__": [[_encode(k, depth + 1), _encode(v, depth + 1)]
                             for k, v in obj.items()]}
    torch = __import__("sys").modules.get("torch")
    if torch is not None and isinstance(obj, torch.Tensor):
        out = {"__tensor__": None, "dtype": str(obj.dtype).replace("torch.", ""),
               "shape": list(obj.shape), "device": obj.device.type,
               "requires_grad": bool(obj.requires_grad)}
        if obj.device.type != "meta":
            out["__tensor__"] = _encode(obj.detach().cpu().resolve_conj().resolve_neg()
                                        .numpy(), depth + 1)
        return out
    return {"__unsupported__": type(obj).__name__}


def _decode(obj, make_tensor, depth=0):
    import base64 as _b64
    import io as _io

    import numpy as _np

    if depth > 22:
        raise ValueError("nesting too deep")
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, list):
        return [_decode(v, make_tensor, depth + 1) for v in obj]
    if not isinstance(obj, dict):
        raise ValueError(f"unexpected JSON value of type {type(obj).__name__}")
    if "__nd__" in obj:
        arr = _np.load(_io.BytesIO(_b64.b64decode(obj["__nd__"], validate=True)),
                       allow_pickle=False)
        if arr.dtype.kind not in "biufc":
            raise ValueError(f"array of dtype {arr.dtype}")
        return arr[()] if obj.get("scalar") else arr
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__int__" in obj:
        digits = str(obj["__int__"])
        if len(digits) > 100:
            raise ValueError("integer too long")
        return int(digits)
    if "__rng__" in obj:
        name = str(obj["__rng__"])
        if name not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
            raise ValueError(f"unknown bit generator {name!r}")
        bit_generator = getattr(_np.random, name)()
        bit_generator.state = _decode(obj["state"], make_tensor, depth + 1)
        return _np.random.Generator(bit_generator)
    if "__tuple__" in obj:
        return tuple(_decode(v, make_tensor, depth + 1) for v in obj["__tuple__"])
    if "__dict__" in obj:
        return {_decode(k, make_tensor, depth + 1): _decode(v, make_tensor, depth + 1)
                for k, v in obj["__dict__"]}
    if "__tensor__" in obj:
        values = obj["__tensor__"]
        values = None if values is None else _decode(values, make_tensor, depth + 1)
        return make_tensor(values, str(obj["dtype"]), [int(s) for s in obj["shape"]],
                           str(obj["device"]), bool(obj.get("requires_grad")))
    if "__unsupported__" in obj:
        return make_tensor.unsupported(str(obj["__unsupported__"]))
    raise ValueError(f"unknown tag in {sorted(obj)[:3]}")


# ---- the grader's side ----

def _grader_tensor(values, dtype, shape, device, requires_grad):
    """A tensor the grader can inspect: on the CPU (or meta), tagged with the kernel's device.

    The kernel's device is kept as ``tensor.kernel_device`` so a check can compare it with the
    input's device; the values are on the CPU, where the grader computes its references.
    """
    import torch

    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"unknown tensor dtype {dtype!r}")
    if values is None:
        t = torch.empty(shape, dtype=torch_dtype, device="meta")
    else:
        t = torch.as_tensor(np.array(values, copy=True)).to(torch_dtype).reshape(shape)
    if requires_grad and t.is_floating_point():
        t.requires_grad_(True)
    t.kernel_device = device
    return t


_grader_tensor.unsupported = Unsupported


def encode(obj) -> str:
    """JSON text for ``obj`` (what the grader sends to the kernel)."""
    return json.dumps(_encode(obj))


def decode(text: str, envelope: bool = False):
    """Parse what the kernel sent, strictly; raise :class:`ProbeError` when it is malformed.

    ``envelope``: ``text`` is an answer ``{"value": ..., "mutated": [...]}`` or
    ``{"error": ..., "message": ..., "where": ...}`` whose ``value`` is encoded data.
    """
    if not isinstance(text, str) or len(text) > MAX_BYTES:
        raise ProbeError("the kernel's answer is missing or larger than "
                         f"{MAX_BYTES // 2**20} MB")
    try:
        data = json.loads(text)
        if not envelope:
            return _decode(data, _grader_tensor)
        if not isinstance(data, dict):
            raise ValueError("an answer is a JSON object")
        answer = {k: str(data[k])[:4000] for k in ("error", "message", "where") if k in data}
        if "error" not in answer:
            answer["value"] = _decode(data.get("value"), _grader_tensor)
            answer["mutated"] = [str(m)[:100] for m in data.get("mutated", [])][:20]
        return answer
    except ProbeError:
        raise
    except Exception as err:  # noqa: BLE001 - any malformed answer is the same failure
        raise ProbeError(f"the kernel's answer could not be read ({type(err).__name__}: "
                         f"{str(err)[:200]})") from None


# ---- the kernel's side: sent as source after the student's notebook ran ----

def _kernel_tensor(values, dtype, shape, device, requires_grad):
    import torch

    torch_dtype = getattr(torch, dtype)
    if values is None or device == "meta":
        t = torch.empty(shape, dtype=torch_dtype, device="meta")
    else:
        t = torch.as_tensor(values).to(torch_dtype).reshape(shape)
        if device != "cpu":
            t = t.to(device)
    if requires_grad:
        t.requires_grad_(True)
    return t


class _KernelUnsupported:
    def __init__(self, name):
        self.name = name


_kernel_tensor.unsupported = _KernelUnsupported


def _tnn_call(name, payload, standins):
    """Call the student's ``name`` on the decoded ``payload``; display the answer."""
    import json as _json
    import sys as _sys
    import traceback as _tb

    import numpy as _np
    from IPython.display import display as _display

    g = _sys.modules["__main__"].__dict__
    args, kwargs = _decode(_json.loads(payload), _kernel_tensor)
    _skip = object()  # not compared

    def _snapshot(v, depth=0):
        """A copy of what the function could change in place (arrays, tensors, lists)."""
        torch = _sys.modules.get("torch")
        if depth > 20:
            return _skip
        if isinstance(v, _np.ndarray):
            return v.copy()
        if torch is not None and isinstance(v, torch.Tensor):
            return _skip if v.device.type == "meta" else v.detach().clone()
        if isinstance(v, (list, tuple)):
            return (type(v), [_snapshot(e, depth + 1) for e in v])
        if type(v) is dict:  # e.g. parameters by name: each value may be changed in place
            return (dict, {k: _snapshot(e, depth + 1) for k, e in v.items()})
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        return _skip  # e.g. a generator: meant to advance

    def _changed(before, after):
        try:
            return _differs(before, after)
        except Exception:  # noqa: BLE001 - an odd value: no claim either way
            return False

    def _differs(before, after):
        torch = _sys.modules.get("torch")
        if before is _skip:
            return False
        if isinstance(before, _np.ndarray):
            return (not isinstance(after, _np.ndarray) or before.shape != after.shape
                    or before.dtype != after.dtype
                    or not _np.array_equal(before, after, equal_nan=before.dtype.kind in "fc"))
        if torch is not None and isinstance(before, torch.Tensor):
            a = after.detach()
            return before.shape != a.shape or before.dtype != a.dtype or not torch.equal(
                torch.nan_to_num(before), torch.nan_to_num(a))
        if isinstance(before, tuple) and len(before) == 2 and before[0] is dict:
            items = before[1]
            return (type(after) is not dict or set(after) != set(items)
                    or any(_differs(b, after[k]) for k, b in items.items()))
        if isinstance(before, tuple) and len(before) == 2 and isinstance(before[0], type):
            kind, items = before
            return (type(after) is not kind or len(after) != len(items)
                    or any(_differs(b, a) for b, a in zip(items, after, strict=True)))
        if isinstance(before, float) and before != before:
            return not (isinstance(after, float) and after != after)
        return type(before) is not type(after) or before != after

    def _standin(dep):
        def call(*a, **k):
            reply = input(_json.dumps({"call": dep, "args": _encode((list(a), k))}))
            answer = _decode(_json.loads(reply), _kernel_tensor)
            if isinstance(answer, dict) and "__error__" in answer:
                raise RuntimeError(answer["__error__"])
            return answer
        call.__name__ = dep
        return call

    saved = {dep: g.get(dep) for dep in standins}
    result = {}
    try:
        for dep in standins:
            g[dep] = _standin(dep)
        fn = g.get(name)
        if fn is None:
            result = {"error": "NameError", "message": f"name '{name}' is not defined (did its "
                      "cell run without an error?)"}
        elif not callable(fn):
            result = {"error": "TypeError", "message": f"{name} is not a function"}
        else:
            names = [f"argument {i + 1}" for i in range(len(args))] + list(kwargs)
            values = list(args) + list(kwargs.values())
            before = [_snapshot(v) for v in values]
            try:
                out = fn(*args, **kwargs)
            except BaseException as err:  # noqa: BLE001 - reported to the grader as data
                frames = _tb.extract_tb(err.__traceback__)
                where = ""
                if len(frames) > 1 and frames[-1].line:
                    where = f"line {frames[-1].lineno}: `{frames[-1].line.strip()}`"
                result = {"error": type(err).__name__, "message": str(err)[:2000],
                          "where": where}
            else:
                result = {"value": _encode(out),
                          "mutated": [n for n, b, a in zip(names, before, values, strict=True)
                                      if _changed(b, a)]}
    finally:
        for dep, old in saved.items():
            if old is None:
                g.pop(dep, None)
            else:
                g[dep] = old
    _display({MIME: _json.dumps(result)}, raw=True)


def _tnn_vjp(name, payload, grads_payload, standins):
    """Backward through the student's ``name``: d(sum(out * grad_out)) / d(tensor inputs)."""
    import json as _json
    import sys as _sys

    import torch as _torch
    from IPython.display import display as _display

    g = _sys.modules["__main__"].__dict__
    args, kwargs = _decode(_json.loads(payload), _kernel_tensor)
    grad_out = _decode(_json.loads(grads_payload), _kernel_tensor)
    saved = {dep: g.get(dep) for dep in standins}
    try:
        inputs = [a for a in args if isinstance(a, _torch.Tensor) and a.requires_grad]
        out = g[name](*args, **kwargs)
        grads = _torch.autograd.grad(out, inputs, grad_out, allow_unused=True)
        result = {"value": _encode(tuple(grads))}
    except BaseException as err:  # noqa: BLE001 - reported to the grader as data
        result = {"error": type(err).__name__, "message": str(err)[:2000]}
    finally:
        for dep, old in saved.items():
            if old is not None:
                g[dep] = old
    _display({MIME: _json.dumps(result)}, raw=True)


def _tnn_fetch(name):
    """Display the value of the student's global ``name`` as data."""
    import json as _json
    import sys as _sys

    from IPython.display import display as _display

    g = _sys.modules["__main__"].__dict__
    if name in g:
        result = {"value": _encode(g[name])}
    else:
        result = {"error": "NameError", "message": f"name '{name}' is not defined"}
    _display({MIME: _json.dumps(result)}, raw=True)


KERNEL_CODE = "\n\n".join([
    f"MIME = {MIME!r}",
    inspect.getsource(_encode), inspect.getsource(_decode), inspect.getsource(_kernel_tensor),
    inspect.getsource(_KernelUnsupported), "_kernel_tensor.unsupported = _KernelUnsupported",
    inspect.getsource(_tnn_call), inspect.getsource(_tnn_vjp), inspect.getsource(_tnn_fetch),
])


def kernel_setup_code() -> str:
    """Code that defines ``__tnn_probe__`` in the kernel (a fresh namespace each time)."""
    return ("def __tnn_install():\n"
            "    ns = {}\n"
            f"    exec({KERNEL_CODE!r}, ns)\n"
            "    return ns\n"
            "__tnn_probe__ = __tnn_install()\n"
            "del __tnn_install\n")


def call_code(name: str, args: list, kwargs: dict, standins: list[str]) -> str:
    return (f"__tnn_probe__['_tnn_call']({name!r}, {encode((list(args), kwargs))!r}, "
            f"{list(standins)!r})")


def vjp_code(name: str, args: list, kwargs: dict, grad_out) -> str:
    return (f"__tnn_probe__['_tnn_vjp']({name!r}, {encode((list(args), kwargs))!r}, "
            f"{encode(grad_out)!r}, [])")


def fetch_code(name: str) -> str:
    return f"__tnn_probe__['_tnn_fetch']({name!r})"


__all__ = ["MIME", "MAX_BYTES", "ProbeError", "Unsupported", "encode", "decode",
           "kernel_setup_code", "call_code", "vjp_code", "fetch_code"]
