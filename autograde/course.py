"""The course's nbgrader driver: generate student versions and grade hand-ins.

nbgrader does the grading (``NbGraderAPI.generate_assignment``, ``.autograde``,
``.generate_feedback``); this module points it at the course's folders and runs it at class
scale: one forked worker per student (:mod:`autograde.worker`) with a private gradebook,
merged into ``autograde/gradebook.db``; sandboxed kernels (:mod:`autograde.sandbox`); checks
of each hand-in (:mod:`autograde.checks`); resuming; a per-question CSV and a summary table.
See autograde/README.md.

``root`` is the course directory (the repository root). Tests pass a temporary copy.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO_ROOT / "autograde" / "nbgrader_config.py"


def _ensure_tools_on_path() -> None:
    """nbgrader runs ``alembic`` as a command: put this interpreter's bin/ first on PATH."""
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def course_config(root: Path | str = REPO_ROOT, **overrides) -> Config:
    """The course's nbgrader ``Config`` with its folders under ``root``.

    ``overrides`` set traits by dotted name, e.g. ``{"Execute.timeout": 10}``.
    """
    root = Path(root).resolve()
    (root / "autograde").mkdir(parents=True, exist_ok=True)  # where the gradebook lives
    loader = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent))
    config = loader.load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = "sqlite:///" + str(root / "autograde" / "gradebook.db")
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from autograde.feedback import HideHiddenTests

    config.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    for dotted, value in overrides.items():
        section, trait = dotted.rsplit(".", 1)
        setattr(getattr(config, section), trait, value)
    return config


def _api(config: Config):
    _ensure_tools_on_path()
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    return NbGraderAPI(coursedir=coursedir, config=config)


def assignment_ids(root: Path | str = REPO_ROOT) -> list[str]:
    """Names of the assignments in ``root/solutions`` (folders holding a notebook), sorted."""
    source = Path(root) / "solutions"
    return sorted(
        p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))
    ) if source.is_dir() else []


def generate_assignments(
    root: Path | str = REPO_ROOT, release_dir: str = "exercises", assignments=None
) -> dict[str, dict]:
    """Run ``nbgrader generate_assignment`` for each assignment into ``root/release_dir``.

    This also records each assignment's grade cells in the gradebook, which autograding
    needs. Returns nbgrader's result dict per assignment; raises ``RuntimeError`` on failure.
    """
    config = course_config(root, **{"CourseDirectory.release_directory": release_dir})
    api = _api(config)
    results = {}
    for aid in assignments or assignment_ids(root):
        result = api.generate_assignment(aid, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"generate_assignment {aid} failed:\n{result.get('error') or result['log']}")
        results[aid] = result
    return results


@dataclass
class GradeResult:
    """Outcome of grading one student's hand-in of one assignment."""

    student: str
    assignment: str
    ok: bool
    score: float | None = None
    max_score: float | None = None
    cells: dict[str, tuple[float | None, float]] = field(default_factory=dict)
    error: str = ""
    flags: list[str] = field(default_factory=list)


def find_submissions(root: Path | str = REPO_ROOT) -> list[tuple[str, str]]:
    """``(student, assignment)`` pairs under ``root/autograde/submitted``, sorted."""
    submitted = Path(root) / "autograde" / "submitted"
    if not submitted.is_dir():
        return []
    pairs = []
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            pairs.append((student_dir.name, assignment_dir.name))
    return pairs


def read_scores(db_url: str, student: str, assignment: str) -> tuple[float, float, dict]:
    """Total score, maximum and per-grade-cell ``{grade_id: (score, max)}`` from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        sub = gb.find_submission(assignment, student)
        cells = {}
        for nb in sub.notebooks:
            for grade in nb.grades:
                cells[grade.name] = (grade.score, grade.max_score)
        return sub.score, sub.max_score, cells


def _template_gradebook(main_db: Path, dest: Path) -> None:
    """Copy the course gradebook without any student data: the base of each worker's db."""
    import sqlite3

    dest.unlink(missing_ok=True)
    with sqlite3.connect(main_db) as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    con = sqlite3.connect(dest)
    with con:
        for table in ("grade", "comment", "submitted_notebook", "submitted_assignment", "student"):
            con.execute(f"DELETE FROM {table}")
    con.execute("VACUUM")
    con.close()


def merge_gradebook(main_db: Path, worker_db: Path, student: str) -> None:
    """Move ``student``'s submissions from a worker's gradebook into the course gradebook.

    One transaction: the student's earlier rows for the same assignments are deleted and the
    worker's rows inserted (nbgrader's row ids are uuid hex strings, so they never collide).
    Assignment, notebook and cell ids agree because the worker's gradebook is a copy.
    """
    import sqlite3

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


def _fingerprint(root: Path, student: str, assignments: list[str], settings: dict) -> str:
    """Hash of a student's hand-ins, the sources and the grading settings (for resuming)."""
    import hashlib

    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for aid in assignments:
        for base in (root / "autograde" / "submitted" / student / aid, root / "solutions" / aid):
            for f in sorted(base.rglob("*")) if base.is_dir() else []:
                if f.is_file():
                    h.update(str(f.relative_to(base)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


class _Worker:
    """A forked child grading one student (``python -m autograde.worker`` without the start-up
    cost: the parent has already imported nbgrader). The child leads its own process group,
    so stopping it also stops its kernel."""

    def __init__(self, job_file: Path, log: Path, env: dict, root: Path):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.process = ctx.Process(target=_worker_entry, args=(str(job_file), str(log), env,
                                                               str(root)))
        self.process.start()
        self.pid = self.process.pid

    def poll(self):
        return None if self.process.is_alive() else self.process.exitcode

    @property
    def returncode(self):
        return self.process.exitcode

    def wait(self):
        self.process.join()


def _worker_entry(job_file: str, log: str, env: dict, root: str) -> None:
    import tempfile

    os.setsid()
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


def _start_worker(job_file: Path, log: Path, env: dict, root: Path) -> _Worker:
    return _Worker(job_file, log, env, root)


def _preload() -> None:
    """Import what workers need once, before forking them."""
    import IPython.core.inputtransformer2  # noqa: F401
    import nbclient  # noqa: F401
    import nbconvert.exporters  # noqa: F401
    from nbgrader.apps.api import NbGraderAPI  # noqa: F401

    from autograde import checks, worker  # noqa: F401


def _kill_group(proc) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # not yet its own group leader
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


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
) -> list[GradeResult]:
    """Grade every hand-in under ``root/autograde/submitted/<student>/<assignment>/``.

    nbgrader does the grading; this adds, around it:

    1. the assignments' source is recorded in ``autograde/gradebook.db`` (generate_assignment);
    2. each student is graded in a process of their own (``jobs`` at a time, default: one per
       CPU core) into a private copy of the gradebook, with the sandboxed kernel
       (:mod:`autograde.sandbox`; ``sandbox=None`` uses it when bwrap works; each kernel gets
       ``memory_mb`` of address space and ``kernel_cpu_seconds`` of CPU time), which is
       merged into the course gradebook as soon as the student is done; a student whose
       grading takes longer than ``student_timeout`` seconds is stopped and flagged;
    3. a student whose hand-ins and settings did not change since their last merge is not
       graded again (``resume``), so an interrupted run picks up where it stopped;
    4. feedback HTML in ``autograde/feedback/`` (hidden tests' source left out; ``feedback``
       is True, False, or the students to write it for) and ``autograde/grades.csv`` with
       per-assignment and per-question scores.

    A student whose grading fails (corrupt notebook, dead kernel, time cap) is reported in
    their ``GradeResult`` (``ok=False``, ``error``, ``flags``) and the run goes on.
    """
    import tempfile
    import time
    import warnings

    from tqdm.auto import tqdm

    from autograde import sandbox as sb

    root = Path(root).resolve()
    pairs = [
        (s, a) for s, a in find_submissions(root)
        if (students is None or s in students) and (assignments is None or a in assignments)
    ]
    known = set(assignment_ids(root))
    results: list[GradeResult] = []
    by_student: dict[str, list[str]] = {}
    for s, a in pairs:
        if a in known:
            by_student.setdefault(s, []).append(a)
        else:
            results.append(GradeResult(s, a, False, error=f"no assignment named {a!r} in solutions/",
                                       flags=["unknown assignment folder"]))
    needed = sorted({a for aids in by_student.values() for a in aids})
    work = root / "autograde" / ".work"
    state_dir = work / "done"
    state_dir.mkdir(parents=True, exist_ok=True)
    (work / ".gitignore").write_text("# grading run state: never committed\n*\n")
    main_db = root / "autograde" / "gradebook.db"
    if needed:
        generate_assignments(root, release_dir="autograde/.release", assignments=needed)
        shutil.rmtree(root / "autograde" / ".release", ignore_errors=True)
        _template_gradebook(main_db, work / "template.db")

    use_bwrap = sb.bwrap_available() if sandbox is None else bool(sandbox)
    if not use_bwrap:
        warnings.warn(sb.WARNING, stacklevel=2)
        print(sb.WARNING, file=sys.stderr)
    overrides = dict(config_overrides or {})
    settings = {"overrides": {k: repr(v) for k, v in overrides.items()}, "bwrap": use_bwrap,
                "memory_mb": memory_mb, "cpu": kernel_cpu_seconds,
                "feedback": feedback if isinstance(feedback, bool) else sorted(feedback)}

    todo, done = [], {}
    for student, aids in by_student.items():
        fp = _fingerprint(root, student, aids, settings)
        state = state_dir / f"{student}.json"
        if resume and state.is_file():
            saved = json.loads(state.read_text())
            if saved.get("fingerprint") == fp:
                done[student] = [GradeResult(**r) for r in saved["results"]]
                continue
        todo.append((student, aids, fp))

    kernels = Path(tempfile.mkdtemp(prefix="tnn-grading-kernels-"))
    sb.write_kernelspec(kernels, roots=sorted({root, REPO_ROOT}), memory_mb=memory_mb,
                        cpu_seconds=kernel_cpu_seconds, use_bwrap=use_bwrap)
    overrides.setdefault("Execute.kernel_name", sb.KERNEL_NAME)
    overrides["KernelManager.transport"] = "ipc"
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo) or 1))
    if todo:
        _preload()
    bar = tqdm(total=len(todo), desc="grading", unit="student", disable=not progress)
    running: dict[str, tuple] = {}
    queue = list(todo)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                student, aids, fp = queue.pop(0)
                runtime = tempfile.mkdtemp(prefix="tnn-kernel-run-")
                wdb = work / f"{student}.db"
                shutil.copyfile(work / "template.db", wdb)
                job = {"root": str(root), "student": student, "assignments": aids,
                       "db": str(wdb), "out": str(work / f"{student}.out.json"),
                       "staging": str(work / "staging"),
                       # the kernel's Unix sockets, in a folder the sandbox shares with it
                       "overrides": dict(overrides, **{"KernelManager.ip": f"{runtime}/kernel"}),
                       "feedback": feedback is True or (
                           not isinstance(feedback, bool) and student in feedback)}
                Path(job["out"]).unlink(missing_ok=True)
                (work / f"{student}.job.json").write_text(json.dumps(job))
                # TMPDIR: jupyter_client writes the connection file with mkstemp
                env = dict(os.environ, JUPYTER_RUNTIME_DIR=runtime, TMPDIR=runtime, JUPYTER_PATH=os.pathsep.join(
                    p for p in (str(kernels), os.environ.get("JUPYTER_PATH", "")) if p),
                    PYTHONPATH=os.pathsep.join(p for p in (str(Path(__file__).resolve().parent.parent),
                                                           os.environ.get("PYTHONPATH", "")) if p))
                proc = _start_worker(work / f"{student}.job.json", work / f"{student}.log", env, root)
                running[student] = (proc, aids, fp, time.monotonic(), runtime, job)
            time.sleep(0.05)
            for student in list(running):
                proc, aids, fp, started, runtime, job = running[student]
                overtime = time.monotonic() - started > student_timeout
                if proc.poll() is None and not overtime:
                    continue
                _kill_group(proc)  # a worker over time, or what is left of its process group
                shutil.rmtree(runtime, ignore_errors=True)
                del running[student]
                out = Path(job["out"])
                if out.is_file():
                    merge_gradebook(main_db, Path(job["db"]), student)
                    student_results = [GradeResult(**r) for r in json.loads(out.read_text())]
                else:
                    why = (f"grading took longer than {student_timeout:g} s and was stopped"
                           if overtime else
                           f"the grading process died (exit code {proc.returncode}); see "
                           f"autograde/.work/{student}.log")
                    student_results = [GradeResult(student, a, False, error=why, flags=[why])
                                       for a in aids]
                state = state_dir / f"{student}.json"
                tmp = state.with_suffix(".tmp")
                tmp.write_text(json.dumps({"fingerprint": fp, "results": [
                    r.__dict__ for r in student_results]}))
                tmp.replace(state)
                for f in (Path(job["db"]), out, work / f"{student}.job.json"):
                    f.unlink(missing_ok=True)
                done[student] = student_results
                bar.update(1)
    finally:
        for proc, _aids, _fp, _started, runtime, _job in running.values():
            _kill_group(proc)
            shutil.rmtree(runtime, ignore_errors=True)
        bar.close()
        shutil.rmtree(kernels, ignore_errors=True)
    for student in sorted(done):
        results += done[student]
    results.sort(key=lambda r: (r.student, r.assignment))
    if export:
        export_grades(main_db, root / "autograde" / "grades.csv", results)
    return results


def export_grades(db: Path | str, dest: Path, results: list[GradeResult] | None = None) -> Path:
    """Write ``dest``: one row per student and assignment, with per-question scores.

    Columns: ``student, assignment, score, max_score, status, flags``, then one
    ``<grade_id>`` column per grade cell of every assignment (empty when not applicable).
    ``db`` is the gradebook path or an nbgrader ``db_url``.
    """
    import csv

    from nbgrader.api import Gradebook

    db_url = str(db) if str(db).startswith("sqlite:") else "sqlite:///" + str(db)
    by_pair = {(r.student, r.assignment): r for r in results or []}
    rows, columns = [], []
    with Gradebook(db_url) as gb:
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
                    row.update(score=sub.score, max_score=sub.max_score, status="graded")
                    for nb in sub.notebooks:
                        for g in nb.grades:
                            row[f"{assignment.name}:{g.name}"] = g.score
                else:
                    row.update(score="", max_score=assignment.max_score, status="failed")
                row["flags"] = " | ".join(r.flags) if r else ""
                if r is not None and not r.ok:
                    row["status"] = "failed: " + (r.error.strip().splitlines() or [""])[-1][:200]
                rows.append(row)
    for (student, aid), r in sorted(by_pair.items()):
        rows.append({"student": student, "assignment": aid, "score": "", "max_score": "",
                     "status": "failed: " + (r.error.strip().splitlines() or [""])[-1][:200],
                     "flags": " | ".join(r.flags)})
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
        else:
            status = "FAILED: " + (r.error.strip().splitlines() or [""])[-1][:60]
        lines.append(f"{r.student:<20} {r.assignment:<24} {score:>12}  {status}")
        lines += [f"{'':<20}   flag: {flag[:100]}" for flag in r.flags]
    graded = sum(r.ok for r in results)
    lines.append(f"{graded} of {len(results)} hand-in(s) graded, "
                 f"{sum(bool(r.flags) or not r.ok for r in results)} flagged")
    return "\n".join(lines)
