"""`make student-bundle`: what students get, in two editions, and nothing secret.

The classroom handout (the default) is unpacked and proved: no function in it (library,
lectures, exercises) has the body of a reference the assignments grade; its library's graded
functions delegate to the field's libraries or raise; its own `make lab` serves the course
and its `make check` runs and reports blank exercises as unfinished; its visible tests pass for the solution and fail for the
one-bug hand-ins with no reference in reach; every lecture runs from it and prints the numbers
the same lecture prints from the repository.

The handout's `make lab`, `make check` and every lecture run in the environment the handout's own
`make env` creates in the unpacked folder (about a minute where pip's cache already holds the
packages, as after the repository's own `make env`), with no PYTHONPATH: what a student who
unpacks the archive gets. The checks of individual hand-ins (`_check`) run on the repository's
interpreter with the bundle's tnn/ first on PYTHONPATH.
"""

import ast
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from _lab import get_json, running_lab

from autograde import corpus
from autograde.bundle import EDITIONS, OUT_NAMES, build, secret_lines
from autograde.course import REPO_ROOT, assignment_ids
from autograde.graded import all_graded_names

# One worker builds the bundles and the handout's environment once for every test here.
pytestmark = pytest.mark.xdist_group("handout")

ASSIGNMENTS = assignment_ids()
LECTURES = sorted(p.name for p in (REPO_ROOT / "lectures").glob("*.ipynb"))
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """``{edition: (archive, unpacked course folder)}``."""
    out = {}
    for edition in EDITIONS:
        base = tmp_path_factory.mktemp(edition)
        archive = build(base / OUT_NAMES[edition], edition=edition)
        with tarfile.open(archive) as tar:
            tar.extractall(base / "unpacked", filter="data")
        out[edition] = (archive, base / "unpacked" / "training-nn")
    return out


@pytest.fixture(scope="module")
def handout(bundles):
    return bundles["classroom"][1]


def _without_repo_env() -> dict:
    """This process's environment without the repository's virtual environment."""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != VENV_BIN]
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "MPLBACKEND", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PATH=os.pathsep.join(path), PYTHONNOUSERSITE="1")
    return env


@pytest.fixture(scope="module")
def handout_venv(handout, tmp_path_factory):
    """The environment the handout's own `make env` creates, returned as its bin/ folder (made
    outside the unpacked folder, ``make env VENV=...``, so the other tests still see the handout
    as it was unpacked)."""
    venv = tmp_path_factory.mktemp("handout-env") / ".venv"
    result = subprocess.run(["make", "env", f"VENV={venv}"], cwd=handout, env=_without_repo_env(),
                            capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    notices = [ln for ln in result.stderr.splitlines() if "Warning" in ln]
    assert not notices, notices  # a clean set-up: no setuptools notices
    return venv / "bin"


def student_env(venv_bin: Path, **extra) -> dict:
    """A process of a student who runs the handout's commands (its own environment first)."""
    env = _without_repo_env()
    env.update(PATH=f"{venv_bin}{os.pathsep}{env['PATH']}", MPLBACKEND="Agg", **extra)
    return env


def bundle_env(course: Path, **extra) -> dict:
    """The environment of a process that must see the bundle's library, not the repository's."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "MPLBACKEND", "VIRTUAL_ENV")}
    env.update(PYTHONPATH=str(course), PYTHONNOUSERSITE="1", MPLBACKEND="Agg",
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra)
    return env


# ------------------------------------------------------------------------------------------
# contents and leaks
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("edition", EDITIONS)
def test_bundle_holds_the_course_and_leaks_nothing(bundles, edition):
    archive, _ = bundles[edition]
    assert archive.name == OUT_NAMES[edition]
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    names = {n.split("/", 1)[1] for n in members}
    for required in ("README.md", "Makefile", "pyproject.toml", "environment.yml",
                     "tnn/__init__.py", "tnn/grading.py", "tnn/check.py",
                     "lectures/01_activations.ipynb"):
        assert required in names, f"{required} missing from the bundle"
    for aid in ASSIGNMENTS:
        assert f"exercises/{aid}/{aid}.ipynb" in names
        assert f"exercises/{aid}/expected.json" in names
    for name in names:
        top = name.split("/")[0]
        assert top not in {"solutions", "tests", "autograde", "benchmarks", ".git", "dist"}, name
        assert not name.endswith((".db", ".pyc")) and "__pycache__" not in name, name
    secret = secret_lines()
    assert secret, "expected solution lines to look for"
    hidden_call = "elementwise_cases(101)"  # a line of assignment 01's hidden tests
    assert any(hidden_call in s for s in secret)
    for name, data in members.items():
        text = data.decode("utf-8", errors="replace")
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{name} contains {marker!r}"
        assert hidden_call not in text, f"{name} contains a hidden test"
        if name.endswith(".ipynb"):
            lines = {ln.strip() for c in nbformat.reads(text, as_version=4).cells
                     for ln in c.source.splitlines()}
        else:
            lines = {ln.strip() for ln in text.splitlines()}
        assert not lines & secret, f"{name} leaks solution lines {sorted(lines & secret)[:3]}"


def test_handout_speaks_to_students(bundles):
    for edition in EDITIONS:
        course = bundles[edition][1]
        readme = (course / "README.md").read_text()
        assert "make lab" in readme and "make check" in readme and "Handing in" in readme
        for instructor_only in ("make test", "make grade", "make assignments",
                                "make student-bundle", "tests/", "autograde/", "solutions/"):
            assert instructor_only not in readme, (edition, instructor_only)
        targets = set(re.findall(r"^([a-z][\w-]*):", (course / "Makefile").read_text(), re.M))
        assert targets == {"help", "env", "lab", "check"}, targets
    assert "classroom handout" in (bundles["classroom"][1] / "README.md").read_text()
    assert "self-study edition" in (bundles["self-study"][1] / "README.md").read_text()


# ------------------------------------------------------------------------------------------
# no reference body anywhere in the handout
# ------------------------------------------------------------------------------------------
def _body(node) -> str:
    """A function's body with its docstring removed, as an AST dump (names kept)."""
    body = list(node.body)
    if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        body = body[1:]
    return ast.dump(ast.Module(body=body, type_ignores=[]), include_attributes=False)


def _functions(tree) -> list:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _parse_cell(source: str):
    lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def reference_bodies() -> dict[str, str]:
    """``{body dump: "module.function"}`` of every graded function of the course library."""
    names = all_graded_names()
    out = {}
    for path in (REPO_ROOT / "tnn").rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                out[_body(node)] = f"{path.relative_to(REPO_ROOT)}:{node.name}"
    return out


def bundle_functions(course: Path) -> list[tuple[str, str]]:
    """``(where, body dump)`` of every function in the bundle's code."""
    found = []
    for path in course.rglob("*.py"):
        for fn in _functions(ast.parse(path.read_text())):
            found.append((f"{path.relative_to(course)}:{fn.name}", _body(fn)))
    for path in list(course.glob("lectures/*.ipynb")) + list(course.glob("exercises/*/*.ipynb")):
        for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
            tree = _parse_cell(cell.source) if cell.cell_type == "code" else None
            for fn in _functions(tree) if tree else []:
                found.append((f"{path.relative_to(course)}[{i}]:{fn.name}", _body(fn)))
    return found


def test_no_function_in_the_handout_has_a_reference_body(bundles, handout):
    references = reference_bodies()
    assert len(references) >= 25, "expected the graded functions' bodies to compare with"
    same = [(where, references[body]) for where, body in bundle_functions(handout)
            if body in references]
    assert not same, f"the handout holds reference bodies: {same[:10]}"
    # the comparison does find them where they are: the self-study edition has them all
    study = {body for _, body in bundle_functions(bundles["self-study"][1])}
    assert set(references) <= study


def test_handout_library_delegates_or_raises(handout):
    names = all_graded_names()
    in_library = {}
    for path in (handout / "tnn").rglob("*.py"):
        source = path.read_text()
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                in_library[node.name] = ast.get_source_segment(source, node)
    assert len(in_library) >= 25
    for name, source in in_library.items():
        assert ("In the handout this delegates to" in source
                or "ReferenceUnavailable" in source), name
    # the handout's functions compute what the references compute (same draws for rng inits)
    script = REPO_ROOT / "tests" / "_handout_probe.py"
    out = handout / "probe.npz"
    result = subprocess.run([sys.executable, str(script), str(out)], cwd=handout,
                            env=bundle_env(handout), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().startswith(str(handout / "tnn")), result.stdout
    got = dict(np.load(out))
    sys.path.insert(0, str(script.parent))
    try:
        import _handout_probe
    finally:
        sys.path.remove(str(script.parent))
    expected = _handout_probe.probe()
    assert set(got) == set(expected)
    for key, value in expected.items():  # float32: the checks' own float32 tolerance
        rtol, atol = (1e-5, 1e-6) if "32" in key else (1e-9, 1e-12)
        np.testing.assert_allclose(got[key], value, rtol=rtol, atol=atol, err_msg=key)


# ------------------------------------------------------------------------------------------
# the handout's own commands and the exercises' visible tests
# ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_handout_make_check_reports_blank_exercises_as_unfinished(handout, handout_venv):
    result = subprocess.run(["make", "check", f"VENV={handout_venv.parent}"], cwd=handout,
                            env=student_env(handout_venv),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    for aid in ASSIGNMENTS:
        assert any(f"exercises/{aid}/{aid}.ipynb" in ln for ln in lines), aid
    statuses = [ln.split()[0] for ln in lines if ln.startswith("  ")]
    assert statuses and set(statuses) <= {"unfinished", "hidden"}, lines
    assert statuses.count("unfinished") >= 30
    assert "no failures" in result.stdout


@pytest.mark.slow
def test_handout_make_lab_serves_the_course(handout, handout_venv, tmp_path):
    """The handout README's first command: `make lab` starts JupyterLab on the handout, which
    lists its lectures and exercises and offers the course kernel."""
    with running_lab(handout, tmp_path, student_env(handout_venv),
                     (f"VENV={handout_venv.parent}",)) as base:
        names = {item["name"] for item in get_json(base, "/api/contents/lectures")["content"]}
        assert set(LECTURES) <= names, names
        exercises = {item["name"] for item in get_json(base, "/api/contents/exercises")["content"]}
        assert exercises >= set(ASSIGNMENTS)
        assert "training-nn" in get_json(base, "/api/kernelspecs")["kernelspecs"]


def _check(course: Path, notebooks: dict[str, nbformat.NotebookNode]) -> dict[str, dict]:
    """Run the bundle's checker on ``notebooks`` (written into their exercise folders)."""
    paths = []
    for label, nb in notebooks.items():
        aid = label.split(":")[0]
        path = course / "exercises" / aid / f"{label.replace(':', '_')}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    result = subprocess.run([sys.executable, "-m", "tnn.check", *map(str, paths)], cwd=course,
                            env=bundle_env(course, TNN_EXPECTED_STRICT="1"),
                            capture_output=True, text=True, timeout=900)
    report, current = {}, None
    for line in result.stdout.splitlines():
        if line.startswith("== "):
            current = Path(line[3:]).stem
            report[current] = {}
        elif line.startswith("  ") and current:
            status, rest = line.split(None, 1)
            grade_id, _, message = rest.partition(": ")
            report[current][grade_id] = (status, message)
    return report


def _one_bug(aid):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bug_{aid}",
                                                  REPO_ROOT / "tests" / "one_bug" / f"{aid}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CALLS_THE_LIBRARY = '''
from tnn import activations as _library


def sigmoid(x):
    """Logistic sigmoid, elementwise."""
    return _library.sigmoid(x)
'''


CALLS_ANOTHER_NAME = '''
from tnn.activations import saturated_fraction


def tanh_saturated_fraction(z, rel_threshold=0.1):
    """Share of entries where tanh passes almost no gradient."""
    return saturated_fraction(z, "tanh", rel_threshold)


def dead_unit_fraction(z):
    """Share of units that are never active."""
    return float(np.mean(np.all(np.asarray(z) <= 0, axis=0)))
'''


@pytest.mark.slow
def test_visible_tests_need_no_reference(handout):
    """Solution: every visible test passes, each check finding its expected value in
    expected.json (TNN_EXPECTED_STRICT makes a case missing from it an error). One-bug hand-in:
    the broken function's visible tests fail (and those of functions that call it: at home no
    reference stands in for it), each with a check's message, not a missing value. An answer
    that calls the library's own version is told so."""
    notebooks = {}
    for aid in ASSIGNMENTS:
        notebooks[f"{aid}:solution"] = corpus.filled_in(aid)
        bug = _one_bug(aid)
        notebooks[f"{aid}:bug"] = corpus.filled_in(aid, replace={bug.CELL: bug.SOURCE.strip()})
    notebooks["01_activations:library"] = corpus.filled_in(
        "01_activations", replace={"sigmoid": CALLS_THE_LIBRARY.strip()})
    notebooks["01_activations:other"] = corpus.filled_in(
        "01_activations", replace={"measures": CALLS_ANOTHER_NAME.strip()})
    report = _check(handout, notebooks)
    for aid in ASSIGNMENTS:
        solution = report[f"{aid}_solution"]
        failed = {g: m for g, (s, m) in solution.items() if s not in ("passed", "hidden")}
        assert solution and not failed, (aid, failed)
        bug = _one_bug(aid)
        failed = {g: m for g, (s, m) in report[f"{aid}_bug"].items() if s == "failed"}
        visible_losses = {g for g in bug.LOSES if report[f"{aid}_bug"][g][0] != "hidden"}
        assert visible_losses and visible_losses <= set(failed), (aid, failed, bug.LOSES)
        assert not [m for m in failed.values() if "LookupError" in m], (aid, failed)
    library = report["01_activations_library"]
    status, message = library["test_sigmoid"]
    assert status == "failed" and "calls the course library's sigmoid" in message, library
    assert "not in the library your work is graded with" in message
    # an answer under another name (not graded itself, but absent when graded) is told too
    status, message = report["01_activations_other"]["test_saturated_fraction"]
    assert status == "failed" and "calls the course library's saturated_fraction" in message


# ------------------------------------------------------------------------------------------
# the lectures run from the handout and print the same numbers
# ------------------------------------------------------------------------------------------
RUN_LECTURE = REPO_ROOT / "tests" / "_run_lecture.py"
# printed lines that measure time or compare our code with torch's (in the handout, ours is
# torch's, so the gap is 0)
VARIABLE = re.compile(r"\d\s*(s|ms|µs)\b|\d(\.\d+)?x\b|seconds|device|ours - torch|"
                      r"torch - NumPy|backward vs autograd|thread|"
                      r"(it/s|s/it)\]")  # a progress bar's rate and elapsed time
NUMBER = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")


TIMING = ("median_seconds", "perf_counter", "timeit", "time.time", "benchmark.Timer")


def _printed(path: Path, out: Path, python: Path, env: dict) -> list[tuple[int, str]]:
    """Lines the notebook prints, except those of cells that time something."""
    cells = nbformat.read(path, as_version=4).cells
    result = subprocess.run([str(python), str(RUN_LECTURE), str(path), str(out)],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [(i, text) for i, text in json.loads(out.read_text())
            if text.startswith("ERROR ") or not any(t in cells[i].source for t in TIMING)]


def _same_numbers(a: str, b: str) -> bool:
    if NUMBER.sub("#", a) != NUMBER.sub("#", b):
        return False
    x = [float(m.group()) for m in NUMBER.finditer(a)]
    y = [float(m.group()) for m in NUMBER.finditer(b)]
    return np.allclose(x, y, rtol=1e-6, atol=1e-12)


def _lines(printed: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """``(cell, line)`` of what each cell printed (a cell's stdout may arrive in chunks that
    split a line anywhere), without the lines that vary from run to run."""
    cells: dict[int, str] = {}
    for i, text in printed:
        cells[i] = cells.get(i, "") + text
    return [(i, ln) for i, text in cells.items() for ln in text.splitlines()
            if not VARIABLE.search(ln)]


@pytest.mark.slow
@pytest.mark.parametrize("lecture", LECTURES)
def test_lecture_runs_from_the_handout_with_the_same_numbers(handout, handout_venv, lecture,
                                                            tmp_path):
    """The lecture, run in the handout's own environment, prints what it prints in the
    repository's."""
    printed = _printed(handout / "lectures" / lecture, tmp_path / "handout.json",
                       handout_venv / "python", student_env(handout_venv))
    errors = [text for _, text in printed if text.startswith("ERROR ")]
    assert not errors, errors
    reference = _printed(REPO_ROOT / "lectures" / lecture, tmp_path / "repo.json",
                         Path(sys.executable), bundle_env(REPO_ROOT))
    ours, theirs = _lines(printed), _lines(reference)
    assert len(ours) == len(theirs) and len(ours) >= 10, (len(ours), len(theirs))
    different = [(a, b) for a, b in zip(ours, theirs, strict=True)
                 if a[0] != b[0] or not _same_numbers(a[1], b[1])]
    assert not different, different[:5]
