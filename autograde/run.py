"""``grade()``: grade a class's hand-ins with nbgrader, in parallel, resumably, one run at a
time.

The steps, in order (each a function below):

1. **plan**: find ``autograde/submitted/<student>/<assignment>/`` and group it per student;
2. **record sources**: ``generate_assignment`` records each assignment in the gradebook, and
   a student-free copy of it becomes each worker's starting gradebook;
3. **skip unchanged**: a student whose final results' fingerprint (hand-ins, sources, course
   library, grader, settings) still matches is not graded again;
4. **run**: one worker per student (:mod:`autograde.pool`) with the sandboxed kernel
   (:mod:`autograde.sandbox`), merged into ``autograde/gradebook.db`` as each finishes;
5. **export**: ``autograde/grades.csv`` (:mod:`autograde.report`).

The whole run holds the course's lock (:class:`autograde.runstate.RunLock`) and works in a
private folder; a run killed at any moment loses at most the students being graded, and the
next run grades them again.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from autograde import gradebook, pool, runstate
from autograde import sandbox as sb
from autograde.course import REPO_ROOT, assignment_ids, find_submissions, generate_assignments
from autograde.feedback import autograde_preprocessors
from autograde.graded import build_stripped_library
from autograde.report import export_grades
from autograde.results import GradeResult, Job

#: The environment variable every process of a run carries (workers and kernels): it names
#: the course, so a test can prove that nothing of a killed run is left.
RUN_MARKER = "TNN_GRADING_COURSE"


@dataclass
class Plan:
    """What one run grades: assignments per student, and hand-ins it cannot grade."""

    by_student: dict[str, list[str]] = field(default_factory=dict)
    unknown: list[GradeResult] = field(default_factory=list)

    @property
    def assignments(self) -> list[str]:
        return sorted({a for aids in self.by_student.values() for a in aids})


#: a student id the grader uses in file names: letters, digits and ``._@+-``, not leading
#: ``.`` or ``-``, at most 64 characters
STUDENT_ID = re.compile(r"[A-Za-z0-9_@+][A-Za-z0-9._@+-]{0,63}")


def plan(root: Path, students=None, assignments=None) -> Plan:
    """Step 1: the hand-ins to grade, grouped per student (an invalid id fails alone)."""
    known = set(assignment_ids(root))
    out = Plan()
    for s, a in find_submissions(root):
        if (students is not None and s not in students) or (
                assignments is not None and a not in assignments):
            continue
        if not STUDENT_ID.fullmatch(s):
            out.unknown.append(GradeResult.failed(
                s[:80], a, f"invalid student id {s[:80]!r}: use at most 64 letters, digits "
                "or ._@+- (not starting with . or -); rename the folder", "student"))
        elif a in known:
            out.by_student.setdefault(s, []).append(a)
        else:
            out.unknown.append(GradeResult.failed(
                s, a, f"no assignment named {a!r} in solutions/", "student"))
    return out


def record_sources(root: Path, aids: list[str], run_folder: Path) -> Path:
    """Step 2: record the assignments in the gradebook; return the workers' template db."""
    main_db = root / "autograde" / "gradebook.db"
    template = run_folder / ".template.db"  # no student id starts with "."
    if aids:
        release = run_folder / "release"
        generate_assignments(root, release_dir=os.path.relpath(release, root), assignments=aids)
        shutil.rmtree(release, ignore_errors=True)
        gradebook.template_gradebook(main_db, template)
    return template


def skip_unchanged(root: Path, the_plan: Plan, settings: dict, finished: runstate.Finished,
                   resume: bool) -> tuple[dict[str, list[GradeResult]], list[tuple]]:
    """Step 3: reuse final results whose fingerprint matches; return (done, to grade)."""
    done, todo = {}, []
    for student, aids in the_plan.by_student.items():
        fp = runstate.fingerprint(root, student, aids, settings)
        saved = finished.load(student, fp) if resume else None
        if saved is not None:
            done[student] = saved
        else:
            todo.append((student, aids, fp))
    return done, todo


def _worker_env(runtime: str, kernels: Path, root: Path) -> dict:
    """The worker's environment: a private runtime folder, the sandboxed kernelspec."""
    here = str(Path(__file__).resolve().parent.parent)
    return dict(
        os.environ,
        # jupyter_client writes the connection file with mkstemp: keep it in the runtime folder
        JUPYTER_RUNTIME_DIR=runtime, TMPDIR=runtime,
        JUPYTER_PATH=os.pathsep.join(p for p in (str(kernels), os.environ.get("JUPYTER_PATH", ""))
                                     if p),
        PYTHONPATH=os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p),
        **{RUN_MARKER: str(root)})


def grade(
    root: Path | str = REPO_ROOT,
    *,
    students=None,
    assignments=None,
    feedback=True,
    export: bool = True,
    progress: bool = True,
    config_overrides: dict | None = None,
    jobs: int | None = None,
    resume: bool = True,
    sandbox: bool | None = None,
    memory_mb: int = 4096,
    student_timeout: float = 1800.0,
    kernel_cpu_seconds: int = 600,
    wait: bool = False,
    threads: int | None = None,
    gpu: bool = False,
) -> list[GradeResult]:
    """Grade every hand-in under ``root/autograde/submitted/<student>/<assignment>/``.

    ``jobs`` students at a time (default: one per CPU core), each in a worker of its own with
    the sandboxed kernel (``sandbox=None`` uses bubblewrap when it works; each kernel gets
    ``memory_mb`` of memory (resident, with its /tmp), ``threads`` threads (default: cores /
    jobs), no GPU unless ``gpu`` (then 1/jobs of its memory), ``kernel_cpu_seconds`` of CPU
    time; a student over ``student_timeout`` seconds is stopped and flagged). ``resume`` skips students graded
    before with the same fingerprint. ``feedback`` is True, False, or the students to write
    feedback HTML for. Raises :class:`autograde.runstate.AlreadyRunning` when another run of
    this course is in progress (``wait=True`` waits for it instead).

    A failed hand-in is reported in its ``GradeResult`` (``ok=False``, ``error``, ``flags``,
    ``fault``) and the run goes on; only the student's own failures are saved as final.

    Workers start from a fork server, which imports the calling script as Python's
    multiprocessing does: a script that calls ``grade()`` does so under
    ``if __name__ == "__main__":`` (the CLI, ``python -m autograde.grade``, does).
    """
    from tqdm.auto import tqdm

    root = Path(root).resolve()
    work = root / "autograde" / ".work"
    work.mkdir(parents=True, exist_ok=True)
    (work / ".gitignore").write_text("# grading run state: never committed\n*\n")
    with runstate.RunLock(work, wait=wait):
        run_folder = runstate.new_run_folder(work)
        the_plan = plan(root, students, assignments)
        template = record_sources(root, the_plan.assignments, run_folder)

        use_bwrap = sb.bwrap_available() if sandbox is None else bool(sandbox)
        if not use_bwrap:
            warnings.warn(sb.WARNING, stacklevel=2)
            print(sb.WARNING, file=sys.stderr)
        overrides = dict(config_overrides or {})
        settings = {"overrides": {k: repr(v) for k, v in overrides.items()}, "bwrap": use_bwrap,
                    "memory_mb": memory_mb, "cpu": kernel_cpu_seconds, "gpu": gpu,
                    "feedback": feedback if isinstance(feedback, bool) else sorted(feedback),
                    "code": runstate.code_version()}
        finished = runstate.Finished(work)
        done, todo = skip_unchanged(root, the_plan, settings, finished, resume)

        kernels = run_folder / "kernels"
        # the kernels' course library: no body of any function an assignment grades
        library = tempfile.mkdtemp(prefix="tnn-library-")
        runstate.note_tmpdir(run_folder, library)
        build_stripped_library(Path(library), root)
        sb.write_kernelspec(kernels, roots=sorted({root, REPO_ROOT}), memory_mb=memory_mb,
                            cpu_seconds=kernel_cpu_seconds, use_bwrap=use_bwrap,
                            library=library, threads=threads or sb.default_threads(jobs),
                            gpu=gpu, gpu_fraction=1 / max(1, jobs or os.cpu_count() or 1))
        overrides.setdefault("Execute.kernel_name", sb.KERNEL_NAME)
        overrides["KernelManager.transport"] = "ipc"
        overrides["Autograde.autograde_preprocessors"] = autograde_preprocessors()  # output caps
        fingerprints = {student: fp for student, _aids, fp in todo}
        main_db = root / "autograde" / "gradebook.db"
        runtimes: dict[str, str] = {}

        def start(job: Job) -> pool.WorkerProcess:
            runtime = tempfile.mkdtemp(prefix="tnn-kernel-run-")
            runstate.note_tmpdir(run_folder, runtime)
            runtimes[job.student] = runtime
            # the kernel's Unix sockets, in a folder the sandbox shares with it alone
            job.overrides["KernelManager.ip"] = f"{runtime}/kernel"
            shutil.copyfile(template, job.db)
            job_file = run_folder / f"{job.student}.job.json"
            job.write(job_file)
            return pool.WorkerProcess(job_file, run_folder / f"{job.student}.log",
                                      _worker_env(runtime, kernels, root), root)

        bar = tqdm(total=len(todo), desc="grading", unit="student", disable=not progress)

        def finish(job: Job, results: list[GradeResult]) -> None:
            shutil.rmtree(runtimes.pop(job.student, ""), ignore_errors=True)
            graded = [r for r in results if r.ok]
            if graded:  # merge before saving: a run killed between the two regrades them
                gradebook.merge_gradebook(main_db, Path(job.db), job.student)
            finished.save(job.student, fingerprints[job.student], results)
            Path(job.db).unlink(missing_ok=True)
            done[job.student] = results
            bar.update(1)

        todo_jobs = [
            Job(root=str(root), student=student, assignments=aids,
                db=str(run_folder / f"{student}.db"), out=str(run_folder / f"{student}.out.json"),
                staging=str(run_folder / "staging"), overrides=dict(overrides),
                feedback=feedback is True or (not isinstance(feedback, bool)
                                              and student in feedback))
            for student, aids, _fp in todo]
        if todo_jobs:
            pool.preload()
        try:
            pool.run_jobs(todo_jobs, start, finish,
                          parallel=max(1, min(jobs or os.cpu_count() or 1, len(todo_jobs) or 1)),
                          timeout=student_timeout)
        finally:
            bar.close()
            for runtime in runtimes.values():
                shutil.rmtree(runtime, ignore_errors=True)
            shutil.rmtree(library, ignore_errors=True)
            if not os.environ.get("TNN_KEEP_RUN_FOLDER"):  # kept for debugging the grader
                shutil.rmtree(run_folder, ignore_errors=True)

        results = list(the_plan.unknown)
        for student in sorted(done):
            results += done[student]
        results.sort(key=lambda r: (r.student, r.assignment))
        if export:
            export_grades(main_db, root / "autograde" / "grades.csv", results)
        return results
