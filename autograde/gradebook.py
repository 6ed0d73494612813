"""The course gradebook (nbgrader's sqlite database): per-worker copies and their merge.

Each worker grades into a private copy of the course gradebook that holds the assignments
but no students (:func:`template_gradebook`); the run merges it into
``autograde/gradebook.db`` in one transaction per student (:func:`merge_gradebook`), so a
run killed at any moment leaves each student either fully merged or untouched.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

STUDENT_TABLES = ("grade", "comment", "submitted_notebook", "submitted_assignment", "student")


def db_url(path: Path | str) -> str:
    return str(path) if str(path).startswith("sqlite:") else "sqlite:///" + str(path)


def read_scores(url: str, student: str, assignment: str) -> tuple[float, float, dict]:
    """Total score, maximum and per-grade-cell ``{grade_id: (score, max)}`` from a gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url(url)) as gb:
        sub = gb.find_submission(assignment, student)
        cells = {}
        for nb in sub.notebooks:
            for grade in nb.grades:
                cells[grade.name] = (grade.score, grade.max_score)
        return sub.score, sub.max_score, cells


def template_gradebook(main_db: Path, dest: Path) -> None:
    """Copy the course gradebook without any student data: the base of each worker's db."""
    dest.unlink(missing_ok=True)
    with sqlite3.connect(main_db, timeout=60) as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    con = sqlite3.connect(dest)
    with con:
        for table in STUDENT_TABLES:
            con.execute(f"DELETE FROM {table}")
    con.execute("VACUUM")
    con.close()


def merge_gradebook(main_db: Path, worker_db: Path, student: str) -> None:
    """Move ``student``'s submissions from a worker's gradebook into the course gradebook.

    One transaction: the student's earlier rows for the same assignments are deleted and the
    worker's rows inserted (nbgrader's row ids are uuid hex strings, so they never collide).
    Assignment, notebook and cell ids agree because the worker's gradebook is a copy.
    """
    con = sqlite3.connect(main_db, timeout=60, isolation_level=None)
    try:
        con.execute("ATTACH DATABASE ? AS w", (str(worker_db),))
        con.execute("BEGIN IMMEDIATE")
        w_nbs = ("SELECT id FROM w.submitted_notebook WHERE assignment_id IN "
                 "(SELECT id FROM w.submitted_assignment WHERE student_id = ?)")
        # earlier rows of this student for the assignments the worker graded
        old = ("SELECT id FROM main.submitted_assignment WHERE student_id = ? AND assignment_id IN "
               "(SELECT assignment_id FROM w.submitted_assignment WHERE student_id = ?)")
        old_nbs = f"SELECT id FROM main.submitted_notebook WHERE assignment_id IN ({old})"
        both = (student, student)
        for table in ("grade", "comment"):
            con.execute(f"DELETE FROM main.{table} WHERE notebook_id IN ({old_nbs})", both)
        con.execute(f"DELETE FROM main.submitted_notebook WHERE id IN ({old_nbs})", both)
        con.execute(f"DELETE FROM main.submitted_assignment WHERE id IN ({old})", both)
        con.execute("INSERT OR IGNORE INTO main.student SELECT * FROM w.student WHERE id = ?",
                    (student,))
        con.execute("INSERT INTO main.submitted_assignment SELECT * FROM w.submitted_assignment "
                    "WHERE student_id = ?", (student,))
        con.execute(f"INSERT INTO main.submitted_notebook SELECT * FROM w.submitted_notebook "
                    f"WHERE id IN ({w_nbs})", (student,))
        for table in ("grade", "comment"):
            con.execute(f"INSERT INTO main.{table} SELECT * FROM w.{table} "
                        f"WHERE notebook_id IN ({w_nbs})", (student,))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK") if con.in_transaction else None
        raise
    finally:
        con.close()
