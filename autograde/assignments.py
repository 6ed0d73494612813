"""``make assignments``: regenerate exercises/ from solutions/ with nbgrader, and the course
maps from the topic list (tnn/topics.py)."""

from autograde import coursemap
from autograde.course import REPO_ROOT, assignment_ids, generate_assignments


def main() -> None:
    names = assignment_ids(REPO_ROOT)
    generate_assignments(REPO_ROOT)
    print(f"regenerated exercises/ for {len(names)} assignment(s): {', '.join(names)}")
    for path in coursemap.write(REPO_ROOT):  # the course maps follow tnn/topics.py
        print(f"rewrote the course map in {path}")


if __name__ == "__main__":
    main()
