"""Grade one student's hand-ins in a process of its own, into a gradebook of its own.

:func:`autograde.course.grade` runs :func:`main` in a forked child, one process per
student (``python -m autograde.worker JOB.json`` does the same by hand). The job names the
course root, the student, the assignments, a private sqlite gradebook (a copy of the course
gradebook's assignment records) and where to write the results. The parent merges that gradebook into ``autograde/gradebook.db``.

For each assignment: copy the hand-in to a private staging folder (only the expected
notebooks, checked by :mod:`autograde.checks`), run nbgrader's autograde on it with the
sandboxed kernel, zero the cells the checks disqualified, and write the feedback HTML.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import traceback
import uuid
from pathlib import Path


def _expected_notebooks(root: Path, aid: str) -> list[str]:
    return sorted(p.name for p in (root / "solutions" / aid).glob("*.ipynb"))


def stage(root: Path, student: str, aid: str, staging: Path):
    """Copy a hand-in to ``staging/<student>/<aid>``.

    Returns ``(flags, grade ids that must score 0, why it cannot be graded or "")``.
    """
    from autograde import checks

    src = root / "autograde" / "submitted" / student / aid
    dest = staging / student / aid
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    expected = _expected_notebooks(root, aid)
    present = sorted(p.name for p in src.glob("*.ipynb") if not p.is_symlink())
    extra = [n for n in present if n not in expected]
    flags, zero, fatal = [], set(), []
    for f in src.iterdir():
        if f.is_symlink():  # a link could point at solutions/ or another hand-in
            flags.append(f"symbolic link {f.name} ignored")
            continue
        if f.is_file() and f.suffix != ".ipynb" and f.stat().st_size < 1_000_000:
            shutil.copy2(f, dest / f.name)  # e.g. nbgrader's timestamp.txt
    for name in expected:
        path = src / name
        if not path.exists() or path.is_symlink():
            if len(extra) == 1 and len(expected) == 1:
                flags.append(f"notebook renamed to {extra[0]}: graded as {name}")
                path = src / extra.pop()
            else:
                fatal.append(f"missing notebook {name}")
                continue
        nb, why = checks.read_notebook(path)
        if nb is None:
            fatal.append(why)
            continue
        source = checks.nbformat.read(root / "solutions" / aid / name, as_version=4)
        found = checks.analyse(nb, source)
        flags += found.flags
        zero |= found.zero_cells
        flags += repair_metadata(nb, source)
        nb.metadata["kernelspec"] = source.metadata.get("kernelspec", {})
        checks.nbformat.write(nb, dest / name)
    for name in extra:
        flags.append(f"extra notebook {name} ignored")
    return flags, zero, "; ".join(fatal)


def repair_metadata(nb, source) -> list[str]:
    """Make a hand-in's nbgrader metadata safe to grade; returns flags for what was changed.

    nbgrader aborts on a duplicated ``grade_id`` (its own de-duplication leaves metadata it
    then rejects) and on a graded cell it does not know. Here, the first cell with a known id
    keeps it; later copies and unknown graded cells become ordinary cells (they still run,
    but earn nothing). nbgrader then restores locked cells and points from the gradebook.
    """
    known = {c.metadata.get("nbgrader", {}).get("grade_id"): c.cell_type for c in source.cells
             if c.metadata.get("nbgrader", {}).get("grade_id")}
    seen, flags, cell_ids = set(), [], set()
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if "id" in cell:
            if cell["id"] in cell_ids:
                cell["id"] = uuid.uuid4().hex[:8]
            cell_ids.add(cell["id"])
        if meta is None:
            continue
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if gid in known and gid not in seen:
            seen.add(gid)
            continue
        if gid in seen:
            flags.append(f"duplicated grade_id {gid!r}: the copy is not graded")
        elif gid is not None or meta:
            flags.append(f"unknown graded cell {gid!r}: not graded")
        del cell.metadata["nbgrader"]
    return flags


def summarize_failure(log: str) -> str:
    """One line an instructor can act on, for a hand-in nbgrader could not grade."""
    if "DeadKernelError" in log or "Kernel died" in log:
        return "the kernel died (os._exit, a crash, or the memory or CPU cap)"
    if "CellTimeoutError" in log:
        return ("a cell did not answer the time limit's interrupt (code ignoring it, stuck in "
                "one C call, or a kernel stuck at the memory cap): grading stopped")
    if "ValidationError" in log:
        return "the notebook's nbgrader metadata is corrupted"
    return log.strip()[-1500:] or "nbgrader autograde failed"


def zero_cells(db_url: str, student: str, aid: str, grade_ids: set[str]) -> None:
    from nbgrader.api import Gradebook

    if not grade_ids:
        return
    with Gradebook(db_url) as gb:
        sub = gb.find_submission(aid, student)
        for nb in sub.notebooks:
            for g in nb.grades:
                if g.name in grade_ids:
                    g.auto_score = 0.0
        gb.db.commit()


def run(job: dict) -> list[dict]:
    from autograde import checks
    from autograde.course import _api, course_config, read_scores

    root = Path(job["root"])
    student = job["student"]
    staging = Path(job["staging"])
    overrides = dict(job.get("overrides") or {})
    overrides["CourseDirectory.db_url"] = "sqlite:///" + job["db"]
    overrides["CourseDirectory.submitted_directory"] = os.path.relpath(staging, root)
    config = course_config(root, **overrides)
    api = _api(config)
    results = []
    for aid in job["assignments"]:
        res = {"student": student, "assignment": aid, "ok": False, "score": None,
               "max_score": None, "cells": {}, "error": "", "flags": []}
        results.append(res)
        try:
            flags, zero, fatal = stage(root, student, aid, staging)
            res["flags"] = flags
            if fatal:
                res["error"] = fatal
                continue
            outcome = api.autograde(aid, student, force=True, create=True)
            if not outcome["success"]:
                log = (outcome.get("log") or "") + "\n" + (outcome.get("error") or "")
                res["error"] = summarize_failure(log)
                res["flags"].append(res["error"].splitlines()[-1][:200])
                continue
            for nbfile in (root / "autograde" / "autograded" / student / aid).glob("*.ipynb"):
                nb, _ = checks.read_notebook(nbfile)
                if nb is not None:
                    res["flags"] += checks.runtime_flags(nb)
            zero_cells(config.CourseDirectory.db_url, student, aid, zero)
            score, max_score, cells = read_scores(config.CourseDirectory.db_url, student, aid)
            res.update(ok=True, score=score, max_score=max_score,
                       cells={k: list(v) for k, v in cells.items()})
            if job.get("feedback", True):
                fb = api.generate_feedback(aid, student, force=True)
                if not fb["success"]:
                    res["flags"].append("feedback failed: " + (fb.get("error") or "")[-300:])
        except Exception:  # noqa: BLE001 - one bad hand-in must not stop the others
            res["error"] = traceback.format_exc()[-1500:]
        finally:
            shutil.rmtree(staging / student / aid, ignore_errors=True)
    return results


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    results = run(job)
    tmp = Path(job["out"] + ".tmp")
    tmp.write_text(json.dumps(results))
    tmp.replace(job["out"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
