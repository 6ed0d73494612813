"""The course as nbgrader sees it: configuration, assignments, hand-ins, generation.

nbgrader does the work (``NbGraderAPI.generate_assignment``, ``.autograde``,
``.generate_feedback``); this module points it at the course's folders. Grading at class
scale is :mod:`autograde.run` (plan, skip unchanged, run workers, export), built from
:mod:`autograde.worker` (one student), :mod:`autograde.pool` (worker processes),
:mod:`autograde.gradebook` (merging), :mod:`autograde.runstate` (lock, resume) and
:mod:`autograde.report` (CSV, summary). See autograde/README.md.

``root`` is the course directory (the repository root). Tests pass a temporary copy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO_ROOT / "autograde" / "nbgrader_config.py"


def ensure_tools_on_path() -> None:
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
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from autograde.feedback import HideHiddenTests

    config.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    # Scores are decided outside the student's kernel (autograde/trusted.py): the kernel runs
    # the student's cells, the grader runs the tests.
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    from autograde.trusted import TrustedExecute

    config.Autograde.autograde_preprocessors = [
        TrustedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
        AssignLatePenalties, CheckCellMetadata]
    config.TrustedExecute.solutions_root = str(root)
    for dotted, value in overrides.items():
        section, trait = dotted.rsplit(".", 1)
        setattr(getattr(config, section), trait, value)
    return config


def nbgrader_api(config: Config):
    """nbgrader's Python API on ``config`` (with ``alembic`` findable on PATH)."""
    ensure_tools_on_path()
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
    root: Path | str = REPO_ROOT, release_dir: str = "exercises", assignments=None,
    expected: bool = True,
) -> dict[str, dict]:
    """Run ``nbgrader generate_assignment`` for each assignment into ``root/release_dir``.

    This also records each assignment's grade cells in the gradebook, which autograding
    needs. With ``expected`` (the default), each released assignment also gets
    ``expected.json``: the expected values of its visible tests, so that a student's kernel
    needs no reference (:func:`autograde.handout.record_expected`). Returns nbgrader's result
    dict per assignment; raises ``RuntimeError`` on failure.
    """
    config = course_config(root, **{"CourseDirectory.release_directory": release_dir})
    api = nbgrader_api(config)
    results = {}
    for aid in assignments or assignment_ids(root):
        result = api.generate_assignment(aid, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"generate_assignment {aid} failed:\n{result.get('error') or result['log']}")
        results[aid] = result
        if expected:
            from autograde.handout import record_expected

            record_expected(root, aid, release_dir)
    return results


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
