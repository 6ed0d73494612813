"""The course's nbgrader driver: generate student versions and grade hand-ins.

nbgrader does the work (``NbGraderAPI.generate_assignment``, ``.autograde``,
``.generate_feedback`` and its CSV export plugin); this module only points it at the course's
folders, loops over what it finds, and reports.

``root`` is the course directory (the repository root). Tests pass a temporary copy.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO_ROOT / "autograde" / "nbgrader_config.py"


def _ensure_tools_on_path() -> None:
    """nbgrader runs ``alembic`` as a command: put this interpreter's bin/ first on PATH."""
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def course_config(root: Path | str = REPO_ROOT, **overrides) -> Config:
    """The course's nbgrader ``Config`` with its folders under ``root``.

    ``overrides`` set traits by dotted name, e.g. ``{"Execute.timeout": 10}``.
    """
    root = Path(root).resolve()
    (root / "autograde").mkdir(parents=True, exist_ok=True)  # where the gradebook lives
    loader = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent))
    config = loader.load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = "sqlite:///" + str(root / "autograde" / "gradebook.db")
    for dotted, value in overrides.items():
        section, trait = dotted.rsplit(".", 1)
        setattr(getattr(config, section), trait, value)
    return config


def _api(config: Config):
    _ensure_tools_on_path()
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def assignment_ids(root: Path | str = REPO_ROOT) -> list[str]:
    """Names of the assignments in ``root/solutions`` (folders holding a notebook), sorted."""
    source = Path(root) / "solutions"
    return sorted(
        p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))
    ) if source.is_dir() else []


def generate_assignments(
    root: Path | str = REPO_ROOT, release_dir: str = "exercises", assignments=None
) -> dict[str, dict]:
    """Run ``nbgrader generate_assignment`` for each assignment into ``root/release_dir``.

    This also records each assignment's grade cells in the gradebook, which autograding
    needs. Returns nbgrader's result dict per assignment; raises ``RuntimeError`` on failure.
    """
    config = course_config(root, **{"CourseDirectory.release_directory": release_dir})
    api = _api(config)
    results = {}
    for aid in assignments or assignment_ids(root):
        result = api.generate_assignment(aid, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"generate_assignment {aid} failed:\n{result.get('error') or result['log']}")
        results[aid] = result
    return results


@dataclass
class GradeResult:
    """Outcome of grading one student's hand-in of one assignment."""

    student: str
    assignment: str
    ok: bool
    score: float | None = None
    max_score: float | None = None
    cells: dict[str, tuple[float | None, float]] = field(default_factory=dict)
    error: str = ""


def find_submissions(root: Path | str = REPO_ROOT) -> list[tuple[str, str]]:
    """``(student, assignment)`` pairs under ``root/autograde/submitted``, sorted."""
    submitted = Path(root) / "autograde" / "submitted"
    if not submitted.is_dir():
        return []
    pairs = []
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            pairs.append((student_dir.name, assignment_dir.name))
    return pairs


def read_scores(db_url: str, student: str, assignment: str) -> tuple[float, float, dict]:
    """Total score, maximum and per-grade-cell ``{grade_id: (score, max)}`` from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        sub = gb.find_submission(assignment, student)
        cells = {}
        for nb in sub.notebooks:
            for grade in nb.grades:
                cells[grade.name] = (grade.score, grade.max_score)
        return sub.score, sub.max_score, cells


def grade(
    root: Path | str = REPO_ROOT,
    *,
    students=None,
    assignments=None,
    feedback: bool = True,
    export: bool = True,
    progress: bool = True,
    config_overrides: dict | None = None,
) -> list[GradeResult]:
    """Grade every hand-in under ``root/autograde/submitted/<student>/<assignment>/``.

    Steps, all nbgrader's: record each assignment's source in the gradebook
    (generate_assignment into a scratch release folder), autograde each hand-in, write
    feedback HTML to ``autograde/feedback/``, export ``autograde/grades.csv``. A hand-in that
    fails to grade is reported and the run goes on.
    """
    from tqdm.auto import tqdm

    root = Path(root).resolve()
    pairs = [
        (s, a) for s, a in find_submissions(root)
        if (students is None or s in students) and (assignments is None or a in assignments)
    ]
    known = set(assignment_ids(root))
    scratch = "autograde/.release"
    needed = sorted({a for _, a in pairs if a in known})
    if needed:
        generate_assignments(root, release_dir=scratch, assignments=needed)
        shutil.rmtree(root / scratch, ignore_errors=True)
    config = course_config(root, **(config_overrides or {}))
    api = _api(config)
    db_url = config.CourseDirectory.db_url
    results = []
    bar = tqdm(pairs, desc="grading", unit="hand-in", disable=not progress)
    for student, assignment in bar:
        bar.set_postfix_str(f"{student}/{assignment}")
        if assignment not in known:
            results.append(GradeResult(student, assignment, False,
                                       error=f"no assignment named {assignment!r} in solutions/"))
            continue
        outcome = api.autograde(assignment, student, force=True, create=True)
        if not outcome["success"]:
            results.append(GradeResult(student, assignment, False,
                                       error=(outcome.get("error") or outcome.get("log", ""))[-2000:]))
            continue
        score, max_score, cells = read_scores(db_url, student, assignment)
        results.append(GradeResult(student, assignment, True, score, max_score, cells))
        if feedback:
            api.generate_feedback(assignment, student, force=True)
    if export:
        export_grades(db_url, root / "autograde" / "grades.csv")
    return results


def export_grades(db_url: str, dest: Path) -> Path:
    """Write nbgrader's CSV export (one row per student and assignment) to ``dest``."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    with Gradebook(db_url) as gb:
        CsvExportPlugin(to=str(dest)).export(gb)
    return dest


def summary_table(results: list[GradeResult]) -> str:
    """A plain-text table of the results, one line per hand-in."""
    lines = [f"{'student':<20} {'assignment':<24} {'score':>12}  status"]
    for r in results:
        score = f"{r.score:g}/{r.max_score:g}" if r.ok else "-"
        status = "graded" if r.ok else "FAILED: " + r.error.strip().splitlines()[-1][:60] if r.error else "FAILED"
        lines.append(f"{r.student:<20} {r.assignment:<24} {score:>12}  {status}")
    return "\n".join(lines)
