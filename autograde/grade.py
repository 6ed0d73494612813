"""``make grade``: grade autograde/submitted/<student>/<assignment>/ with nbgrader.

Writes the gradebook (autograde/gradebook.db), feedback HTML (autograde/feedback/) and
autograde/grades.csv, then prints a summary table. Options:

    python -m autograde.grade [--student ID ...] [--assignment NAME ...] [--timeout SECONDS]
"""

import argparse
import sys

from autograde.course import REPO_ROOT, find_submissions, grade, summary_table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    parser.add_argument("--assignment", action="append", help="grade only this assignment")
    parser.add_argument("--timeout", type=int, help="per-cell time limit in seconds")
    args = parser.parse_args(argv)
    if not find_submissions(REPO_ROOT):
        print("Nothing to grade: put hand-ins in autograde/submitted/<student>/<assignment>/ "
              "(see README, 'Instructor guide').")
        return 0
    overrides = {"Execute.timeout": args.timeout} if args.timeout else {}
    results = grade(REPO_ROOT, students=args.student, assignments=args.assignment,
                    config_overrides=overrides)
    print(summary_table(results))
    print("gradebook: autograde/gradebook.db  feedback: autograde/feedback/  "
          "grades: autograde/grades.csv")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
