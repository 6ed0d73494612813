"""Every lecture and solution notebook runs top to bottom, headless, within its time budget.

These tests measure wall time, so they are marked ``timed``: ``make test`` runs them on their
own after the parallel phase, where no other test competes for the two cores.
"""

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


def run_notebook(path: Path) -> tuple[nbformat.NotebookNode, float, list[tuple[float, int]]]:
    """Execute ``path``; return the notebook, its wall time and (seconds, index) per code cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="training-nn", timeout=300,
                            resources={"metadata": {"path": str(path.parent)}})
    cells = []
    start = time.perf_counter()
    with client.setup_kernel(env={**os.environ, "MPLBACKEND": "Agg"}):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                t = time.perf_counter()
                client.execute_cell(cell, index)
                cells.append((time.perf_counter() - t, index))
    return nb, time.perf_counter() - start, cells


@pytest.mark.slow
@pytest.mark.timed
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_executes_within_budget(path):
    budget = BUDGET[path.relative_to(ROOT).parts[0]]
    runs = []
    for _ in range(2):  # a second run only when the first is over budget: best of two
        nb, seconds, cells = run_notebook(path)
        slowest = ", ".join(f"cell {i} {s:.1f} s" for s, i in sorted(cells, reverse=True)[:3])
        runs.append(f"{seconds:.1f} s (slowest: {slowest})")
        print(f"{path.relative_to(ROOT)}: {runs[-1]}; budget {budget} s")
        if seconds < budget:
            break
    assert seconds < budget, f"{path.name} over its {budget} s budget in both runs: {runs}"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
