"""``make grade``: grade autograde/submitted/<student>/<assignment>/ with nbgrader, in parallel.

Writes the gradebook (autograde/gradebook.db), feedback HTML (autograde/feedback/) and
autograde/grades.csv, then prints a summary table. An interrupted run (Ctrl-C) resumes where
it stopped when started again. Options:

    python -m autograde.grade [--student ID ...] [--assignment NAME ...] [--timeout SECONDS]
                              [--jobs N] [--memory-mb MB] [--student-timeout SECONDS]
                              [--kernel-cpu SECONDS] [--threads N] [--gpu]
                              [--regrade] [--no-sandbox] [--wait] [--root DIR]
"""

import argparse
import sys
from pathlib import Path

from autograde.course import REPO_ROOT, find_submissions
from autograde.report import summary_table
from autograde.run import grade
from autograde.runstate import AlreadyRunning


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    parser.add_argument("--assignment", action="append", help="grade only this assignment")
    parser.add_argument("--timeout", type=int, help="per-cell time limit in seconds (default 120)")
    parser.add_argument("--jobs", type=int, help="students graded at once (default: CPU cores)")
    parser.add_argument("--memory-mb", type=int, default=4096,
                        help="memory a kernel may use (resident, its children and its /tmp "
                             "included; default 4096)")
    parser.add_argument("--threads", type=int,
                        help="threads per kernel (default: CPU cores / jobs)")
    parser.add_argument("--gpu", action="store_true",
                        help="let kernels use the GPU (each gets 1/jobs of its memory); by "
                             "default kernels see no GPU, so grades never depend on it")
    parser.add_argument("--student-timeout", type=float, default=1800.0,
                        help="wall-time cap per student in seconds")
    parser.add_argument("--kernel-cpu", type=int, default=600,
                        help="CPU-time cap per kernel in seconds")
    parser.add_argument("--regrade", action="store_true",
                        help="grade everyone again, even hand-ins graded by an earlier run")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="accept the risk: run student code without bubblewrap "
                             "(resource limits only; prints a warning)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--wait", action="store_true",
                        help="if another grading run of this course is in progress, wait for it "
                             "instead of stopping")
    parser.add_argument("--root", default=str(REPO_ROOT), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not find_submissions(root):
        print("Nothing to grade: put hand-ins in autograde/submitted/<student>/<assignment>/ "
              "(see autograde/README.md).")
        return 0
    if not args.no_sandbox:
        from autograde import sandbox

        if not sandbox.bwrap_available():
            print(sandbox.REFUSAL.format(sandbox.unavailable_reason()), file=sys.stderr)
            return 2
        print("sandbox: bubblewrap")
    overrides = {"Execute.timeout": args.timeout} if args.timeout else {}
    try:
        results = grade(root, students=args.student, assignments=args.assignment,
                        config_overrides=overrides, jobs=args.jobs, resume=not args.regrade,
                        sandbox=False if args.no_sandbox else None, memory_mb=args.memory_mb,
                        student_timeout=args.student_timeout, kernel_cpu_seconds=args.kernel_cpu,
                        progress=not args.no_progress, wait=args.wait, threads=args.threads,
                        gpu=args.gpu)
    except AlreadyRunning as err:
        print(f"make grade: {err}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\ninterrupted: grades merged so far are kept; run `make grade` again to resume.",
              file=sys.stderr)
        return 130
    print(summary_table(results))
    print("gradebook: autograde/gradebook.db  feedback: autograde/feedback/  "
          "grades: autograde/grades.csv")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
