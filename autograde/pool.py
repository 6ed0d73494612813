"""Worker processes: one forked child per student, never outliving the run.

Each worker is forked from the run (which has already imported nbgrader, so a worker starts
in milliseconds), leads its own session (stopping it stops its kernel too), and asks the
Linux kernel to kill it when the run's process dies, however it dies (``PR_SET_PDEATHSIG``):
a run killed with ``kill -9`` leaves no worker grading on behind a restarted run.

:func:`run_jobs` keeps ``parallel`` workers busy, stops a worker past its wall-time cap, and
retries a job whose failure was the grader's (the worker died without a result, or reported a
grader failure) at most ``retries`` times.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from autograde.results import GRADER, STUDENT, GradeResult, Job, read_results
from autograde.sandbox import die_with_parent


def _worker_entry(job_file: str, log: str, env: dict, root: str) -> None:
    import tempfile

    os.setsid()
    die_with_parent()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # take TMPDIR from the new environment
    os.chdir(root)
    from autograde import worker

    code = 1
    try:
        code = worker.main([job_file])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class WorkerProcess:
    """A forked child running :func:`autograde.worker.main` on one job file."""

    def __init__(self, job_file: Path, log: Path, env: dict, root: Path):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.process = ctx.Process(target=_worker_entry,
                                   args=(str(job_file), str(log), env, str(root)))
        self.process.start()
        self.pid = self.process.pid
        self.started = time.monotonic()

    def poll(self):
        return None if self.process.is_alive() else self.process.exitcode

    @property
    def returncode(self):
        return self.process.exitcode

    def kill(self) -> None:
        """Stop the worker and everything in its session (its kernel)."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # not yet its own group leader
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.join()


def preload() -> None:
    """Import what workers need once, before forking them."""
    import IPython.core.inputtransformer2  # noqa: F401
    import nbclient  # noqa: F401
    import nbconvert.exporters  # noqa: F401
    from nbgrader.apps.api import NbGraderAPI  # noqa: F401

    from autograde import checks, worker  # noqa: F401


def run_jobs(
    jobs: list[Job],
    start: Callable[[Job], WorkerProcess],
    finish: Callable[[Job, list[GradeResult]], None],
    *,
    parallel: int,
    timeout: float,
    retries: int = 2,
    poll_seconds: float = 0.05,
) -> None:
    """Run every job, ``parallel`` at a time; call ``finish(job, results)`` once per job.

    A worker over ``timeout`` seconds is stopped: a student failure (a limit fired). A worker
    that exits without writing its results, or whose results report a grader failure, is
    started again up to ``retries`` times; then its grader failure is passed to ``finish``.
    """
    queue = [(job, 0) for job in jobs]
    running: dict[str, tuple[WorkerProcess, Job, int]] = {}
    try:
        while queue or running:
            while queue and len(running) < parallel:
                job, attempt = queue.pop(0)
                Path(job.out).unlink(missing_ok=True)
                running[job.student] = (start(job), job, attempt)
            time.sleep(poll_seconds)
            for student in list(running):
                proc, job, attempt = running[student]
                overtime = time.monotonic() - proc.started > timeout
                if proc.poll() is None and not overtime:
                    continue
                proc.kill()  # a worker over time, or what is left of its session
                del running[student]
                out = Path(job.out)
                if overtime:
                    why = f"grading took longer than {timeout:g} s and was stopped"
                    results = [GradeResult.failed(student, a, why, STUDENT)
                               for a in job.assignments]
                elif out.is_file():
                    results = read_results(out)
                else:
                    why = (f"the grading worker died (exit code {proc.returncode}) before "
                           "writing a result: a problem of the grader, not of the hand-in")
                    results = [GradeResult.failed(student, a, why, GRADER)
                               for a in job.assignments]
                if any(r.fault == GRADER for r in results) and attempt < retries:
                    queue.append((job, attempt + 1))
                    continue
                finish(job, results)
    finally:
        for proc, _job, _attempt in running.values():
            proc.kill()
