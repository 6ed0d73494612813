"""`make student-bundle`: lectures, exercises, library and environment files; nothing secret."""

import tarfile

import nbformat

from autograde.bundle import build, secret_lines
from autograde.course import REPO_ROOT


def test_student_bundle_holds_the_course_and_leaks_nothing(tmp_path):
    out = build(tmp_path / "student.tar.gz")
    with tarfile.open(out) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    names = {n.split("/", 1)[1] for n in members}
    # what students need
    for required in ("README.md", "pyproject.toml", "environment.yml", "tnn/__init__.py",
                     "tnn/grading.py", "lectures/01_activations.ipynb",
                     "exercises/01_activations/01_activations.ipynb"):
        assert required in names, f"{required} missing from the bundle"
    for aid in (p.name for p in (REPO_ROOT / "exercises").iterdir() if p.is_dir()):
        assert any(n.startswith(f"exercises/{aid}/") for n in names)
    # nothing from solutions/, tests/, the grading state or git
    for name in names:
        top = name.split("/")[0]
        assert top not in {"solutions", "tests", "autograde", "benchmarks", ".git", "dist"}, name
        assert not name.endswith((".db", ".pyc")) and "__pycache__" not in name, name
    # no marker, no line of a solution block or of a hidden test
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
