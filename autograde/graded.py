"""Which course-library functions the assignments grade, and a library without their bodies.

One source of truth: the functions an assignment grades are the top-level functions its
solution notebook's answer cells define (``solutions/NN_topic/NN_topic.ipynb``). The grader
(whose kernels get :func:`build_stripped_library`) and the classroom handout
(:mod:`autograde.handout`, used by :mod:`autograde.bundle`) both use :func:`graded_functions`.

The stripped build keeps every module, name, signature and docstring of the course library,
so imports and ``help()`` work, but the body of each graded function is replaced by a stub
that raises :class:`ReferenceUnavailable`: a student's code cannot call the reference by any
route while it is graded.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import nbformat

from autograde.course import REPO_ROOT, assignment_ids

STUB = ("raise __import__('tnn._graded_stub', fromlist=['x']).ReferenceUnavailable("
        "{qualname!r})")

# The classroom handout's stub also names the exercise (autograde/handout.py).
STUB_EXERCISE = ("raise __import__('tnn._graded_stub', fromlist=['x']).ReferenceUnavailable("
                 "{qualname!r}, {exercise!r})")

STUB_MODULE = '''"""Stand-in for the reference implementations of graded functions (not in this build)."""


class ReferenceUnavailable(RuntimeError):
    """This build of the course library holds no reference for a graded function."""

    def __init__(self, name, exercise=None):
        where = f" (exercise {exercise})" if exercise else ""
        super().__init__(
            f"{name} is not part of this build of the course library: it is one of the "
            f"functions you write in an exercise{where}. Use your own implementation from your "
            "notebook (when your work is graded, only your code is checked).")
'''


def _answer_functions(notebook: Path) -> list[str]:
    nb = nbformat.read(notebook, as_version=4)
    names = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        names += [n.name for n in tree.body
                  if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return names


def graded_functions(root: Path | str = REPO_ROOT) -> dict[str, list[str]]:
    """``{assignment: [function names it grades]}``, in notebook order."""
    root = Path(root)
    out = {}
    for aid in assignment_ids(root):
        names = []
        for notebook in sorted((root / "solutions" / aid).glob("*.ipynb")):
            names += [n for n in _answer_functions(notebook) if n not in names]
        out[aid] = names
    return out


def all_graded_names(root: Path | str = REPO_ROOT) -> set[str]:
    return {name for names in graded_functions(root).values() for name in names}


#: Library modules whose functions compute no answer: the checks the test cells call, device
#: and seeding helpers, the data sets, the shared training loop, figures and explorers. The
#: grading kernel keeps them whole; every other module is a topic's computation.
INFRASTRUCTURE = ("tnn", "tnn.grading", "tnn.grading_cases", "tnn.gradcheck", "tnn.device",
                  "tnn._expected", "tnn._validate", "tnn._graded_stub", "tnn.data", "tnn.nets",
                  "tnn.topics", "tnn.check", "tnn.plots", "tnn.widgets")


def _is_infrastructure(module: str) -> bool:
    """``tnn`` itself (the package's __init__) and every module under a listed name."""
    return module == "tnn" or any(module == m or module.startswith(m + ".")
                                  for m in INFRASTRUCTURE if m != "tnn")


def imported_helpers(root: Path | str = REPO_ROOT) -> set[str]:
    """Names the solution notebooks import by name from a topic module (``from tnn.leakage
    import nearest_neighbour_predict``): helpers an exercise runs in the kernel."""
    names = set()
    for notebook in sorted(Path(root).glob("solutions/*/*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if (isinstance(node, ast.ImportFrom) and node.module
                        and node.module.startswith("tnn.")
                        and not _is_infrastructure(node.module)):
                    names.update(alias.name for alias in node.names)
    return names


def kernel_stripped_names(root: Path | str = REPO_ROOT) -> set[str]:
    """Every function the grading kernel's library holds without a body.

    Least privilege: not only the graded functions, but every public function of the topic
    modules (``init_experiment``, ``saturated_fraction``, ``receptive_fields``, the torch
    twins, ...), since many of them compute a graded function's answer under another name,
    and every private helper of theirs that no kept code runs (:func:`_still_called`).
    Kept: the infrastructure modules (:data:`INFRASTRUCTURE`) and what an exercise imports
    by name (:func:`imported_helpers`), with the helpers they call. The test cells only pass
    library functions as references, which the trusted grader evaluates outside the kernel.
    """
    keep = imported_helpers(root) - all_graded_names(root)
    names = set(all_graded_names(root))
    private = set()
    for module, tree in _library_trees():
        if _is_infrastructure(module):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("__"):
                    continue  # a module's __getattr__ / __dir__: Python calls them
                if node.name.startswith("_"):
                    private.add(node.name)
                elif node.name not in keep:
                    names.add(node.name)
    return names | (private - _still_called(names, private))


def _library_trees():
    """``(module, parsed source)`` for every module of the course library."""
    for path in sorted((Path(REPO_ROOT) / "tnn").rglob("*.py")):
        module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
        yield module.removesuffix(".__init__"), ast.parse(path.read_text())


def _still_called(stripped: set[str], helpers: set[str]) -> set[str]:
    """Names the grading kernel's library still needs once ``stripped`` lose their bodies
    (``helpers``: the private functions that keep theirs only if something kept runs them).

    A private helper (``_padded_crop``) often computes a graded answer by itself, so it loses
    its body too, unless code that stays runs it: the infrastructure modules, a kept function,
    a class, a module's import-time code, transitively. Matching is by name across the whole
    library, so a name that is needed anywhere is kept everywhere (never too little).
    """
    bodies, roots = {}, []
    for module, tree in _library_trees():
        if _is_infrastructure(module):
            roots.append(tree)
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name in helpers:  # needed when something needed names it
                    bodies[node.name] = bodies.get(node.name, []) + [node]
                elif node.name not in stripped:  # kept: an exercise or the kernel may run it
                    roots.append(node)
                # decorators and defaults run at import time
                roots += [d for d in (*node.decorator_list, *node.args.defaults,
                                    *node.args.kw_defaults) if d is not None]
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                # a table of functions (``OPS = {"ShearX": _shear_x}``) is needed only when
                # something kept reads the table
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name) and node.value is not None:
                            bodies[name.id] = bodies.get(name.id, []) + [node.value]
                roots += [c for c in ast.walk(node) if isinstance(c, ast.Call)]
            elif not isinstance(node, ast.Import | ast.ImportFrom):
                roots.append(node)  # classes, if-blocks, expressions: kept whole
    needed, todo = set(), list(roots)
    while todo:
        for sub in ast.walk(todo.pop()):
            name = (sub.id if isinstance(sub, ast.Name) else sub.attr
                    if isinstance(sub, ast.Attribute) else None)
            if name is not None and name not in needed:
                needed.add(name)
                todo += bodies.get(name, [])
    return needed


def strip_source(source: str, names: set[str], module: str) -> tuple[str, list[str]]:
    """``source`` with the body of each top-level function in ``names`` replaced by a stub.

    Returns the new source and the names stripped. Signatures, decorators and docstrings
    stay; everything else in the module is unchanged.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    edits, stripped = [], []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name not in names:
            continue
        body = node.body
        first = body[0]
        has_doc = (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                   and isinstance(first.value.value, str))
        start = first.end_lineno if has_doc else first.lineno - 1  # 0-based first line to cut
        indent = " " * (first.col_offset)
        stub = indent + STUB.format(qualname=f"{module}.{node.name}") + "\n"
        edits.append((start, node.end_lineno, stub))
        stripped.append(node.name)
    for start, end, stub in sorted(edits, reverse=True):
        lines[start:end] = [stub]
    return "".join(lines), stripped


def build_stripped_library(dest: Path, root: Path | str = REPO_ROOT,
                           names: set[str] | None = None) -> dict[str, list[str]]:
    """Write ``dest/tnn``: the course library without the bodies of ``names`` (by default
    :func:`kernel_stripped_names`: the graded functions and every other topic computation).

    Returns ``{module: [functions stripped]}``.
    """
    source_pkg = Path(REPO_ROOT) / "tnn"
    names = kernel_stripped_names(root) if names is None else names
    target = Path(dest) / "tnn"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source_pkg, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (target / "_graded_stub.py").write_text(STUB_MODULE)
    report = {}
    for path in sorted(target.rglob("*.py")):
        if path.name == "_graded_stub.py":
            continue
        module = ".".join(path.relative_to(dest).with_suffix("").parts)
        if _is_infrastructure(module.removesuffix(".__init__")):
            continue  # kept whole, even where a name repeats one of a topic module's
        new, stripped = strip_source(path.read_text(), names, module)
        if stripped:
            path.write_text(new)
            report[module] = stripped
    return report
