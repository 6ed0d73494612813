"""Execute a notebook headless and save its printed lines (and errors) as JSON.

    python _run_lecture.py NOTEBOOK OUT.json

The kernel inherits this process's environment (tests/test_student_bundle.py sets PYTHONPATH
to the library under test). Output: a list of ``[cell index, text]``.
"""

import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(notebook: str, out: str) -> None:
    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="training-nn", timeout=300, allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                printed.append([index, output["text"]])
            elif output.get("output_type") == "error":
                printed.append([index, f"ERROR {output['ename']}: {output['evalue']}"])
    Path(out).write_text(json.dumps(printed))


if __name__ == "__main__":
    main(*sys.argv[1:3])
