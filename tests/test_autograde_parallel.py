"""Class-scale grading: parallel workers, merged gradebook, resume after Ctrl-C, CSV,
and determinism (the solution grades identically in three runs)."""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from autograde import corpus, sandbox
from autograde.course import REPO_ROOT, grade

AID = "01_activations"


def make_course(root, hand_ins):
    import shutil

    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder / AID, root / folder / AID)
    cases = {c.name: c for c in corpus.hostile(AID)}
    for student, case in hand_ins.items():
        corpus.write(cases[case], root / "autograde" / "submitted", student, AID)


def submission_rows(root):
    con = sqlite3.connect(root / "autograde" / "gradebook.db")
    rows = con.execute("SELECT s.student_id, a.name FROM submitted_assignment s "
                       "JOIN assignment a ON a.id = s.assignment_id").fetchall()
    grades = con.execute("SELECT COUNT(*) FROM grade").fetchone()[0]
    con.close()
    return rows, grades


@pytest.mark.slow
@pytest.mark.xdist_group("parallel")
def test_interrupted_run_resumes_without_losing_or_duplicating_grades(tmp_path):
    hand_ins = {"s1": "solution", "s2": "wrong_type", "s3": "blank", "s4": "solution"}
    make_course(tmp_path, hand_ins)
    done = tmp_path / "autograde" / ".work" / "done"
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    # This test is about interrupting, not about the sandbox: without bwrap, say so explicitly.
    no_sandbox = [] if sandbox.bwrap_available() else ["--no-sandbox"]
    # A background job of a non-interactive shell (`nohup make test &`) ignores SIGINT and its
    # children inherit that: give the grader SIGINT's default disposition, as a terminal would,
    # so this tests the grader and not the shell that started the test run.
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograde.grade", "--root", str(tmp_path), "--jobs", "1",
         "--timeout", "20", "--no-progress", *no_sandbox], cwd=REPO_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while not (done.is_dir() and list(done.glob("*.json"))):
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 130, out[-2000:]
    first = {p.stem: p.stat().st_mtime_ns for p in done.glob("*.json")}
    assert 1 <= len(first) < len(hand_ins), "the interrupt came too late to test resuming"
    rows, _ = submission_rows(tmp_path)
    assert sorted(s for s, _ in rows) == sorted(first), "only finished students are merged"

    results = grade(tmp_path, progress=False, jobs=2, config_overrides={"Execute.timeout": 20})
    by = {r.student: r for r in results}
    assert set(by) == set(hand_ins) and all(r.ok for r in results)
    for student, mtime in first.items():  # graded before the interrupt: not graded again
        assert (done / f"{student}.json").stat().st_mtime_ns == mtime
    rows, grades = submission_rows(tmp_path)
    assert sorted(rows) == sorted((s, AID) for s in hand_ins), "one submission per hand-in"
    assert grades == len(hand_ins) * len(by["s1"].cells), "no duplicated grade rows"
    assert by["s1"].score == by["s4"].score == by["s1"].max_score - 2
    assert by["s3"].score == 0
    _, tests_of, points = corpus.structure(AID)
    assert by["s2"].score == by["s1"].score - sum(points[k] for k in tests_of["tanh_grad"])

    # grades.csv: one row per hand-in, per-question columns, scores as in the gradebook
    rows = list(csv.DictReader(open(tmp_path / "autograde" / "grades.csv")))
    assert sorted(r["student"] for r in rows) == sorted(hand_ins)
    for row in rows:
        r = by[row["student"]]
        assert float(row["score"]) == r.score and float(row["max_score"]) == r.max_score
        for cell, (score, _max) in r.cells.items():
            assert float(row[f"{AID}:{cell}"]) == score

    # determinism: the solution grades identically in three runs
    runs = [by["s1"].cells]
    for _ in range(2):
        again = grade(tmp_path, students=["s1"], progress=False, resume=False, export=False,
                      feedback=False, config_overrides={"Execute.timeout": 20})
        runs.append(again[0].cells)
    assert runs[0] == runs[1] == runs[2]
    rows, _ = submission_rows(tmp_path)
    assert len(rows) == len(hand_ins), "regrading replaces a submission, never duplicates it"
