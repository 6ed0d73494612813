"""nbgrader round trips for every assignment, and the freshness of exercises/.

For each assignment in solutions/, one grading run of three hand-ins built from the released
notebook: the solution filled in (full marks on every autograded cell), the blank release
(zero, and the run still finishes), a submission with exactly one function wrong
(tests/one_bug/<assignment>.py), which must lose exactly that function's points, and, where
that file defines one, a correct answer that writes warnings to stderr (full marks).
"""

import importlib.util
import json
import shutil

import nbformat
import pytest

from autograde import corpus
from autograde.course import REPO_ROOT, assignment_ids, generate_assignments
from autograde.run import grade

ASSIGNMENTS = assignment_ids(REPO_ROOT)


def test_every_assignment_is_released_and_has_a_one_bug_submission():
    assert ASSIGNMENTS, "no assignment found in solutions/"
    for aid in ASSIGNMENTS:
        assert (REPO_ROOT / "exercises" / aid / f"{aid}.ipynb").is_file(), (
            f"exercises/{aid} is missing: run `make assignments`")
        assert (REPO_ROOT / "tests" / "one_bug" / f"{aid}.py").is_file()


def load_bug(aid):
    spec = importlib.util.spec_from_file_location(f"bug_{aid}", REPO_ROOT / "tests" / "one_bug" / f"{aid}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def use_thread_pools():
    """Run a convolution on two intra-op threads in this process, as a test session or a
    notebook has before it grades: workers forked from such a process used to hang in their
    first parallel operation (autograde/pool.py starts them from a fork server)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.nn.functional.conv2d(torch.randn(4, 3, 32, 32), torch.randn(8, 3, 3, 3)).sum()
    finally:
        torch.set_num_threads(threads)


def grade_ids(nb, **flags):
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and all(meta.get(k) == v for k, v in flags.items()):
            out[meta["grade_id"]] = float(meta["points"])
    return out


@pytest.mark.slow
@pytest.mark.xdist_group("grading")
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_grading_round_trip(aid, tmp_path):
    shutil.copytree(REPO_ROOT / "solutions" / aid, tmp_path / "solutions" / aid)
    solution = nbformat.read(REPO_ROOT / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    release = nbformat.read(REPO_ROOT / "exercises" / aid / f"{aid}.ipynb", as_version=4)
    bug = load_bug(aid)
    hand_ins = {
        "solution": corpus.filled_in(aid),
        "blank": release,
        "one-bug": corpus.filled_in(aid, replace={bug.CELL: bug.SOURCE.strip("\n")}),
    }
    if hasattr(bug, "NOISY_CELL"):  # a correct answer that writes warnings to stderr
        hand_ins["noisy"] = corpus.filled_in(aid, replace={bug.NOISY_CELL: bug.NOISY_SOURCE.strip("\n")})
    for student, nb in hand_ins.items():
        folder = tmp_path / "autograde" / "submitted" / student / aid
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{aid}.ipynb")

    use_thread_pools()
    results = {r.student: r for r in grade(tmp_path, progress=False)}

    auto = grade_ids(solution, solution=False)  # autograded test cells and their points
    manual = grade_ids(solution, solution=True)
    assert auto and set(results) == set(hand_ins)
    for r in results.values():
        assert r.ok, r.error
        assert r.max_score == sum(auto.values()) + sum(manual.values())

    full = results["solution"].cells
    assert {k: full[k][0] for k in auto} == auto, "the solution must get full marks"
    if "noisy" in results:
        noisy = results["noisy"].cells
        assert {k: noisy[k][0] for k in auto} == auto, "warnings on stderr cost points"

    blank = results["blank"]
    assert blank.score == 0 and all(blank.cells[k][0] == 0 for k in auto)

    buggy = results["one-bug"].cells
    lost = {k for k in auto if buggy[k][0] != auto[k]}
    assert lost == bug.LOSES, f"expected to lose exactly {bug.LOSES}, lost {lost}"
    assert all(buggy[k][0] == 0 for k in bug.LOSES)

    # the written answers wait for the instructor in formgrader (nbgrader's own API is what
    # its manual-grading pages call), and a manual score counts in the total
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{tmp_path / 'autograde' / 'gradebook.db'}") as gb:
        sub = gb.find_submission(aid, "solution")
        nb_sub = sub.notebooks[0]
        waiting = {g.name for g in nb_sub.grades if g.needs_manual_grade}
        assert waiting == set(manual) and nb_sub.needs_manual_grade
        before = sub.score
        for g in nb_sub.grades:
            if g.name in manual:
                g.manual_score = manual[g.name]
        gb.db.commit()
        assert sub.score == before + sum(manual.values()) == sub.max_score

    # feedback HTML for every student, and grades.csv with one row per hand-in
    for student in hand_ins:
        assert list((tmp_path / "autograde" / "feedback" / student / aid).glob("*.html"))
    rows = (tmp_path / "autograde" / "grades.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + len(hand_ins)


def _released_files(folder):
    """The files of a released exercise, without what an editor leaves beside them (JupyterLab's
    .ipynb_checkpoints when a notebook is opened, Python's caches; both git-ignored)."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()
                  and not {".ipynb_checkpoints", "__pycache__"} & set(p.relative_to(folder).parts))


@pytest.mark.slow
@pytest.mark.xdist_group("grading")
def test_committed_exercises_are_fresh(tmp_path):
    """Regenerating exercises/ from solutions/ must reproduce the committed files exactly."""
    shutil.copytree(REPO_ROOT / "solutions", tmp_path / "solutions")
    generate_assignments(tmp_path)
    for aid in ASSIGNMENTS:
        fresh_dir, committed_dir = tmp_path / "exercises" / aid, REPO_ROOT / "exercises" / aid
        fresh, committed = _released_files(fresh_dir), _released_files(committed_dir)
        assert fresh == committed, f"exercises/{aid} is stale: run `make assignments`"
        for rel in fresh:
            a = (fresh_dir / rel).read_bytes()
            b = (committed_dir / rel).read_bytes()
            if rel.suffix == ".ipynb":
                a, b = json.loads(a), json.loads(b)
            assert a == b, f"exercises/{aid}/{rel} is stale: run `make assignments`"


def test_release_holds_no_solutions_or_hidden_tests():
    for aid in ASSIGNMENTS:
        text = (REPO_ROOT / "exercises" / aid / f"{aid}.ipynb").read_text()
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"exercises/{aid} leaks {marker!r}"
        assert "raise NotImplementedError()" in text
