"""Feedback HTML that shows students the visible tests' messages but not the hidden tests.

nbgrader restores hidden tests into the graded notebook, and its feedback shows every cell's
source and full tracebacks, whose context lines would print the hidden test code. This
preprocessor runs in ``GenerateFeedback`` before nbgrader's own: in each cell holding a
``### BEGIN HIDDEN TESTS`` block it replaces the block with a one-line note and reduces each
error to its message (``AssertionError: sigmoid is wrong at 3 of 17 positions ...``), which
the course's checks write for students.
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
NOTE = "# (hidden tests: run at grading time; their code is not shown)"
MAX_TEXT = 20_000  # characters of stream output kept per cell


class HideHiddenTests(Preprocessor):
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        hidden = BEGIN in cell.source
        if hidden:
            kept, inside = [], False
            for line in cell.source.splitlines():
                if BEGIN in line:
                    inside = True
                    kept.append(NOTE)
                elif END in line:
                    inside = False
                elif not inside:
                    kept.append(line)
            cell.source = "\n".join(kept)
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and hidden:
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
            elif out.get("output_type") == "stream" and len(out.get("text", "")) > MAX_TEXT:
                out["text"] = out["text"][:MAX_TEXT] + "\n... (output truncated)\n"
        return cell, resources
