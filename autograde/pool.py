"""Worker processes: one child per student, never outliving the run.

Each worker is forked from a fork server (multiprocessing's ``forkserver``), a clean process
that has imported nbgrader once, so a worker starts in milliseconds. Workers are never forked
from the run itself: a run that has already used PyTorch or BLAS thread pools (a test
session, a notebook) would hand its children a copied thread pool whose threads do not exist
there, and the first parallel operation in the child (the grader runs the solution's test
cells, e.g. a convolution) waits for them for ever. A worker leads its own session (stopping
it stops its kernel too) and asks the Linux kernel to kill it when its parent dies, however it
dies (``PR_SET_PDEATHSIG``); the fork server exits when the run does, so a run killed with
``kill -9`` leaves no worker grading on behind a restarted run.

:func:`run_jobs` keeps ``parallel`` workers busy, stops a worker past its wall-time cap, and
retries a job whose failure was the grader's (the worker died without a result, or reported a
grader failure) at most ``retries`` times. It also caps each worker's own memory (what it
grew by since the fork: outputs of a hand-in are what makes it grow) and turns the notes the
kernel's watchdog and the output caps leave (:func:`autograde.sandbox.note_limit`) into the
student's flags. A job whose worker cannot even start is that job's grader failure; the
others go on.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from autograde.results import GRADER, STUDENT, GradeResult, Job, read_results
from autograde.sandbox import NOTES_ENV, die_with_parent, read_notes, resident_bytes

#: how much a grading worker may grow past the run's own memory before it is stopped
WORKER_MEMORY_MB = 2048


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
    """A child of the fork server running :func:`autograde.worker.main` on one job file."""

    def __init__(self, job_file: Path, log: Path, env: dict, root: Path,
                 memory_mb: int = WORKER_MEMORY_MB):
        import multiprocessing

        ctx = multiprocessing.get_context("forkserver")
        # where the kernels' watchdog and the output caps note the limits that fired
        self.notes = Path(str(log) + ".limits")
        self.notes.unlink(missing_ok=True)
        env = dict(env, **{NOTES_ENV: str(self.notes)})
        self.memory_cap = _BASELINE_BYTES + memory_mb * 2**20
        self.memory_mb = memory_mb
        self.process = ctx.Process(target=_worker_entry,
                                   args=(str(job_file), str(log), env, str(root)))
        self.process.start()
        self.pid = self.process.pid
        self.started = time.monotonic()

    def over_memory(self) -> bool:
        """Whether the worker itself (not its kernel) holds more than its cap."""
        return resident_bytes(self.pid) > self.memory_cap

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


#: what the fork server imports once, so that each worker starts without importing them
PRELOAD = ["IPython.core.inputtransformer2", "nbclient", "nbconvert.exporters",
           "nbgrader.apps.api", "autograde.checks", "autograde.worker"]
#: a worker's memory at its start (the fork server's, with PRELOAD imported): its cap counts
#: from there
_BASELINE_BYTES = 512 * 2**20


def preload() -> None:
    """Start the fork server with what workers need imported (once per process)."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)


def apply_notes(results: list[GradeResult], notes: list[tuple[str, str]]) -> None:
    """Add each limit note to the flags of its assignment's result (all when unnamed); a
    hand-in that failed because a limit fired gets that limit as its reason."""
    for where, message in notes:
        for r in results:
            if where and where != r.assignment:
                continue
            if message not in r.flags:
                r.flags.append(message)
            if not r.ok and message.startswith("memory cap"):
                r.error, r.fault = message, STUDENT


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
                try:
                    running[job.student] = (start(job), job, attempt)
                except Exception as err:  # noqa: BLE001 - this job only: the batch goes on
                    why = f"could not start grading: {type(err).__name__}: {err}"[:500]
                    finish(job, [GradeResult.failed(job.student, a, why, GRADER)
                                 for a in job.assignments])
            time.sleep(poll_seconds)
            for student in list(running):
                proc, job, attempt = running[student]
                overtime = time.monotonic() - proc.started > timeout
                too_big = proc.poll() is None and getattr(proc, "over_memory", bool)()
                if proc.poll() is None and not overtime and not too_big:
                    continue
                proc.kill()  # a worker over time, or what is left of its session
                del running[student]
                out = Path(job.out)
                if too_big:
                    why = (f"the hand-in's outputs made its grading worker use more than "
                           f"{proc.memory_mb} MB of memory: stopped")
                    results = [GradeResult.failed(student, a, why, STUDENT)
                               for a in job.assignments]
                elif overtime:
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
                if getattr(proc, "notes", None) is not None:
                    apply_notes(results, read_notes(proc.notes))
                if any(r.fault == GRADER for r in results) and attempt < retries:
                    queue.append((job, attempt + 1))
                    continue
                finish(job, results)
    finally:
        for proc, _job, _attempt in running.values():
            proc.kill()
