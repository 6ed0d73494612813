"""``make check``: run the visible tests of your exercises and report each test cell.

    python -m tnn.check exercises            # every exercise notebook under exercises/
    python -m tnn.check path/to/notebook.ipynb

Each notebook runs top to bottom in a fresh kernel, in its own folder, on a copy (your
notebooks are not changed). Every visible test cell is reported as ``passed``, ``unfinished``
(a function still raises ``NotImplementedError``) or ``failed`` with the check's message;
hidden-test cells (empty here) as ``hidden``. The exit
status is 0 unless a test failed for another reason than an unfinished function.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

UNFINISHED = ("not implemented yet", "NotImplementedError")


def _test_cells(nb):
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            yield index, meta.get("grade_id", f"cell {index}"), cell


def check_notebook(path: Path, kernel: str = "training-nn", timeout: int = 300) -> list[tuple]:
    """``[(grade_id, status, message)]`` for the test cells of ``path``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel, timeout=timeout, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    client.execute()
    report = []
    for _, grade_id, cell in _test_cells(nb):
        code = [ln for ln in cell.source.splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")]
        if not code:  # a hidden-test cell: its tests run only when the work is graded
            report.append((grade_id, "hidden", "runs when your work is graded"))
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            report.append((grade_id, "passed", ""))
            continue
        err = errors[0]
        message = f"{err.get('ename')}: {err.get('evalue')}".strip()
        status = "unfinished" if any(m in message for m in UNFINISHED) else "failed"
        report.append((grade_id, status, message))
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["exercises"])
    parser.add_argument("--kernel", default="training-nn")
    args = parser.parse_args(argv)
    notebooks = []
    for p in map(Path, args.paths):
        notebooks += sorted(p.rglob("*.ipynb")) if p.is_dir() else [p]
    notebooks = [n for n in notebooks if ".ipynb_checkpoints" not in n.parts]
    failed = 0
    for notebook in notebooks:
        print(f"== {notebook}")
        for grade_id, status, message in check_notebook(notebook, args.kernel):
            message = " ".join(message.split())  # one line per test
            print(f"  {status:<10} {grade_id}" + (f": {message[:300]}" if message else ""))
            failed += status == "failed"
    counts = "failed" if failed else "no failures"
    print(f"checked {len(notebooks)} notebook(s): {counts}"
          + ("" if not failed else f" ({failed} test cell(s))"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
