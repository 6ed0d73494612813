"""What students and instructors see of a hand-in: outputs capped and sanitized, feedback
without hidden tests.

- :class:`CappedExecute` runs the notebook (nbgrader's ``Execute``) and, as each output
  arrives from the kernel, keeps it only within a budget of bytes and outputs per cell and
  bytes per notebook; what is cut is replaced by one note and flagged (the pool adds the
  flag, see :func:`autograde.sandbox.note_limit`). An error output is always kept (its
  traceback shortened) and a cut stream keeps its beginning, so nbgrader still scores a
  failing or stderr-writing cell 0, and one flooding cell costs only that cell. Every output
  of the kernel is also sanitized (:func:`clean_output`): HTML, JavaScript, SVG and
  Markdown become plain text, image data must be base64, metadata is dropped; Markdown
  cells are cleaned with bleach. The graded notebook the formgrader opens holds nothing
  a browser would run.
- :class:`HideHiddenTests` runs in ``GenerateFeedback`` before nbgrader's own preprocessors:
  in each cell holding a ``### BEGIN HIDDEN TESTS`` block it replaces the block with a
  one-line note and reduces each error to its message (``AssertionError: sigmoid is wrong
  at 3 of 17 positions ...``), which the course's checks write for students; it sanitizes
  again (the feedback HTML is what students open) and caps stream text.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import Execute
from traitlets import Bool

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
NOTE = "# (hidden tests: run at grading time; their code is not shown)"
MAX_TEXT = 20_000  # characters of stream output kept per cell in feedback
MAX_TRACEBACK_LINES = 60
#: output types a browser shows without running anything
SAFE_MIME = {"text/plain", "image/png", "image/jpeg", "image/gif"}
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")


def _size(value) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_size(k) + _size(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(_size(v) for v in value)
    return 8


def clean_markdown(source: str) -> str:
    """Markdown with its raw HTML escaped except harmless tags (bleach, as nbconvert's
    ``SanitizeHTML`` does): ``<script>`` and ``onerror=`` never reach a browser."""
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    return SanitizeHTML().sanitize_html_tags(source)


def clean_output(out: dict) -> dict:
    """An output with nothing a browser would run: only :data:`SAFE_MIME` data kept (the
    rest becomes ``text/plain``), image data checked to be base64, metadata dropped."""
    if out.get("output_type") not in ("display_data", "execute_result", "update_display_data"):
        return out
    return clean_data(out)


def clean_data(out: dict) -> dict:
    """:func:`clean_output` on a dict with ``data`` (an output, or a kernel message's
    content)."""
    data = out.get("data") or {}
    kept = {}
    for mime, value in data.items():
        if not isinstance(value, str | list):
            continue
        text = "".join(value) if isinstance(value, list) else value
        if mime == "text/plain":
            kept[mime] = text
        elif mime in SAFE_MIME and _BASE64.match(text):
            try:
                base64.b64decode("".join(text.split()), validate=True)
                kept[mime] = "".join(text.split())
            except (binascii.Error, ValueError):
                continue
    if "text/plain" not in kept:
        unsafe = sorted(set(data) - set(kept))
        if unsafe:
            raw = data[unsafe[0]]
            raw = "".join(raw) if isinstance(raw, list) else str(raw)
            kept["text/plain"] = f"[{unsafe[0]} output shown as text]\n" + raw[:2000]
    out["data"] = kept
    out["metadata"] = {}
    return out


class OutputCaps:
    """Mixin for an nbgrader ``Execute`` class: a budget on the outputs it keeps, and
    sanitized outputs (see the module's docstring)."""

    max_cell_bytes = 2_000_000  # output bytes kept per cell
    max_cell_outputs = 500  # outputs kept per cell
    max_notebook_bytes = 10_000_000  # output bytes kept per notebook

    def preprocess(self, nb, resources=None, km=None):
        self._cap_used = 0
        self._cap_cells: dict[int, dict] = {}
        self._cap_where = os.path.basename(
            str(((resources or {}).get("metadata") or {}).get("path", "")))
        nb, resources = super().preprocess(nb, resources, km=km)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = clean_markdown(cell.source)
        return nb, resources

    def _note_cut(self, cell_index: int, why: str) -> None:
        from autograde.sandbox import note_limit

        state = self._cap_cells.setdefault(cell_index, {})
        if not state.get("flagged"):
            state["flagged"] = True
            note_limit(f"output cut: cell {cell_index} of the notebook {why}", self._cap_where)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content") or {}
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        state = self._cap_cells.setdefault(cell_index, {"bytes": 0, "count": 0, "cut": set()})
        state.setdefault("bytes", 0)
        state.setdefault("count", 0)
        state.setdefault("cut", set())
        if msg_type == "error":  # always kept: nbgrader scores the cell 0 from it
            tb = [line[:2000] for line in content.get("traceback", [])]
            if len(tb) > MAX_TRACEBACK_LINES:
                tb = tb[:10] + ["..."] + tb[-(MAX_TRACEBACK_LINES - 11):]
            content["traceback"] = tb
            content["evalue"] = str(content.get("evalue", ""))[:5000]
            return super().output(outs, msg, display_id, cell_index)
        if msg_type in ("display_data", "execute_result"):
            clean_data(content)
        size = _size(content)
        over = (state["count"] >= self.max_cell_outputs
                or state["bytes"] + size > self.max_cell_bytes
                or self._cap_used + size > self.max_notebook_bytes)
        if not over:
            state["count"] += 1
            state["bytes"] += size
            self._cap_used += size
            return super().output(outs, msg, display_id, cell_index)
        why = (f"made more than {self.max_cell_outputs} outputs"
               if state["count"] >= self.max_cell_outputs else
               f"made more than {self.max_cell_bytes // 1000} kB of output"
               if state["bytes"] + size > self.max_cell_bytes else
               f"took the notebook past {self.max_notebook_bytes // 1000} kB of output")
        self._note_cut(cell_index, why)
        if msg_type == "stream":  # keep the beginning of each stream (stderr scores 0)
            name = content.get("name", "stdout")
            if name in state["cut"]:
                return None
            state["cut"].add(name)
            content["text"] = str(content.get("text", ""))[:500] + f"\n[output cut: {why}]\n"
            return super().output(outs, msg, display_id, cell_index)
        if "other" in state["cut"]:
            return None
        state["cut"].add("other")
        note = {"header": msg.get("header", {}), "parent_header": msg.get("parent_header", {}),
                "msg_type": "display_data",
                "content": {"data": {"text/plain": f"[output cut: {why}]"}, "metadata": {}}}
        note["header"] = dict(note["header"], msg_type="display_data")
        return super().output(outs, note, None, cell_index)

    def _update_display_id(self, display_id, msg):
        content = msg.get("content") or {}
        clean_data(content)
        if _size(content) > self.max_cell_bytes:
            content["data"] = {"text/plain": "[output cut: a display update was too large]"}
            self._note_cut(-1, "updated a display with too much output")
        return super()._update_display_id(display_id, msg)


def _course_preprocessors() -> list:
    from nbgrader.converters.autograde import Autograde

    from autograde.course import course_config

    configured = course_config().Autograde
    if "autograde_preprocessors" in configured:
        return list(configured.autograde_preprocessors)
    return list(Autograde.class_traits()["autograde_preprocessors"].default())


def _is_execute(pp) -> bool:
    return isinstance(pp, type) and issubclass(pp, Execute)


def __getattr__(name: str):
    """``CappedExecute``: the course's execute preprocessor (nbgrader's ``Execute`` or the
    course's subclass of it) with :class:`OutputCaps`, built on first use."""
    if name != "CappedExecute":
        raise AttributeError(name)
    base = next((pp for pp in _course_preprocessors() if _is_execute(pp)), Execute)
    cls = type("CappedExecute", (OutputCaps, base), {"__module__": __name__})
    globals()["CappedExecute"] = cls
    return cls


def autograde_preprocessors() -> list[str]:
    """The course's autograde preprocessors with ``CappedExecute`` in place of its execute
    step (as import paths: they travel in a job's JSON overrides)."""
    out = []
    for pp in _course_preprocessors():
        path = f"{pp.__module__}.{pp.__name__}" if isinstance(pp, type) else str(pp)
        out.append("autograde.feedback.CappedExecute" if _is_execute(pp) else path)
    return out


class HideHiddenTests(Preprocessor):
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = clean_markdown(cell.source)
            return cell, resources
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
            else:
                clean_output(out)
        return cell, resources


