"""The set-up a newcomer relies on: dependencies in step, CI wiring, clean notebooks."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ


def _pyproject_deps():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]
    out = {}
    for dep in deps:
        name, spec = re.match(r"([A-Za-z0-9_.-]+)\s*(.*)", dep).groups()
        out[CONDA_NAMES.get(name.lower(), name.lower())] = spec.replace(" ", "")
    return out


def _conda_deps():
    out = {}
    in_deps = False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"\s+-\s+([A-Za-z0-9_.-]+)\s*(.*)", line)
        if in_deps and m:
            out[m.group(1).lower()] = m.group(2).replace(" ", "")
    return out


def test_environment_yml_and_pyproject_list_the_same_packages():
    pip, conda = _pyproject_deps(), _conda_deps()
    conda.pop("pip", None)
    assert conda.pop("python") == ">=3.11"
    assert pip == conda, (
        f"pyproject.toml and environment.yml drifted: only in pyproject "
        f"{sorted(set(pip) - set(conda))}, only in environment.yml {sorted(set(conda) - set(pip))}, "
        f"different versions {sorted(k for k in set(pip) & set(conda) if pip[k] != conda[k])}")


def test_design_card_packages_are_dependencies():
    deps = _pyproject_deps()
    for name in ["jupyterlab", "numpy", "pytorch", "matplotlib", "ipywidgets", "nbgrader", "pytest"]:
        assert name in deps


def test_make_lab_leaves_the_matplotlib_backend_to_the_kernel():
    """An exported MPLBACKEND reaches every kernel JupyterLab starts and turns inline figures
    off; only the test run may choose a headless backend."""
    out = subprocess.run(["make", "-pn", "lab"], cwd=ROOT, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "MPLBACKEND"})
    exported = [line for line in out.stdout.splitlines() if line.startswith("MPLBACKEND")]
    assert not exported, exported


def test_ci_runs_make_test_and_readme_shows_the_two_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make lab" in first_block and "make test" in first_block


def _tracked_notebooks():
    out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True)
    files = [ROOT / f for f in out.stdout.split()]
    return files or sorted(ROOT.glob("*/**/*.ipynb"))


def test_committed_notebooks_hold_no_outputs_and_use_the_course_kernel():
    notebooks = [p for p in _tracked_notebooks() if ".venv" not in p.parts]
    assert notebooks
    for path in notebooks:
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "training-nn", path
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, (
                    f"{path.relative_to(ROOT)} has outputs: clear them before committing")


def test_topic_numbers_line_up():
    """tnn/topics.py <-> lectures/NN_topic.ipynb <-> solutions/NN_topic/ <-> tnn/topic.py (or
    the package tnn/topic/) <-> tests/test_topic.py, and nothing on disk outside the list."""
    from autograde.course import assignment_ids
    from tnn.topics import TOPICS

    stems = [t.stem for t in TOPICS]
    assert stems == sorted(stems) and len(set(stems)) == len(stems), stems
    lectures = [p.stem for p in sorted((ROOT / "lectures").glob("[0-9][0-9]_*.ipynb"))]
    assert lectures == stems, "lectures/ and tnn/topics.py list different topics"
    assert assignment_ids(ROOT) == stems, "solutions/ and tnn/topics.py list different topics"
    for t in TOPICS:
        assert ((ROOT / "tnn" / f"{t.name}.py").is_file()
                or (ROOT / "tnn" / t.name / "__init__.py").is_file()), t.name
        assert (ROOT / "tests" / f"test_{t.name}.py").is_file(), t.name
        assert (ROOT / "solutions" / t.stem / f"{t.stem}.ipynb").is_file(), t.name


def test_course_maps_follow_the_topic_list():
    """README, site, handout README and benchmark list are rendered from tnn/topics.py."""
    from autograde import coursemap

    assert coursemap.stale(ROOT) == [], (
        "a course map is stale: run `make assignments` (or python -m autograde.coursemap)")


@pytest.mark.slow
def test_make_lab_serves_the_course_with_its_kernel():
    """`make lab` starts JupyterLab on the course root with the training-nn kernel and the
    nbgrader formgrader available."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "course-test"
    args = f"--no-browser --port {port} --ServerApp.token={token} --ServerApp.ip=127.0.0.1"
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def get(path):
        with urllib.request.urlopen(f"{base}{path}?token={token}", timeout=30) as response:
            return response.status, response.read()

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body = get("/api/kernelspecs")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stdout.read().decode()[-3000:]) from None
                time.sleep(0.5)
        # the Launcher offers the course kernel alone (no second "Python 3")
        assert set(json.loads(body)["kernelspecs"]) == {"training-nn"}
        status, body = get("/api/contents")
        assert not [item["name"] for item in json.loads(body)["content"]
                    if item["name"].endswith(".egg-info")], "build metadata in the file browser"
        # nbgrader's menus need the exchange folder; its absence is an error banner
        assert (ROOT / "autograde" / "exchange").is_dir()
        status, body = get("/api/contents/lectures")
        names = [item["name"] for item in json.loads(body)["content"]]
        assert "01_activations.ipynb" in names
        assert get("/formgrader")[0] == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_no_topic_is_named_in_the_makefiles():
    """A new topic adds files, not Makefile lines: the lab opens on the first lecture found."""
    import re

    for path in [ROOT / "Makefile", ROOT / "autograde" / "handout" / "Makefile"]:
        named = re.findall(r"\b\d\d_[a-z]+\b", path.read_text())
        assert not named, f"{path.relative_to(ROOT)} names topics: {named}"
