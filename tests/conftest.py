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
