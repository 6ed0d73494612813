"""``make assignments``: regenerate exercises/ from solutions/ with nbgrader."""

from autograde.course import REPO_ROOT, assignment_ids, generate_assignments


def main() -> None:
    names = assignment_ids(REPO_ROOT)
    generate_assignments(REPO_ROOT)
    print(f"regenerated exercises/ for {len(names)} assignment(s): {', '.join(names)}")


if __name__ == "__main__":
    main()
