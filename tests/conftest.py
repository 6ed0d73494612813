"""Shared fixtures: the devices to test the torch twins on, float64 comparisons, and the
rule for tests that need something outside Python (the sandbox, a browser).

Such a test calls :func:`require`: where the facility is missing it is skipped with the reason
and the fix, and the end of the run repeats them in a box a reader cannot miss; with
``CI=true`` it fails instead, so CI always exercises the sandbox and the browser.
"""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MPLBACKEND", "Agg")

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


NOT_TESTED = "NOT TESTED: "


def require(available: bool, what: str, reason: str, fix: str) -> None:
    """Skip (or, under CI=true, fail) the calling test when ``available`` is false."""
    if available:
        return
    message = f"{NOT_TESTED}{what}: {reason}. Fix: {fix}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must run this test)", pytrace=False)
    pytest.skip(message)


def pytest_terminal_summary(terminalreporter):
    """Repeat, after everything else, which system-dependent tests did not run and why."""
    seen = []
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(NOT_TESTED) and reason not in seen:
            seen.append(reason)
    if seen:
        bar = "!" * 78
        terminalreporter.write_line(bar, red=True, bold=True)
        for reason in seen:
            terminalreporter.write_line("!! " + reason, red=True, bold=True)
        terminalreporter.write_line(bar, red=True, bold=True)


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """Each torch-path test runs on the CPU and, when one is present, on a CUDA GPU."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    if request.param == "cuda":
        from tnn.device import exact_float_math

        exact_float_math()
    return torch.device(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def to_numpy(t):
    return t.detach().cpu().numpy()


# ------------------------------------------------------------------------------------------
# the shared harness: a topic's tests are mostly rows of cases fed to these two
# ------------------------------------------------------------------------------------------
def _to_torch(value, device, dtype=torch.float64):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return torch.as_tensor(value, dtype=dtype, device=device)
    if isinstance(value, list | tuple) and value and all(
            isinstance(v, np.ndarray) for v in value):
        return type(value)(_to_torch(v, device, dtype) for v in value)
    return value


def _flatten(value, where="result"):
    """``[(where, ndarray)]`` of a result: an array, a tensor, a number, or a tuple / list /
    dict / dataclass of those."""
    if isinstance(value, torch.Tensor):
        return [(where, value)]
    if isinstance(value, dict):
        return [x for k in sorted(value) for x in _flatten(value[k], f"{where}[{k!r}]")]
    if hasattr(value, "__dataclass_fields__"):
        return [x for k in value.__dataclass_fields__
                for x in _flatten(getattr(value, k), f"{where}.{k}")]
    if isinstance(value, list | tuple) and not (value and np.isscalar(value[0])):
        return [x for i, v in enumerate(value) for x in _flatten(v, f"{where}[{i}]")]
    return [(where, value)]


def assert_twins_agree(numpy_fn, torch_fn, cases, device, *, rtol=1e-9, atol=1e-12):
    """The NumPy reference and its torch twin give the same result on every case.

    ``cases`` are keyword-argument dicts with NumPy inputs; the twin gets each float array as
    a float64 tensor on ``device`` (other values unchanged). Every tensor it returns must be on
    ``device``; results are compared entry by entry (arrays, tuples, dicts, dataclasses).
    """
    for i, case in enumerate(cases):
        expected = numpy_fn(**case)
        got = torch_fn(**{k: _to_torch(v, device) for k, v in case.items()})
        flat_expected, flat_got = _flatten(expected), _flatten(got)
        assert [w for w, _ in flat_expected] == [w for w, _ in flat_got], (
            f"case {i}: the twins return differently shaped results")
        for (where, e), (_, g) in zip(flat_expected, flat_got, strict=True):
            if isinstance(g, torch.Tensor):
                assert g.device.type == torch.device(device).type, (
                    f"case {i}: {where} is on {g.device}, expected {device}")
                g = to_numpy(g)
            np.testing.assert_allclose(np.asarray(g, dtype=np.float64),
                                       np.asarray(e, dtype=np.float64), rtol=rtol, atol=atol,
                                       err_msg=f"case {i}: {where}")


def assert_backward_matches_numerical(forward, backward, x, dout, *, tolerance=1e-7, h=1e-5):
    """A hand-written backward pass equals the centred-difference gradient of
    ``sum(dout * forward(x))`` with respect to ``x`` (CS231n's eval_numerical_gradient_array,
    here tnn.gradcheck, the checker students use)."""
    from tnn.gradcheck import check_gradient, numerical_gradient_array

    numeric = numerical_gradient_array(forward, np.array(x, dtype=np.float64), dout, h=h)
    return check_gradient(backward(np.array(x, dtype=np.float64), dout), numeric,
                          tolerance=tolerance)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Keep ``xdist_group`` tests on one worker under ``--dist loadgroup`` (``make test``).

    pytest-xdist tags the node id of each grouped test with ``@group`` on the workers, and its
    scheduler sends tests with the same tag to one worker. pytest 9 stores a node id in a
    structured attribute, so xdist's tag (3.8 writes the old ``_nodeid``) is lost, the groups
    scatter, and a worker that needs a group's shared result (the hostile batch) waits for
    the other one to build it. Where the tag is missing, add it here."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid and hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")
