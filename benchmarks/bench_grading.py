"""Grading throughput: plain sequential ``nbgrader autograde`` vs the course's parallel grader,
side by side in one run, on the same generated hand-ins of every assignment.

    python benchmarks/bench_grading.py [--n 40] [--jobs CORES] [--timeout 120] [--keep DIR]

For each assignment in solutions/, N hand-ins are generated from the released notebook
(cycling: the solution, the one-bug submission of tests/one_bug/, the blank release). Both
graders get a fresh copy of the course with the same hand-ins; neither writes feedback.
Prints each grader's wall time, the ratio (sequential / parallel) and whether every
per-cell score is identical.
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
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="parallel workers")
    parser.add_argument("--timeout", type=int, default=120, help="per-cell time limit (s)")
    parser.add_argument("--keep", help="grade in this folder and keep it (default: a temp dir)")
    args = parser.parse_args()
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-grading-"))
    seq_root, par_root = base / "sequential", base / "parallel"
    pairs = make_course(seq_root, args.n)
    make_course(par_root, args.n)
    print(f"{len(pairs)} hand-ins ({args.n} per assignment x {len(pairs) // args.n} assignment(s)); "
          f"{os.cpu_count()} CPU cores; sandbox: {'bwrap' if sandbox.bwrap_available() else 'none'}")

    t0 = time.perf_counter()
    seq = plain_nbgrader(seq_root, pairs, args.timeout)
    t_seq = time.perf_counter() - t0

    t0 = time.perf_counter()
    results = grade(par_root, jobs=args.jobs, feedback=False, resume=False,
                    config_overrides={"Execute.timeout": args.timeout})
    t_par = time.perf_counter() - t0
    par = {(r.student, r.assignment): ({k: tuple(v) for k, v in r.cells.items()} if r.ok else None)
           for r in results}

    same = seq == par
    print(f"{'grader':<34} {'seconds':>9} {'hand-ins/s':>11}")
    print(f"{'nbgrader autograde, sequential':<34} {t_seq:9.1f} {len(pairs) / t_seq:11.2f}")
    print(f"{'course grader, ' + str(args.jobs) + ' workers':<34} {t_par:9.1f} {len(pairs) / t_par:11.2f}")
    print(f"ratio (sequential / parallel): {t_seq / t_par:.2f}x")
    print(f"grades identical: {'yes' if same else 'NO'}")
    if not same:
        for key in sorted(set(seq) | set(par)):
            if seq.get(key) != par.get(key):
                print("  differs:", key, seq.get(key), par.get(key))
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
