"""Generated hand-ins for testing and benchmarking the grader.

Every hand-in is built from a real assignment: the released notebook with each answer cell
filled in from the solution notebook (markers removed), then altered. ``hostile(aid)``
returns the corpus of broken and hostile hand-ins, each with the outcome it must get; the
corpus is generic (it needs only the assignment's cell structure) except the cases that
name a function of assignment 01, which apply to that assignment only.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import nbformat

from autograde.course import REPO_ROOT

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS)


def load(aid: str, root: Path = REPO_ROOT):
    solution = nbformat.read(root / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    release = nbformat.read(root / "exercises" / aid / f"{aid}.ipynb", as_version=4)
    return solution, release


def filled_in(aid: str, root: Path = REPO_ROOT, replace: dict | None = None):
    """The released notebook answered as in the solution; ``replace`` maps grade_id→source."""
    solution, release = load(aid, root)
    answers = {_meta(c)["grade_id"]: c.source for c in solution.cells if _meta(c).get("solution")}
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if _meta(cell).get("solution"):
            cell.source = strip_markers(answers[gid])
        if replace and gid in replace:
            cell.source = replace[gid]
    return nb


def structure(aid: str, root: Path = REPO_ROOT):
    """``(answers, tests_of, points)``: answer cells in order, the test cells of each and the
    points of every autograded test cell.

    An answer's tests are the test cells after it (until the next answer), and any later test
    cell that calls a function the answer defines (a graded experiment that trains with the
    student's functions): when the answer is broken, those cells lose their points too. A
    test that puts the reference in place of an earlier answer only assigns to its name, so
    it does not count.
    """
    solution, _ = load(aid, root)
    answers, tests_of, points, current = [], {}, {}, None
    defined_by = {}  # function name -> the answer cell that defines it
    for cell in solution.cells:
        m = _meta(cell)
        if m.get("solution") and cell.cell_type == "code":
            current = m["grade_id"]
            answers.append(current)
            tests_of[current] = []
            with contextlib.suppress(SyntaxError):
                defined_by.update({node.name: current for node in ast.parse(cell.source).body
                                   if isinstance(node, ast.FunctionDef)})
        elif m.get("grade") and not m.get("solution"):
            points[m["grade_id"]] = float(m["points"])
            if current:
                tests_of[current].append(m["grade_id"])
            if cell.cell_type == "code":
                with contextlib.suppress(SyntaxError):
                    called = {node.id for node in ast.walk(ast.parse(cell.source))
                              if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
                    for owner in sorted({defined_by[n] for n in called if n in defined_by}
                                        - {current}):
                        tests_of[owner].append(m["grade_id"])
    return answers, tests_of, points


@dataclass
class Case:
    """A hand-in and what grading it must give.

    ``ok``: graded (False: the student is reported as failed, with ``error``; None: either,
    e.g. the memory cap may raise MemoryError in the cell, kill the kernel, or leave it too
    short of memory to answer).
    ``lose``: autograded cells that must score 0 (None: every cell scores 0).
    ``keep``: when given, exactly these cells keep full marks and all others score 0.
    ``flag``: a substring one of the hand-in's flags (or its error) must contain.
    ``at_least``: ``lose`` is a lower bound (e.g. memory still held after a MemoryError may
    make later cells fail too); no cell may score more than the solution anyway.
    """

    name: str
    files: dict  # file name -> notebook node, or bytes (written as is)
    ok: bool | None = True
    lose: set | None = field(default_factory=set)
    flag: str = ""
    at_least: bool = False  # ``lose`` is a lower bound: other cells may score 0 too


def _with_cell(nb, gid, mutate):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        if _meta(cell).get("grade_id") == gid:
            mutate(cell)
            break
    return nb


def _answer_source(nb, gid):
    return next(c.source for c in nb.cells if _meta(c).get("grade_id") == gid)


#: cases that test how the grader handles a kernel (caps, crashes, floods), not how it reads
#: an assignment's structure: one assignment is enough to exercise them
RUNTIME_CASES = {"ignores_interrupt", "stuck_in_c", "os_exit", "kill_kernel", "huge_output",
                 "memory_growth", "reserve_address_space", "output_flood", "big_output",
                 "html_output"}


def hostile(aid: str, root: Path = REPO_ROOT, runtime: bool = True, extra=None) -> list[Case]:
    """The corpus of broken and hostile hand-ins for assignment ``aid``.

    ``runtime=False`` leaves out :data:`RUNTIME_CASES` (the slow ones: each waits for a cap).
    ``extra(kit)`` adds cases that name the assignment's own functions; ``kit`` holds what
    builds them (``Case``, ``sub``, ``filled_in``, ``tests_of``, ``first``, ``good``,
    ``answer_source``, ``aid``, ``root``).
    """
    answers, tests_of, points = structure(aid, root)
    first, second = answers[0], answers[1]
    last = answers[-1]
    good = filled_in(aid, root)
    fname = f"{aid}.ipynb"

    def sub(nb):
        return {fname: nb}

    def prepend(gid, code):
        return filled_in(aid, root, {gid: code + "\n" + _answer_source(good, gid)})

    def append(gid, code):
        return filled_in(aid, root, {gid: _answer_source(good, gid) + "\n" + code})

    def wrong_first(code):
        """The first answer made wrong, plus ``code`` run after it in the same cell."""
        wrong = re.sub(r"return .*", "return x * 0", _answer_source(good, first), count=1)
        return filled_in(aid, root, {first: wrong + "\n" + code})

    broken_first = filled_in(aid, root, {first: re.sub(
        r"return .*", "return x * 0", _answer_source(good, first), count=1)})
    cases = [
        Case("solution", sub(good)),
        # an infinite loop costs its cell (time limit); later cells are still graded
        Case("infinite_loop", sub(prepend(first, "while True:\n    pass")),
             lose=set(tests_of[first]), flag="time limit"),
        # a loop that swallows the interrupt: stopped by the time caps, never full marks
        Case("ignores_interrupt", sub(append(first, (
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"))),
             ok=False, lose=None, flag="time limit"),
        # stuck inside one C call (catastrophic regex backtracking): Python's interrupt handler
        # never runs, so only the kernel caps (CPU time, then wall time) can stop it
        Case("stuck_in_c", sub(append(first, "import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')")),
             ok=False, lose=None, flag="time limit"),
        # the function is defined before sys.exit(): only that cell reports an error
        Case("sys_exit", sub(append(second, "import sys\nsys.exit()")), flag=""),
        Case("os_exit", sub(append(second, "import os\nos._exit(0)")), ok=False, flag="kernel died"),
        Case("kill_kernel", sub(append(second, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")),
             ok=False, flag="kernel died"),
        Case("syntax_error", sub(filled_in(aid, root, {second: _answer_source(good, second)
                                                        + "\n    return (\n"})),
             lose=set(tests_of[second])),
        # a wrong first answer whose test the student emptied / deleted: restored, so it fails
        Case("edited_locked_test", sub(_with_cell(broken_first, tests_of[first][0],
                                                  lambda c: setattr(c, "source", "pass"))),
             lose=set(tests_of[first])),
        Case("deleted_test_cell", sub(_delete_cell(broken_first, tests_of[first][-1])),
             lose=set(tests_of[first])),
        Case("raised_points", sub(_with_cell(good, tests_of[first][0],
                                             lambda c: c.metadata.nbgrader.update(points=1000)))),
        Case("fake_grade_cell", sub(_add_fake_grade_cell(good)), flag="unknown graded cell"),
        Case("changed_kernelspec", sub(_kernelspec(good))),
        Case("duplicated_grade_id", sub(_duplicate(good, tests_of[first][0])), flag="duplicated"),
        Case("duplicated_answer_id", sub(_duplicate(good, first)), flag="duplicated"),
        Case("stderr_warning", sub(append(first, "import sys\nprint('DeprecationWarning: just a note', file=sys.stderr)\n"
                                                 "import warnings\nwarnings.warn('a harmless warning')"))),
        # prints far more than the output cap, for longer than any time limit (10**7 lines
        # once finished within the limit on an idle machine, leaving only "output cut")
        Case("huge_output", sub(prepend(first, "for _i in range(10**10):\n    print(_i)")),
             lose=set(tests_of[first]), flag="time limit"),
        # grows by 128 MiB of touched memory a step until the watchdog stops the kernel
        Case("memory_growth", sub(prepend(first, "import numpy\n_hog = []\nwhile True:\n"
                                                 "    _hog.append(numpy.ones(2**24))")),
             ok=None, lose=set(tests_of[first]), at_least=True, flag="memory|time limit"),
        # reserves 64 GiB of address space it never uses (as a CUDA build of torch does):
        # not memory, so full marks
        Case("reserve_address_space", sub(prepend(first, (
            "import mmap\n_reserved = mmap.mmap(-1, 64 << 30, flags=mmap.MAP_PRIVATE | "
            "mmap.MAP_ANONYMOUS | 0x4000, prot=0)  # MAP_NORESERVE, PROT_NONE")))),
        # tiny outputs without end: cut and flagged; that answer hits the time limit, the
        # others keep their points
        Case("output_flood", sub(prepend(first, (
            "from IPython.display import display as _display\n_i = 0\nwhile True:\n"
            "    _display(_i)\n    _i += 1"))),
             lose=set(tests_of[first]), flag="output cut"),
        # an 18 MB image and a 12 MB result: cut and flagged, no point lost
        Case("big_output", sub(append(first, (
            "import base64 as _b\nfrom IPython.display import display as _display\n"
            "_display({'image/png': _b.b64encode(b'x' * (18 << 20)).decode()}, raw=True)\n"
            "_display({'text/plain': 'y' * (12 << 20)}, raw=True)"))), flag="output cut"),
        # raw HTML and JavaScript: shown as text in the graded notebook and the feedback
        Case("html_output", sub(append(first, (
            "from IPython.display import HTML as _H, Javascript as _J, display as _display\n"
            "_display(_H(\"<script>alert('x')</script><img src=x onerror=alert(1)>\"))\n"
            "_display(_J(\"alert('js')\"))")))),
        Case("corrupt_json", {fname: b'{"cells": [ this is not json'}, ok=False, flag="not a valid notebook"),
        Case("missing_notebook", {"notes.txt": b"I forgot my notebook"}, ok=False, flag="missing notebook"),
        Case("renamed_notebook", {f"{aid}_final.ipynb": good}, flag="renamed"),
        Case("extra_notebook", {fname: good, "scratch.ipynb": good}, flag="extra notebook"),
        # an answer cell turned into markdown: nbgrader restores the cell type from the
        # gradebook and runs the student's code, so a correct answer keeps its points
        Case("cell_type_changed", sub(_with_cell(good, second, _to_markdown))),
        Case("blank", sub(load(aid, root)[1]), lose=None),
        Case("tamper_late", sub(append(last, "import numpy\nnumpy.allclose = lambda *a, **k: True")),
             lose=set(), flag="tampering"),
        # Verdicts are made outside the kernel: whatever a hand-in does to its kernel, a wrong
        # answer scores 0 and a right one keeps its points (#10's classes, one case each).
        Case("setattr_other_name", sub(wrong_first(
            "import numpy as _n\n_set = setattr\n_set(_n, 'allclose', lambda *a, **k: True)")),
             lose=set(tests_of[first])),
        Case("runtime_attribute_name", sub(wrong_first(
            "import tnn.grading as _g\ngetattr(_g, '__di' + 'ct__')['assert_close'] = "
            "lambda *a, **k: None")), lose=set(tests_of[first])),
        Case("tamper_in_cell_magic", sub(wrong_first(
            "get_ipython().run_cell_magic('time', '', 'import tnn.grading as _g\\n"
            "_g.check_function = lambda *a, **k: None')")), lose=set(tests_of[first])),
        Case("fake_library_module", sub(wrong_first(
            "import os, sys, tempfile, tnn\n_d = tempfile.mkdtemp()\n"
            "open(os.path.join(_d, 'grading.py'), 'w').write('def check_function(*a, **k): pass')\n"
            "tnn.__path__.insert(0, _d)\nsys.modules.pop('tnn.grading', None)")),
             lose=set(tests_of[first])),
        # test cells rewritten to `pass` for every later cell: the grader's own calls are
        # rewritten too, so the kernel answers nothing and every check fails
        Case("input_transformer", sub(wrong_first(
            "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])")),
             lose=None),
        Case("post_run_hook", sub(wrong_first(
            "def _ok(result):\n    result.error_in_exec = None\n"
            "get_ipython().events.register('post_run_cell', _ok)")),
             lose=set(tests_of[first])),
        Case("read_own_notebook", sub(append(first, (
            "import glob, os\nfor _f in glob.glob('**/*', recursive=True) + glob.glob('../**/*', "
            "recursive=True):\n    if os.path.isfile(_f):\n        try:\n"
            "            print(_f, open(_f, errors='replace').read()[:100000])\n"
            "        except OSError:\n            pass")))),
        Case("honest_noise", sub(append(first, (
            "import numpy as np\nimport sys, logging\nprint('debug: here', file=sys.stderr)\n"
            "logging.warning('a note on stderr')\nfrom tqdm.auto import tqdm\n"
            "for _ in tqdm(range(3)):\n    pass\nimport matplotlib.pyplot as plt\n"
            "plt.rcParams['figure.dpi'] = 80\n_two = eval('1 + 1')")))),
    ]
    if not runtime:
        cases = [c for c in cases if c.name not in RUNTIME_CASES]
    if extra is not None:  # an assignment's own cases (tests/one_bug/<aid>.py: hostile_cases)
        cases += extra(SimpleNamespace(aid=aid, root=root, Case=Case, sub=sub,
                                       filled_in=filled_in, tests_of=tests_of, first=first,
                                       good=good, answer_source=_answer_source))
    return cases


def _to_markdown(cell):
    cell.cell_type = "markdown"
    cell.pop("outputs", None)
    cell.pop("execution_count", None)


def _delete_cell(nb, gid):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells = [c for c in nb.cells if _meta(c).get("grade_id") != gid]
    return nb


def _add_fake_grade_cell(nb):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cell = nbformat.v4.new_code_cell("print('free points')")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "locked": False,
                                 "points": 50, "schema_version": 3, "solution": False,
                                 "task": False}
    nb.cells.append(cell)
    return nb


def _kernelspec(nb):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.metadata["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}
    return nb


def _duplicate(nb, gid):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for i, cell in enumerate(nb.cells):
        if _meta(cell).get("grade_id") == gid:
            copy = nbformat.from_dict(json.loads(json.dumps(cell)))
            copy.source = "pass"
            nb.cells.insert(i + 1, copy)
            break
    return nb


def write(case: Case, submitted: Path, student: str, aid: str) -> None:
    folder = submitted / student / aid
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in case.files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            with warnings.catch_warnings():  # duplicated cell ids are part of some cases
                warnings.simplefilter("ignore")
                nbformat.write(content, folder / name)
