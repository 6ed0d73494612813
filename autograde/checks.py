"""Checks on a hand-in before and after nbgrader grades it.

Before: the notebook must exist and be valid JSON; an extra notebook is ignored and a
renamed one is graded under its expected name, each with a flag. The code a student can
edit is read (as Python, after IPython's own transformation of magics) for two things the
kernel cannot be trusted to report:

- **tampering**: rebinding what the locked cells imported (``check_function = ...``),
  assigning to attributes of modules (``np.allclose = ...``, ``tnn.grading.x = ...``),
  ``setattr``/``exec``/``eval``/``__import__``, ``sys.modules``, ``builtins``,
  ``unittest.mock``, ``ctypes``, ``gc``, frame inspection, ``get_ipython().run_cell``,
  ``getattr(x, "__globals__")`` or any private name through getattr. Every autograded cell
  after the first tampering cell scores 0. A ``getattr`` whose name is computed at run time
  is flagged for the instructor (no score changes), as is an answer that looks at PyTorch's
  meta device (the "no loop over images" tests run there; a branch on it could hide a loop).
- **reference imports**: importing the course library (``from tnn.activations import
  sigmoid``) in an answer. The tests of every answer cell that uses an imported name (or
  holds the import) score 0.
- **ground truth in an answer**: an answer that imports or reaches :data:`GROUND_TRUTH`
  (``torch.optim`` and torch's gradient clipping: the tests compare the update rules, the
  schedules and the clipping with them, so an answer built on them proves nothing). Flagged
  for the instructor, who marks that answer 0 in formgrader (the notebooks' rules say so):
  like every static finding it changes no score by itself, since a static check can be
  fooled both ways (``getattr(torch, "op" + "tim")`` is not seen).

After: the executed notebook is scanned for cells stopped by the time limit
(``CellTimeoutError``) or the memory cap (``MemoryError``), which flag the hand-in.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

#: library modules a student may import in an answer (helpers, not reference solutions)
ALLOWED_TNN = {"tnn.device", "tnn.grading", "tnn.gradcheck"}
FORBIDDEN_MODULES = {"ctypes", "gc", "builtins", "importlib", "unittest.mock", "mock",
                     "inspect", "sys.modules", "__builtin__", "cffi"}
FORBIDDEN_CALLS = {"setattr", "delattr", "exec", "eval", "compile", "__import__", "globals",
                   "vars", "breakpoint"}
FORBIDDEN_ATTRS = {"modules", "__builtins__", "__dict__", "__globals__", "__code__",
                   "__setattr__", "__delattr__", "__defaults__", "__kwdefaults__",
                   "__closure__", "f_globals", "f_locals", "f_back", "_getframe",
                   "run_cell", "ex", "ev", "user_ns", "push", "system", "getoutput",
                   "set_next_input"}
#: what the tests use as ground truth: an answer may not call it
GROUND_TRUTH = ("torch.optim", "torch.nn.utils.clip_grad", "torch.nn.utils.clip_grad_norm_",
                "torch.nn.utils.clip_grads_with_norm_", "torch.nn.utils.get_total_norm")
SAFE_MAGICS = {"time", "timeit", "matplotlib", "precision", "who", "whos", "pinfo", "pinfo2"}


@dataclass
class Inspection:
    """What the checks found in one notebook of one hand-in."""

    flags: list[str] = field(default_factory=list)
    zero_cells: set[str] = field(default_factory=set)  # grade ids that must score 0
    fatal: str = ""  # non-empty: the notebook cannot be graded


def _nbmeta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def to_python(source: str) -> str:
    """A cell's source as the kernel would run it (magics become ``get_ipython()`` calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _import_bindings(tree: ast.AST) -> dict[str, str]:
    """``{bound name: module}`` for the import statements at any depth of ``tree``."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out[(a.asname or a.name).split(".")[0]] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def _top_level_bindings(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        for sub in ast.walk(node) if not isinstance(
                node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) else ():
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
                names.add(sub.id)
            elif isinstance(sub, ast.Import | ast.ImportFrom):
                for a in sub.names:
                    names.add((a.asname or a.name).split(".")[0])
            elif isinstance(sub, ast.Global | ast.Nonlocal):
                names.update(sub.names)
    return names


def _global_decls(tree: ast.AST) -> set[str]:
    return {n for node in ast.walk(tree) if isinstance(node, ast.Global) for n in node.names}


def _root_name(node) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_tnn(module: str) -> bool:
    return module == "tnn" or module.startswith("tnn.")


def _dotted(node) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def ground_truth_uses(tree: ast.AST, imports: dict[str, str]) -> set[str]:
    """The :data:`GROUND_TRUTH` modules ``tree`` imports or reaches through an attribute
    (``torch.optim.Adam``, ``from torch import optim``, ``import torch.optim as o``)."""
    def hit(dotted: str) -> str | None:
        return next((g for g in GROUND_TRUTH if dotted == g or dotted.startswith(g + ".")),
                    None)

    found = {g for m in imports.values() if (g := hit(m))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {g for a in node.names if (g := hit(a.name))}
        elif isinstance(node, ast.Attribute) and (dotted := _dotted(node)):
            root, _, rest = dotted.partition(".")
            full = f"{imports.get(root, root)}.{rest}" if rest else imports.get(root, root)
            if g := hit(full):
                found.add(g)
    return found


def tamper_reasons(tree: ast.AST, protected: set[str], modules: set[str]) -> list[str]:
    """Why this code may change what the tests see (empty: nothing found)."""
    reasons = []
    top = _top_level_bindings(tree) if isinstance(tree, ast.Module) else set()
    for name in sorted((top | _global_decls(tree)) & protected):
        reasons.append(f"rebinds {name!r}, defined by a locked cell")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:
                mods = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            for m in mods:
                if m in FORBIDDEN_MODULES or any(m.startswith(f + ".") for f in FORBIDDEN_MODULES):
                    reasons.append(f"imports {m}")
                    break
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = (node.targets if isinstance(node, ast.Assign | ast.Delete)
                       else [node.target])
            for t in targets:
                for sub in ast.walk(t):
                    # only what is written (Store / Del context): an index read inside the
                    # target, as in onehot[np.arange(n), y] = 1, assigns to nothing
                    if isinstance(sub, ast.Attribute | ast.Subscript) and \
                            isinstance(sub.ctx, ast.Store | ast.Del):
                        root = _root_name(sub)
                        if root in modules or root in protected:
                            reasons.append(f"assigns to {ast.unparse(sub)}")
                            break
        elif isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Name) and fn.id in FORBIDDEN_CALLS:
                reasons.append(f"calls {fn.id}()")
            if (name := _getattr_name(node)) and (name in FORBIDDEN_ATTRS or name.startswith("_")):
                reasons.append(f"reaches .{name} through {fn.id}()")
            if isinstance(fn, ast.Attribute) and fn.attr in ("run_line_magic", "run_cell_magic"):
                magic = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
                if magic not in SAFE_MAGICS:
                    reasons.append(f"runs the magic %{magic}")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRS:
            reasons.append(f"uses .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in ("__builtins__", "__loader__"):
            reasons.append(f"uses {node.id}")
    return sorted(set(reasons))


def _getattr_name(call: ast.Call) -> str | None:
    """The constant attribute name of ``getattr(x, "name")`` / ``hasattr``, else None."""
    if (isinstance(call.func, ast.Name) and call.func.id in ("getattr", "hasattr")
            and len(call.args) >= 2 and isinstance(call.args[1], ast.Constant)
            and isinstance(call.args[1].value, str)):
        return call.args[1].value
    return None


def computed_getattrs(tree: ast.AST) -> int:
    """How many ``getattr(x, <name computed at run time>)`` calls ``tree`` makes: a way
    round every check above (``getattr(f, "__glob" + "als__")``), so the instructor is told."""
    return sum(1 for node in ast.walk(tree)
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
               and node.func.id == "getattr" and len(node.args) >= 2
               and not isinstance(node.args[1], ast.Constant))


def asks_for_meta_device(tree: ast.AST) -> bool:
    """Whether code looks at PyTorch's meta device (``x.is_meta``, ``device.type == "meta"``):
    the "no loop over images" tests run there, so a branch on it can hide a loop."""
    return any((isinstance(node, ast.Constant) and node.value == "meta")
               or (isinstance(node, ast.Attribute) and node.attr == "is_meta")
               for node in ast.walk(tree))


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(to_python(source))
    except (SyntaxError, ValueError):
        return None  # it will not run either: the kernel reports the error in that cell


def analyse(student_nb, source_nb) -> Inspection:
    """Static checks of the editable code of ``student_nb`` against its source notebook."""
    result = Inspection()
    locked_ids, test_ids = set(), []
    protected: set[str] = set()
    modules: set[str] = set()
    order = []  # source cells in order: ("solution", id) or ("test", id)
    for cell in source_nb.cells:
        meta = _nbmeta(cell)
        gid = meta.get("grade_id")
        if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
            locked_ids.add(gid)
            if cell.cell_type == "code":
                tree = _parse(cell.source)
                if tree is not None:
                    imports = _import_bindings(tree)
                    protected.update(imports)
                    modules.update(n for n, m in imports.items()
                                   if "." not in m or m.rsplit(".", 1)[1][:1].islower())
                    protected.update(n for n in _top_level_bindings(tree) if n.isupper())
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            order.append(("test", gid))
            test_ids.append(gid)
        elif meta.get("solution"):
            order.append(("solution", gid))
    tests_of: dict[str, list[str]] = {}
    current = None
    for kind, gid in order:
        if kind == "solution":
            current = gid
            tests_of.setdefault(gid, [])
        elif current is not None:
            tests_of[current].append(gid)

    # the student's editable code cells, in notebook order, with the answer cell each follows
    editable = []
    current = None
    for cell in student_nb.cells:
        meta = _nbmeta(cell)
        gid = meta.get("grade_id")
        if gid in tests_of:
            current = gid
        if cell.cell_type != "code" or gid in locked_ids:
            continue  # nbgrader restores locked cells from the gradebook
        editable.append((gid if gid in tests_of else None, current, cell.source))

    student_modules = set(modules)
    parsed = []
    for gid, owner, source in editable:
        tree = _parse(source)
        if tree is not None:
            student_modules.update(_import_bindings(tree))
        parsed.append((gid, owner, tree))

    ref_names: set[str] = set()
    tampered_from = None
    for gid, owner, tree in parsed:
        if tree is None:
            continue
        imports = _import_bindings(tree)
        refs = {n for n, m in imports.items() if _is_tnn(m) and not any(
            m == a or m.startswith(a + ".") for a in ALLOWED_TNN)}
        truth = ground_truth_uses(tree, imports)
        if truth:
            result.flags.append(f"uses {', '.join(sorted(truth))}, the tests' ground truth, in "
                                f"{'answer ' + gid if gid else 'an added cell'}")
            if owner:
                result.zero_cells.update(tests_of.get(owner, []))
        if refs:
            ref_names |= refs
            result.flags.append(f"imports the course library's reference ({', '.join(sorted(imports[n] for n in refs))}) "
                                f"in {'answer ' + gid if gid else 'an added cell'}")
            if owner:
                result.zero_cells.update(tests_of.get(owner, []))
        if asks_for_meta_device(tree):
            result.flags.append("looks at PyTorch's meta device in "
                                f"{'answer ' + gid if gid else 'an added cell'} (where the "
                                "no-loop tests run): check by hand")
        if computed_getattrs(tree):
            result.flags.append("getattr() with a name computed at run time in "
                                f"{'answer ' + gid if gid else 'an added cell'}: check by hand")
        reasons = tamper_reasons(tree, protected, student_modules)
        if reasons:
            result.flags.append(f"tampering in {'answer ' + gid if gid else 'an added cell'}: "
                                + "; ".join(reasons))
            if tampered_from is None:
                tampered_from = owner or ""
    if ref_names:
        for _gid, owner, tree in parsed:
            if tree is not None and owner and any(
                    isinstance(n, ast.Name) and n.id in ref_names for n in ast.walk(tree)):
                result.zero_cells.update(tests_of.get(owner, []))
    if tampered_from is not None:
        # everything graded after the tampering cell: patches persist in the kernel
        started = tampered_from == ""
        for kind, gid in order:
            if kind == "solution" and gid == tampered_from:
                started = True
            if started and kind == "test":
                result.zero_cells.add(gid)
        if tampered_from == "":
            result.zero_cells.update(test_ids)
    return result


def read_notebook(path: Path):
    """``(notebook, "")`` or ``(None, why it cannot be graded)``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        json.loads(text)
        nb = nbformat.reads(text, as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("no cells")
        for cell in nb.cells:
            if not isinstance(cell.get("source"), str):
                raise ValueError("a cell without source text")
        return nb, ""
    except Exception as err:  # noqa: BLE001 - anything unreadable is reported, not raised
        return None, f"{Path(path).name} is not a valid notebook ({type(err).__name__}: {str(err)[:200]})"


def runtime_flags(executed_nb) -> list[str]:
    """Flags from an executed notebook: cells stopped by the time limit or the memory cap."""
    flags = []
    for cell in executed_nb.cells:
        if cell.cell_type != "code":
            continue
        where = _nbmeta(cell).get("grade_id") or "an added cell"
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out.get("ename") == "CellTimeoutError":
                flags.append(f"time limit hit in {where}")
            elif out.get("ename") == "MemoryError":
                flags.append(f"memory cap hit in {where} (MemoryError)")
    return flags
