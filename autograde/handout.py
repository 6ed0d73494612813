"""The classroom handout's build of the course library: no reference for anything graded.

A copy of ``tnn/`` in which every function an assignment grades (:func:`autograde.graded.
graded_functions`, the grader's list) keeps its name, signature and docstring, but its body is
either

- a delegation to what the field ships (SciPy, ``torch.nn.functional``, ``torch.autograd``,
  ``torch.nn.init``, scikit-learn), from ``autograde/handout_bodies/``, so the lectures
  still print the same numbers; or
- where nothing in the field computes it, the grader's stub, which raises
  ``ReferenceUnavailable`` naming the exercise that writes it.

Library functions that hold a graded function's answer under another name (its torch twin, a
hand-written backward pass that a graded function is a part of) get a delegation too, listed
in ``MODULE_OF`` (``autograde/handout_bodies/tables.py``). Each replaced docstring gains one line saying what the
handout's version does.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from autograde import graded
from autograde.course import REPO_ROOT

#: the substitute bodies: tables.py (the tables and helpers), then one file per topic
BODIES = Path(__file__).with_name("handout_bodies")
HELPER_PREFIX = "_handout_"


def bodies_source() -> str:
    """The substitute bodies as one source text (tables first, then the topics' files in the
    course's order: ``01_activations`` -> ``activations.py``)."""
    from autograde.course import assignment_ids

    order = {aid.split("_", 1)[-1] + ".py": i for i, aid in enumerate(assignment_ids(REPO_ROOT))}
    topics = sorted((p for p in BODIES.glob("*.py") if p.name != "tables.py"),
                    key=lambda p: (order.get(p.name, len(order)), p.name))
    files = [BODIES / "tables.py", *topics]
    return "\n\n".join(p.read_text() for p in files)


def substitutes() -> tuple[dict[str, ast.FunctionDef], list[ast.FunctionDef], dict, dict]:
    """``(bodies by name, helpers, MODULE_OF, DELEGATE)`` read from autograde/handout_bodies/."""
    source = bodies_source()
    tree = ast.parse(source)
    namespace: dict = {}
    # the two tables are plain literals and dict() calls in tables.py; a topic's file adds its
    # rows with ``MODULE_OF |= {...}`` and ``DELEGATE |= {...}``
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            exec(compile(ast.Module([node], []), str(BODIES), "exec"), namespace)  # noqa: S102
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    bodies = {f.name: f for f in funcs if not f.name.startswith(HELPER_PREFIX)}
    helpers = [f for f in funcs if f.name.startswith(HELPER_PREFIX)]
    return bodies, helpers, namespace["MODULE_OF"], namespace["DELEGATE"]


def _docstring_node(node: ast.FunctionDef):
    first = node.body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return first
    return None


def _with_note(source: str, node: ast.FunctionDef, note: str, indent: str) -> str:
    """The function's docstring source with ``note`` as its last paragraph."""
    doc = _docstring_node(node)
    if doc is None:
        return f'{indent}"""{note}"""\n'
    segment = ast.get_source_segment(source, doc)
    quote = segment[-3:]
    if quote not in ('"""', "'''"):
        return f"{indent}{segment}\n"  # an unusual docstring: leave it
    head = segment[:-3].rstrip()
    return f"{indent}{head}\n\n{indent}{note}\n{indent}{quote}\n"


def _body_source(bodies_source: str, fn: ast.FunctionDef, indent: str) -> str:
    lines = bodies_source.splitlines(keepends=True)
    start = fn.body[0].lineno - 1
    if _docstring_node(fn) is not None:
        start = fn.body[0].end_lineno
    text = "".join(lines[start:fn.end_lineno])
    own = len(lines[fn.body[0].lineno - 1]) - len(lines[fn.body[0].lineno - 1].lstrip())
    out = []
    for line in text.splitlines(keepends=True):
        out.append(indent + line[own:] if line.strip() else line)
    return "".join(out)


def _exercise_of(name: str, by_assignment: dict[str, list[str]]) -> str | None:
    for aid, names in by_assignment.items():
        if name in names:
            return aid
    return None


def rewrite_module(source: str, module: str, module_path: str, graded_by: dict[str, list[str]],
                   bodies_source: str, bodies: dict, helpers: list, module_of: dict,
                   delegate: dict) -> tuple[str, dict[str, list[str]]]:
    """``source`` with graded (and answer-holding) functions replaced; and what was done."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    graded_names = {n for names in graded_by.values() for n in names}
    edits, done = [], {"delegated": [], "stubbed": [], "also_replaced": []}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        name = node.name
        is_graded = name in graded_names
        has_body = name in bodies
        if not (is_graded or has_body):
            continue
        first = node.body[0]
        indent = " " * first.col_offset
        exercise = _exercise_of(name, graded_by)
        if has_body:
            note = f"In the handout this delegates to {delegate[name]}"
            note += (f"; you write your own in exercise {exercise}." if exercise else ".")
            new = _with_note(source, node, note, indent)
            new += _body_source(bodies_source, bodies[name], indent)
            done["delegated" if is_graded else "also_replaced"].append(name)
        else:
            note = (f"Not in the handout: you write {name} in exercise {exercise}; "
                    f"calling this one raises ReferenceUnavailable.")
            new = _with_note(source, node, note, indent)
            new += indent + graded.STUB_EXERCISE.format(
                qualname=f"{module}.{name}", exercise=exercise) + "\n"
            done["stubbed"].append(name)
        start = first.lineno - 1  # the docstring is rewritten with the body
        edits.append((start, node.end_lineno, new))
    for start, end, new in sorted(edits, reverse=True):
        lines[start:end] = [new]
    text = "".join(lines)
    if done["delegated"] or done["also_replaced"]:
        text = text.rstrip("\n") + (
            "\n\n\n# Helpers of the handout's delegations.\n"
            "import math  # noqa: E402\n\nimport numpy as np  # noqa: E402\n"
            "import torch  # noqa: E402\n")
        for helper in helpers:
            text += "\n\n" + ast.get_source_segment(bodies_source, helper) + "\n"
        missing = unresolved_names(text, done["delegated"] + done["also_replaced"]
                                   + [h.name for h in helpers])
        if missing:
            raise RuntimeError(
                f"{module_path}: the handout's bodies use names this module does not define: "
                f"{missing}. Update autograde/handout_bodies/ to the library's current names.")
    return text, done


def unresolved_names(source: str, functions: list[str]) -> dict[str, list[str]]:
    """``{function: [global names it reads that the module does not define]}``."""
    import builtins

    tree = ast.parse(source)
    defined = set(dir(builtins))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                defined.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.If | ast.Try):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom):
                    defined.update((a.asname or a.name).split(".")[0] for a in sub.names)
    missing = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name not in functions:
            continue
        local = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                local.add(sub.id)
            elif isinstance(sub, ast.Import | ast.ImportFrom):
                local.update((a.asname or a.name).split(".")[0] for a in sub.names)
            elif isinstance(sub, ast.ExceptHandler) and sub.name:
                local.add(sub.name)
            elif isinstance(sub, ast.FunctionDef | ast.Lambda):
                local.update(a.arg for a in ast.walk(sub.args) if isinstance(a, ast.arg))
                if isinstance(sub, ast.FunctionDef):
                    local.add(sub.name)
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Load)}
        gone = sorted(used - local - defined)
        if gone:
            missing[node.name] = gone
    return missing


def build_handout_library(dest: Path | str, root: Path | str = REPO_ROOT) -> dict:
    """Write ``dest/tnn``, the handout's library. Returns ``{module: {kind: [names]}}``."""
    dest = Path(dest)
    graded_by = graded.graded_functions(root)
    bodies, helpers, module_of, delegate = substitutes()
    source_of_bodies = bodies_source()
    target = dest / "tnn"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(Path(REPO_ROOT) / "tnn", target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (target / "_graded_stub.py").write_text(graded.STUB_MODULE)
    report = {}
    for path in sorted(target.rglob("*.py")):
        if path.name == "_graded_stub.py":
            continue
        rel = path.relative_to(dest).as_posix()
        module = ".".join(path.relative_to(dest).with_suffix("").parts)
        new, done = rewrite_module(path.read_text(), module, rel, graded_by, source_of_bodies,
                                   bodies, helpers, module_of, delegate)
        if any(done.values()):
            compile(new, rel, "exec")  # a broken splice stops the build here
            path.write_text(new)
            report[module] = done
    return report


# ------------------------------------------------------------------------------------------
# expected values of the visible tests, recorded when an assignment is released
# ------------------------------------------------------------------------------------------
EXPECTED_FILE = "expected.json"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def without_hidden_tests(source: str) -> str:
    """``source`` without its hidden-test blocks (markers included)."""
    out, hidden = [], False
    for line in source.splitlines(keepends=True):
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "".join(out)


def record_expected(root: Path | str, aid: str, release_dir: str = "exercises",
                    kernel: str = "training-nn", timeout: int = 300) -> Path:
    """Run the solution of ``aid`` without its hidden tests and write what every visible
    check's reference returned to ``root/release_dir/aid/expected.json``.

    The solution's answers run too (the checks need a function to check), but only the
    references' results are stored; hidden tests never run here, so none of their values
    can ship. The file also names the graded library functions (``tnn._expected``).
    """
    import json
    import os
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    root = Path(root)
    out = root / release_dir / aid / EXPECTED_FILE
    nb = nbformat.read(next(iter(sorted((root / "solutions" / aid).glob("*.ipynb")))),
                       as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = without_hidden_tests(cell.source)
    with tempfile.TemporaryDirectory(prefix="tnn-expected-") as tmp:
        record = Path(tmp) / EXPECTED_FILE
        env = dict(os.environ, TNN_RECORD_EXPECTED=str(record), MPLBACKEND="Agg",
                   PYTHONPATH=os.pathsep.join(
                       [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        client = NotebookClient(nb, kernel_name=kernel, timeout=timeout,
                                resources={"metadata": {"path": tmp}})
        with client.setup_kernel(env=env):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
        recorded = json.loads(record.read_text()) if record.exists() else {}
    # every function the grading kernel's library lacks: a student's function that calls one
    # is told so by the visible test, at home, instead of scoring 0 when graded
    answers = graded.all_graded_names(root)
    data = {"assignment": aid, "graded": sorted(answers),
            "unavailable": sorted(graded.kernel_stripped_names(root) - answers),
            "expected": recorded.get("expected", {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n")
    return out
