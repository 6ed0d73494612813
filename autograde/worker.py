"""Grade one student's hand-ins in a process of its own, into a gradebook of its own.

:func:`autograde.run.grade` runs :func:`main` in a child of a fork server (:mod:`autograde.pool`), one
process per student (``python -m autograde.worker JOB.json`` does the same by hand). The
:class:`~autograde.results.Job` names the course root, the student, the assignments, a
private sqlite gradebook (a copy of the course gradebook's assignment records) and where to
write the results; the run merges that gradebook into ``autograde/gradebook.db``.

For each assignment: copy the hand-in to a private staging folder (only the expected
notebooks, checked by :mod:`autograde.checks`), run nbgrader's autograde on it with the
sandboxed kernel, zero the cells the checks disqualified, and write the feedback HTML.
"""

from __future__ import annotations

import os
import shutil
import sys
import traceback
import uuid
from pathlib import Path

from autograde.gradebook import read_scores
from autograde.results import GRADER, STUDENT, GradeResult, Job, write_results


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
    if src.parent.is_symlink() or src.is_symlink():  # it could point at another hand-in
        why = f"hand-in folder {student}/{aid} is a symbolic link: refused"
        return [why], set(), why
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


def summarize_failure(log: str) -> tuple[str, str]:
    """One line an instructor can act on, and whose failure it is (student or grader)."""
    if "DeadKernelError" in log or "Kernel died" in log or "KernelDied" in log:
        return "the kernel died (os._exit, a crash, or the memory or CPU cap)", STUDENT
    if "CellTimeoutError" in log:
        return ("a cell did not answer the time limit's interrupt (code ignoring it, stuck in "
                "one C call, or a kernel stuck at the memory cap): grading stopped"), STUDENT
    if "ValidationError" in log:
        return "the notebook's nbgrader metadata is corrupted", STUDENT
    # anything else is nbgrader or the machine failing, not something the hand-in did
    return (log.strip()[-1500:] or "nbgrader autograde failed"), GRADER


def grade_one(api, config, job: Job, aid: str) -> GradeResult:
    """Stage, autograde, apply the checks and write feedback for one assignment."""
    from autograde import checks

    root, student = Path(job.root), job.student
    res = GradeResult(student, aid, False)
    flags, _distrusted, fatal = stage(root, student, aid, Path(job.staging))
    res.flags = flags
    if fatal:  # nothing gradable was handed in: the student's doing
        res.error, res.fault = fatal, STUDENT
        return res
    outcome = api.autograde(aid, student, force=True, create=True)
    if not outcome["success"]:
        log = (outcome.get("log") or "") + "\n" + (outcome.get("error") or "")
        res.error, res.fault = summarize_failure(log)
        if res.fault == STUDENT:
            res.flags.append(res.error.splitlines()[-1][:200])
        return res
    for nbfile in (root / "autograde" / "autograded" / student / aid).glob("*.ipynb"):
        nb, _ = checks.read_notebook(nbfile)
        if nb is not None:
            res.flags += checks.runtime_flags(nb)
    # the static checks' findings are flags for the instructor: no score depends on them
    score, max_score, cells = read_scores(config.CourseDirectory.db_url, student, aid)
    res.ok, res.score, res.max_score = True, score, max_score
    res.cells = dict(cells)
    if job.feedback:
        fb = api.generate_feedback(aid, student, force=True)
        if not fb["success"]:
            res.flags.append("feedback failed: " + (fb.get("error") or "")[-300:])
    return res


def run(job: Job) -> list[GradeResult]:
    """Grade each assignment of ``job``; one failure never stops the others."""
    from autograde.course import course_config, nbgrader_api

    root = Path(job.root)
    overrides = dict(job.overrides)
    overrides["CourseDirectory.db_url"] = "sqlite:///" + job.db
    overrides["CourseDirectory.submitted_directory"] = os.path.relpath(job.staging, root)
    overrides["TrustedExecute.staging"] = job.staging  # the kernel's working directory
    config = course_config(root, **overrides)
    api = nbgrader_api(config)
    results = []
    for aid in job.assignments:
        try:
            results.append(grade_one(api, config, job, aid))
        except Exception:  # noqa: BLE001 - a crash of the grader, not the student's failure
            results.append(GradeResult.failed(job.student, aid,
                                              traceback.format_exc()[-1500:], GRADER))
        finally:
            shutil.rmtree(Path(job.staging) / job.student / aid, ignore_errors=True)
    return results


def main(argv: list[str]) -> int:
    job = Job.read(Path(argv[0]))
    write_results(Path(job.out), run(job))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
