"""Grading throughput: plain sequential ``nbgrader autograde`` vs the course's parallel grader,
side by side in one run, on the same generated hand-ins of every assignment.

    python benchmarks/bench_grading.py [--n 40] [--jobs 1,2,4,...] [--timeout 120] [--keep DIR]

For each assignment in solutions/, N hand-ins are generated from the released notebook
(cycling: the solution, the one-bug submission of tests/one_bug/, the blank release). Plain
sequential ``nbgrader autograde`` grades them once; the course's grader grades them at 1, 2,
4, ... jobs up to the machine's cores (``--jobs`` picks the list), each on a fresh copy of
the course, without feedback. Prints a scaling table: hand-ins per minute, the speed-up over
sequential nbgrader, and whether every per-cell score equals sequential nbgrader's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograde import corpus, sandbox  # noqa: E402
from autograde.course import (  # noqa: E402
    REPO_ROOT,
    assignment_ids,
    course_config,
    generate_assignments,
    nbgrader_api,
)
from autograde.gradebook import read_scores  # noqa: E402
from autograde.run import grade  # noqa: E402


def one_bug(aid: str):
    path = REPO_ROOT / "tests" / "one_bug" / f"{aid}.py"
    spec = importlib.util.spec_from_file_location(f"bug_{aid}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_course(root: Path, n: int) -> list[tuple[str, str]]:
    pairs = []
    for aid in assignment_ids(REPO_ROOT):
        for folder in ("solutions", "exercises"):
            shutil.copytree(REPO_ROOT / folder / aid, root / folder / aid)
        bug = one_bug(aid)
        variants = [corpus.filled_in(aid), corpus.filled_in(aid, replace={bug.CELL: bug.SOURCE.strip("\n")}),
                    corpus.load(aid)[1]]
        for i in range(n):
            student = f"student{i:03d}"
            corpus.write(corpus.Case(student, {f"{aid}.ipynb": variants[i % 3]}),
                         root / "autograde" / "submitted", student, aid)
            pairs.append((student, aid))
    return pairs


def plain_nbgrader(root: Path, pairs, timeout: int) -> dict:
    """nbgrader's own loop: one process, one shared gradebook, one hand-in after another."""
    generate_assignments(root, release_dir="autograde/.release")
    config = course_config(root, **{"Execute.timeout": timeout})
    api = nbgrader_api(config)
    scores = {}
    for student, aid in pairs:
        out = api.autograde(aid, student, force=True, create=True)
        scores[(student, aid)] = (read_scores(config.CourseDirectory.db_url, student, aid)[2]
                                  if out["success"] else None)
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="hand-ins per assignment (default 40)")
    parser.add_argument("--jobs", default="",
                        help="comma-separated job counts (default: 1, 2, 4, ... up to the cores)")
    parser.add_argument("--gpu", action="store_true", help="grade with --gpu (kernels see it)")
    parser.add_argument("--timeout", type=int, default=120, help="per-cell time limit (s)")
    parser.add_argument("--keep", help="grade in this folder and keep it (default: a temp dir)")
    args = parser.parse_args()
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    cores = os.cpu_count() or 1
    if args.jobs:
        job_counts = [int(j) for j in args.jobs.split(",")]
    else:
        job_counts = [1]
        while job_counts[-1] * 2 <= cores:
            job_counts.append(job_counts[-1] * 2)
        if job_counts[-1] != cores:
            job_counts.append(cores)
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-grading-"))
    seq_root = base / "sequential"
    pairs = make_course(seq_root, args.n)
    print(f"{len(pairs)} hand-ins ({args.n} per assignment x {len(pairs) // args.n} assignment(s)); "
          f"{cores} CPU cores; sandbox: {'bwrap' if sandbox.bwrap_available() else 'none'}; "
          f"GPU to kernels: {'yes' if args.gpu else 'no'}")

    t0 = time.perf_counter()
    seq = plain_nbgrader(seq_root, pairs, args.timeout)
    t_seq = time.perf_counter() - t0
    rows = [("nbgrader autograde, sequential", t_seq, "reference")]
    all_same = True
    for jobs in job_counts:
        par_root = base / f"parallel-{jobs}"
        make_course(par_root, args.n)
        t0 = time.perf_counter()
        results = grade(par_root, jobs=jobs, feedback=False, resume=False, progress=False,
                        config_overrides={"Execute.timeout": args.timeout}, gpu=args.gpu,
                        sandbox=None if sandbox.bwrap_available() else False)
        elapsed = time.perf_counter() - t0
        par = {(r.student, r.assignment): ({k: tuple(v) for k, v in r.cells.items()}
                                           if r.ok else None) for r in results}
        same = seq == par
        all_same &= same
        rows.append((f"course grader, {jobs} job(s)", elapsed, "identical" if same else "DIFFER"))
        if not same:
            for key in sorted(set(seq) | set(par)):
                if seq.get(key) != par.get(key):
                    print("  differs:", jobs, key, seq.get(key), par.get(key))
        if not args.keep:
            shutil.rmtree(par_root, ignore_errors=True)

    print(f"\n{'grader':<34} {'seconds':>9} {'hand-ins/min':>13} {'speed-up':>9}  grades")
    for name, seconds, grades in rows:
        print(f"{name:<34} {seconds:9.1f} {60 * len(pairs) / seconds:13.1f} "
              f"{t_seq / seconds:8.2f}x  {grades}")
    print(f"grades identical to sequential nbgrader at every job count: "
          f"{'yes' if all_same else 'NO'}")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if all_same else 1


if __name__ == "__main__":
    sys.exit(main())
