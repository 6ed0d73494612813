"""What a grading run keeps between runs, and what keeps two runs apart.

- :class:`RunLock`: one grading run per course at a time (an OS lock on
  ``autograde/.work/grade.lock``, released by the kernel however the run dies; a second run
  stops at once with a message naming the first, or waits with ``wait=True``).
- :func:`new_run_folder`: a private folder per run (staging, per-student gradebooks, jobs,
  logs), and the removal of what runs that were killed left behind.
- :func:`fingerprint` and :class:`Finished`: a student whose hand-ins, the assignment source,
  the course library, the grader and its settings are all unchanged since their last final
  result is not graded again, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from autograde.results import GradeResult

LIBRARY = Path(__file__).resolve().parent.parent  # the course library and grader graded with


class AlreadyRunning(RuntimeError):
    """Another grading run holds the course's lock."""


class RunLock:
    """Exclusive lock on ``work/grade.lock`` for the life of one grading run."""

    def __init__(self, work: Path, wait: bool = False):
        self.path = Path(work) / "grade.lock"
        self.wait = wait
        self.fd = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"another grading run is in progress for this course ({holder}).\n"
                "Wait for it to finish, stop it (Ctrl-C in its terminal, or kill its pid: "
                "the next run resumes where it stopped), or queue behind it with "
                "`make grade GRADE_ARGS=--wait`.") from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
        os.pwrite(fd, f"pid {os.getpid()}, started {started}: {' '.join(sys.argv)[:300]}\n"
                  .encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def new_run_folder(work: Path) -> Path:
    """A fresh private folder for this run; remove those of earlier runs (call under the lock:
    no other run is alive, and a killed run's workers died with it)."""
    runs = Path(work) / "runs"
    if runs.is_dir():
        for old in runs.iterdir():
            for line in (old / "tmpdirs").read_text().split() if (old / "tmpdirs").is_file() else []:
                shutil.rmtree(line, ignore_errors=True)  # runtime folders outside the course
            shutil.rmtree(old, ignore_errors=True)
    folder = runs / f"{os.getpid()}-{time.time_ns()}"
    (folder / "staging").mkdir(parents=True)
    return folder


def note_tmpdir(run_folder: Path, path: str) -> None:
    """Remember a folder outside the course that this run must remove (even if killed)."""
    with open(Path(run_folder) / "tmpdirs", "a") as fh:
        fh.write(path + "\n")


def _hash_tree(h, base: Path, pattern: str = "*") -> None:
    for f in sorted(base.rglob(pattern)) if base.is_dir() else []:
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(base)).encode() + b"\0" + f.read_bytes() + b"\0")


def code_version() -> str:
    """Hash of the course library and the grader: a fixed reference changes every grade."""
    h = hashlib.sha256()
    for package in ("tnn", "autograde"):
        _hash_tree(h, LIBRARY / package, "*.py")
    return h.hexdigest()


def fingerprint(root: Path, student: str, assignments: list[str], settings: dict) -> str:
    """Hash of a student's hand-ins, the assignment sources and the grading settings."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for aid in assignments:
        for base in (root / "autograde" / "submitted" / student / aid, root / "solutions" / aid):
            _hash_tree(h, base)
    return h.hexdigest()


class Finished:
    """Final results saved per student (``work/done/<student>.json``), with their fingerprint."""

    def __init__(self, work: Path):
        self.dir = Path(work) / "done"
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, student: str) -> Path:
        return self.dir / f"{student}.json"

    def load(self, student: str, fp: str) -> list[GradeResult] | None:
        """The saved results when their fingerprint is ``fp``, else None."""
        path = self._path(student)
        if not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if saved.get("fingerprint") != fp:
            return None
        results = [GradeResult.from_dict(r) for r in saved["results"]]
        return results if all(r.final for r in results) else None

    def save(self, student: str, fp: str, results: list[GradeResult]) -> None:
        """Save ``results`` if every one is final; a grader failure is never saved."""
        if not all(r.final for r in results):
            self._path(student).unlink(missing_ok=True)
            return
        path = self._path(student)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps({"fingerprint": fp,
                                   "results": [r.to_dict() for r in results]}))
        tmp.replace(path)

