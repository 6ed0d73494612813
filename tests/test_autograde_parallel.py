"""Class-scale grading: parallel workers, merged gradebook, resume after Ctrl-C, CSV,
and determinism (the solution grades identically in three runs)."""

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograde import corpus, sandbox
from autograde.course import REPO_ROOT
from autograde.run import grade

AID = "01_activations"


def make_course(root, hand_ins):
    import shutil

    for folder in ("solutions", "exercises"):
        shutil.copytree(REPO_ROOT / folder / AID, root / folder / AID)
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "one_bug_parallel", REPO_ROOT / "tests" / "one_bug" / f"{AID}.py")
    own = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(own)
    cases = {c.name: c for c in corpus.hostile(AID, extra=own.hostile_cases)}
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
    _, tests_of, points = corpus.structure(AID)
    # the solution earns every autograded point; written answers wait for the instructor
    assert by["s1"].score == by["s4"].score == sum(points.values())
    assert by["s3"].score == 0
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


# ---- one run at a time, nothing left behind, a grader failure is never the student's ----

def _run_processes(marker_value: str) -> list[int]:
    """PIDs of live processes (workers, kernels) of a grading run of the course at ``root``."""
    from autograde.run import RUN_MARKER

    needle = f"{RUN_MARKER}={marker_value}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_a_second_run_stops_at_once_and_a_dead_runs_lock_never_blocks(tmp_path):
    from autograde.runstate import AlreadyRunning, RunLock

    with RunLock(tmp_path):
        with pytest.raises(AlreadyRunning, match=f"(?s)pid {os.getpid()}.*--wait"):
            RunLock(tmp_path).__enter__()
    # a run killed while holding the lock: the OS releases it with the process
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, sys.argv[1]);"
        "from autograde.runstate import RunLock; l = RunLock(sys.argv[2]).__enter__();"
        "print('locked', flush=True); time.sleep(600)"), str(REPO_ROOT), str(tmp_path)],
        stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"locked"
    with pytest.raises(AlreadyRunning):
        RunLock(tmp_path).__enter__()
    holder.kill()
    holder.wait()
    with RunLock(tmp_path):
        pass


class _FakeWorker:
    """Stands in for a worker process: writes ``results`` (or nothing) and exits at once."""

    def __init__(self, job, results):
        from autograde.results import write_results

        if results is not None:
            write_results(Path(job.out), results)
        self.started = time.monotonic()
        self.returncode = 0 if results is not None else -9

    def poll(self):
        return self.returncode

    def kill(self):
        pass


def test_a_grader_failure_is_retried_and_never_saved_as_the_students(tmp_path):
    from autograde import pool
    from autograde.results import GRADER, STUDENT, GradeResult, Job
    from autograde.runstate import Finished

    job = Job(root=str(tmp_path), student="s1", assignments=[AID], db="", staging="",
              out=str(tmp_path / "s1.out.json"))
    good = [GradeResult("s1", AID, True, score=3.0, max_score=4.0)]
    for outcomes, expect in [([None, good], good),  # worker killed once, then graded
                             ([None, None, None], GRADER)]:  # the grader keeps failing
        attempts, finished = iter(outcomes), []
        pool.run_jobs([job], lambda j, a=attempts: _FakeWorker(j, next(a)),
                      lambda j, r, f=finished: f.append(r), parallel=1, timeout=60, retries=2,
                      poll_seconds=0)
        assert len(finished) == 1
        if expect == GRADER:
            [result] = finished[0]
            assert not result.ok and result.fault == GRADER and not result.flags
            store = Finished(tmp_path)
            store.save("s1", "fp", finished[0])
            assert store.load("s1", "fp") is None, "a grader failure must not be reused"
        else:
            assert finished[0] == good
    # the student's own failure (a limit fired) is final and saved, with its reason
    own = [GradeResult.failed("s1", AID, "the kernel died", STUDENT)]
    store = Finished(tmp_path)
    store.save("s1", "fp", own)
    assert store.load("s1", "fp") == own and own[0].flags == ["the kernel died"]


@pytest.mark.slow
@pytest.mark.xdist_group("parallel")
def test_kill_9_and_double_starts_leave_the_grades_of_an_uninterrupted_run(tmp_path):
    """Chaos: start two runs at once, kill -9 a run's whole process group at random moments
    and restart at once; no process of the run is left, and the grades equal an
    uninterrupted run's, one submission per student."""
    import random

    hand_ins = {"s1": "solution", "s2": "blank", "s3": "solution", "s4": "wrong_type",
                "s5": "solution", "s6": "blank"}
    overrides = {"Execute.timeout": 20}
    reference = tmp_path / "reference"
    make_course(reference, hand_ins)
    grade(reference, progress=False, jobs=2, config_overrides=overrides)

    course = tmp_path / "chaos"
    make_course(course, hand_ins)
    lock = course / "autograde" / ".work" / "grade.lock"
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    no_sandbox = [] if sandbox.bwrap_available() else ["--no-sandbox"]

    def start():
        return subprocess.Popen(
            [sys.executable, "-m", "autograde.grade", "--root", str(course), "--jobs", "2",
             "--timeout", "20", "--no-progress", *no_sandbox], cwd=REPO_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for_lock(proc):
        deadline = time.monotonic() + 120
        while not (lock.is_file() and lock.read_text().strip()):
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.05)

    rng = random.Random(19)
    first = start()
    wait_for_lock(first)
    second = start()  # a TA starts another run meanwhile
    out = second.communicate(timeout=120)[0].decode()
    assert second.returncode == 3 and "another grading run is in progress" in out, out
    assert f"pid {first.pid}" in out, out
    run = first
    for _ in range(3):  # kill -9 the whole group at a random moment, restart at once
        time.sleep(rng.uniform(1.0, 6.0))
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        run = start()
        wait_for_lock(run)
    out = run.communicate(timeout=400)[0].decode()
    assert run.returncode == 0, out[-3000:]

    deadline = time.monotonic() + 10  # workers and kernels die with their run
    while _run_processes(str(course)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _run_processes(str(course)), "processes of a killed run are still alive"

    def table(root):
        rows = list(csv.DictReader(open(root / "autograde" / "grades.csv")))
        return sorted(tuple(sorted(r.items())) for r in rows)

    assert table(course) == table(reference)
    rows, grades = submission_rows(course)
    assert sorted(rows) == sorted((s, AID) for s in hand_ins), "one submission per student"
    assert grades == submission_rows(reference)[1], "no duplicated grade rows"
    assert not list((course / "autograde" / ".work" / "runs").glob("*/staging/*")), \
        "a finished run leaves no staging behind"
