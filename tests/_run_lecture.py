"""Execute a notebook headless and save its printed lines (and errors) as JSON.

    python _run_lecture.py NOTEBOOK OUT.json

The kernel inherits this process's environment (tests/test_student_bundle.py sets PYTHONPATH
to the library under test). Output: a list of ``[cell index, text]``.
"""

import json
import sys
import time
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient


def poll_replies_often(client: NotebookClient, every: float = 1.0) -> None:
    """Make ``client`` look for the kernel's execute replies at least every ``every`` seconds.

    While a cell's widget messages are in flight, a reply that has already arrived is
    sometimes noticed only when the client's wait for it runs out, and then without an error
    (seen with nbclient 0.11 and pyzmq: 5 of 40 moves of lecture 06's explorer waited exactly
    the cell timeout, the kernel done in 0.1-0.3 s). Waiting in short slices finds such a
    reply within a slice; a cell that really runs too long still meets its timeout.
    """
    channel = client.kc.shell_channel
    get_msg = channel.get_msg

    async def sliced(timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = every if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await get_msg(timeout=min(every, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    channel.get_msg = sliced


def main(notebook: str, out: str) -> None:
    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="training-nn", timeout=300, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.on_notebook_start = lambda **_: poll_replies_often(client)
    client.execute()
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
