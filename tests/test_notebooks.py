"""Every lecture and solution notebook runs top to bottom, headless, within its time budget."""

import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(ROOT.glob("lectures/*.ipynb")) + sorted(ROOT.glob("solutions/*/*.ipynb"))
# Seconds on a 2-core CPU; lectures promise to run in under a minute.
BUDGET = {"lectures": 60, "solutions": 60}


def run_notebook(path: Path) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="training-nn", timeout=300,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute(env={**os.environ, "MPLBACKEND": "Agg"})
    return nb, time.perf_counter() - start


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_executes_within_budget(path):
    nb, seconds = run_notebook(path)
    budget = BUDGET[path.relative_to(ROOT).parts[0]]
    print(f"{path.relative_to(ROOT)}: {seconds:.1f} s (budget {budget} s)")
    assert seconds < budget, f"{path.name} took {seconds:.1f} s, over its {budget} s budget"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
