"""What a grading run reports: ``grades.csv`` (per question) and the summary table."""

from __future__ import annotations

import csv
from pathlib import Path

from autograde.gradebook import db_url
from autograde.results import GRADER, GradeResult

GRADER_PROBLEM = "not graded: a problem of the grader (retried; run `make grade` again)"


def _text(value: str) -> str:
    """A text cell a spreadsheet shows as text: a leading = + - @ would start a formula."""
    value = str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _status(r: GradeResult | None) -> str:
    if r is None or r.ok:
        return "graded"
    if r.fault == GRADER:
        return GRADER_PROBLEM
    return "failed: " + (r.error.strip().splitlines() or [""])[-1][:200]


def export_grades(db: Path | str, dest: Path, results: list[GradeResult] | None = None) -> Path:
    """Write ``dest``: one row per student and assignment, with per-question scores.

    Columns: ``student, assignment, score, max_score, status, flags``, then one
    ``<assignment>:<grade_id>`` column per grade cell of every assignment (empty when not
    applicable). ``db`` is the gradebook path or an nbgrader ``db_url``.
    """
    from nbgrader.api import Gradebook

    by_pair = {(r.student, r.assignment): r for r in results or []}
    rows, columns = [], []
    with Gradebook(db_url(db)) as gb:
        for assignment in gb.assignments:
            for notebook in assignment.notebooks:
                columns += [f"{assignment.name}:{c.name}" for c in notebook.grade_cells
                            if f"{assignment.name}:{c.name}" not in columns]
            for student in gb.students:
                try:
                    sub = gb.find_submission(assignment.name, student.id)
                except Exception:  # noqa: BLE001 - no submission: only rows for failures
                    sub = None
                r = by_pair.pop((student.id, assignment.name), None)
                if sub is None and r is None:
                    continue
                row = {"student": student.id, "assignment": assignment.name}
                if sub is not None and (r is None or r.ok):
                    row.update(score=sub.score, max_score=sub.max_score)
                    for nb in sub.notebooks:
                        for g in nb.grades:
                            row[f"{assignment.name}:{g.name}"] = g.score
                else:
                    row.update(score="", max_score=assignment.max_score)
                row["status"] = _status(r)
                row["flags"] = " | ".join(r.flags) if r else ""
                rows.append(row)
    for (student, aid), r in sorted(by_pair.items()):
        rows.append({"student": student, "assignment": aid, "score": "", "max_score": "",
                     "status": _status(r), "flags": " | ".join(r.flags)})
    for row in rows:
        for key in ("student", "assignment", "status", "flags"):
            row[key] = _text(row[key])
    rows.sort(key=lambda row: (row["student"], row["assignment"]))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["student", "assignment", "score", "max_score", "status",
                                     "flags"] + columns)
        writer.writeheader()
        writer.writerows(rows)
    return dest


def summary_table(results: list[GradeResult]) -> str:
    """A plain-text table of the results, one line per hand-in, flags below, then totals."""
    lines = [f"{'student':<20} {'assignment':<24} {'score':>12}  status"]
    for r in results:
        score = f"{r.score:g}/{r.max_score:g}" if r.ok else "-"
        if r.ok:
            status = "graded" + (f" ({len(r.flags)} flag(s))" if r.flags else "")
        elif r.fault == GRADER:
            status = "NOT GRADED (grader problem, see below)"
        else:
            status = "FAILED: " + (r.error.strip().splitlines() or [""])[-1][:60]
        lines.append(f"{r.student:<20} {r.assignment:<24} {score:>12}  {status}")
        lines += [f"{'':<20}   flag: {flag[:100]}" for flag in r.flags]
    graded = sum(r.ok for r in results)
    lines.append(f"{graded} of {len(results)} hand-in(s) graded, "
                 f"{sum(bool(r.flags) or (not r.ok and r.fault != GRADER) for r in results)} "
                 "flagged")
    problems = [r for r in results if not r.ok and r.fault == GRADER]
    if problems:
        lines.append(f"{len(problems)} hand-in(s) not graded because of a problem of the grader "
                     "(not of the students; nothing was saved for them, `make grade` retries):")
        lines += [f"  {r.student}/{r.assignment}: {r.error.strip()[-200:]}" for r in problems]
    return "\n".join(lines)
