"""Verdicts made outside the student's kernel.

nbgrader would run the test cells inside the student's kernel, where the student's code can
rewrite them, patch what they call, or read the hidden tests. Here the student's kernel only
runs the student's notebook, with every autograded test cell emptied; then the grader runs
each test cell's code (from the *solution* notebook, hidden tests included) in its own
process, where each function the student was asked to write is a :class:`StudentFunction`:
calling it sends the inputs to the kernel and gets back what the student's function returned,
as data (:mod:`autograde.probe`). The course's checks (``check_function`` and friends) then
compare that data with the real reference, in the grader's process. Nothing the kernel
prints, returns as a status or writes to its notebook decides a score.

Authoring stays as it was: a hidden test is a call such as
``check_function(student_fn, reference_fn, cases, hint=...)`` in a test cell of the solution.
Code cells of the solution that are neither answers nor tests (imports, constants) run in the
grader too, before the tests that follow them.

"The reference stands in for what it builds on": while the student's ``selu`` is checked,
the ``elu`` it calls is the reference's (answered by the grader through the kernel's stdin),
once ``elu`` has had its own check. So one bug costs only its own question.

:class:`TrustedExecute` is an nbgrader preprocessor: it replaces ``Execute`` in the autograde
pipeline (:func:`autograde.course.course_config`), so nbgrader still restores locked cells,
records scores (a test cell with an error output scores 0), and writes feedback.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import io
import json
import re
import sys
import traceback
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Unicode

from autograde import probe

HIDDEN = "### BEGIN HIDDEN TESTS"
NOOP = "# (this test runs in the grader, outside your notebook)\npass"


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell) -> bool:
    m = _meta(cell)
    return cell.cell_type == "code" and bool(m.get("grade")) and not m.get("solution")


def is_answer_cell(cell) -> bool:
    m = _meta(cell)
    return cell.cell_type == "code" and bool(m.get("solution"))


class KernelDied(Exception):
    """The student's kernel is gone (a crash, ``os._exit``, the memory cap)."""

    where = ""  # not a line of the student's code


class CheckTimeout(Exception):
    """The student's function did not return within the time limit."""

    where = ""


class InputsModified(AssertionError):
    """The student's function changed an argument it was given (reported by the kernel).

    ``modified_inputs`` names them (``"x"``, or ``"argument 1"`` for a positional one); the
    course's checks read it to word their own message.
    """

    where = ""

    def __init__(self, name: str, modified: list[str]):
        self.modified_inputs = list(modified)
        super().__init__(
            f"{name} modified its input {', '.join(modified)} in place. A function must leave "
            "its arguments as they were: return a new array (work on a copy if you must assign "
            "into one); statements like x[x < 0] = 0 or X -= mean write into the caller's array.")


def _student_exception(ename: str, message: str, where: str) -> Exception:
    """An exception that reads like the one the student's code raised in the kernel."""
    if ename == "NotImplementedError":
        return NotImplementedError(message)
    name = ename if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,60}", ename or "") else "Error"
    err = type(name, (Exception,), {})(message)
    err.where = where  # read by tnn.grading to name the student's line
    return err


class StudentFunction:
    """The student's function ``name``, called in the student's kernel with data in and out."""

    def __init__(self, session: KernelSession, name: str):
        self._session = session
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        return self._session.call(self.__name__, args, kwargs)

    def register_reference(self, reference) -> None:
        """Called by the course's checks: ``reference`` may now stand in for this function."""
        self._session.references[self.__name__] = reference

    def __repr__(self) -> str:
        return f"<student function {self.__name__}>"


class KernelSession:
    """Calls into one student's kernel through a blocking client."""

    def __init__(self, km, timeout: float, depends_on: dict[str, set[str]]):
        self.km = km
        self.timeout = timeout
        self.depends_on = depends_on
        self.references: dict[str, object] = {}
        self.client = km.blocking_client()
        self.client.start_channels()
        self._run(probe.kernel_setup_code(), want_answer=False)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_channels()

    def _alive(self) -> bool:
        """Whether the kernel's process still runs (its provisioner's Popen)."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        return process is None or process.poll() is None

    def _answer_standin(self, msg) -> None:
        """The kernel asks for a stand-in's value: compute it with the reference, reply."""
        prompt = msg["content"].get("prompt", "")
        try:
            request = json.loads(prompt) if len(prompt) <= probe.MAX_BYTES else {}
            dep = request.get("call")
            reference = self.references.get(dep)
            if reference is None or dep not in self._allowed:
                raise LookupError(f"no stand-in for {dep!r}")
            args, kwargs = probe.decode(json.dumps(request["args"]))
            reply = probe.encode(reference(*_to_numpy(args), **_to_numpy(kwargs)))
        except Exception as err:  # noqa: BLE001 - the kernel gets an error, the grader goes on
            reply = probe.encode({"__error__": f"stand-in failed: {type(err).__name__}: {err}"})
        self.client.input(reply)

    def _run(self, code: str, want_answer: bool = True):
        if not self._alive():
            raise KernelDied("the kernel is no longer running (it crashed or hit a limit)")
        answers = []

        def on_output(msg):
            if msg["msg_type"] in ("display_data", "execute_result"):
                data = msg["content"].get("data", {})
                if probe.MIME in data and not answers:
                    answers.append(data[probe.MIME])

        try:
            reply = self.client.execute_interactive(
                code, silent=False, store_history=False, allow_stdin=True,
                timeout=self.timeout, output_hook=on_output, stdin_hook=self._answer_standin)
        except TimeoutError:
            from jupyter_core.utils import run_sync

            with contextlib.suppress(Exception):
                result = self.km.interrupt_kernel()
                if hasattr(result, "__await__"):
                    run_sync(lambda: result)()
            self._drain()
            raise CheckTimeout(f"did not return within {self.timeout:g} s (the per-call "
                               "time limit)") from None
        if not want_answer:
            return None
        if not answers:
            status = reply.get("content", {}).get("status")
            raise probe.ProbeError(f"the kernel gave no answer (status {status!r})")
        return probe.decode(answers[0], envelope=True)

    def _drain(self) -> None:
        """Wait (briefly) for the interrupted request to end."""
        with contextlib.suppress(Exception):
            self.client.execute_interactive("pass", timeout=10, output_hook=lambda m: None)

    def call(self, name: str, args, kwargs):
        """The student's ``name`` on ``args``; differentiable when a tensor argument needs a
        gradient (the backward pass is computed in the kernel, see :class:`_RemoteAutograd`)."""
        torch = sys.modules.get("torch")
        if torch is not None and torch.is_grad_enabled() and any(
                isinstance(a, torch.Tensor) and a.requires_grad for a in args):
            return _remote_autograd().apply(self, name, kwargs, len(args), *args)
        return self.call_plain(name, args, kwargs)

    def vjp(self, name: str, args, kwargs, grad_out):
        answer = self._run(probe.vjp_code(name, list(args), dict(kwargs), grad_out))
        if "error" in answer:
            raise _student_exception(str(answer["error"]), str(answer.get("message", "")), "")
        return answer.get("value")

    def call_plain(self, name: str, args, kwargs):
        self._allowed = {d for d in self.depends_on.get(name, ()) if d in self.references}
        answer = self._run(probe.call_code(name, list(args), dict(kwargs), sorted(self._allowed)))
        if not isinstance(answer, dict):
            raise probe.ProbeError("the kernel's answer has the wrong form")
        if "error" in answer:
            raise _student_exception(str(answer["error"]), str(answer.get("message", "")),
                                     str(answer.get("where", "")))
        mutated = answer.get("mutated") or []
        if mutated:
            raise InputsModified(name, [str(m) for m in mutated])
        return answer.get("value")

    def fetch(self, name: str):
        answer = self._run(probe.fetch_code(name))
        if not isinstance(answer, dict) or "error" in answer:
            raise NameError(f"name {name!r} is not defined in the notebook")
        return answer.get("value")


def _remote_autograd():
    """A torch.autograd.Function whose forward and backward run in the student's kernel."""
    import torch

    class RemoteAutograd(torch.autograd.Function):
        @staticmethod
        def forward(ctx, session, name, kwargs, n_args, *args):
            ctx.session, ctx.name, ctx.kwargs = session, name, kwargs
            ctx.args = [a.detach().requires_grad_(a.requires_grad)
                        if isinstance(a, torch.Tensor) else a for a in args]
            out = session.call_plain(name, ctx.args, kwargs)
            if not isinstance(out, torch.Tensor):
                raise AssertionError(f"{name} returned {type(out).__name__}; expected a "
                                     "torch.Tensor")
            return out.detach()

        @staticmethod
        def backward(ctx, grad_out):
            grads = ctx.session.vjp(ctx.name, ctx.args, ctx.kwargs, grad_out)
            grads = iter(grads or ())
            out = []
            for a in ctx.args:
                g = next(grads, None) if isinstance(a, torch.Tensor) and a.requires_grad else None
                out.append(None if g is None else g.to(a.dtype))
            return (None, None, None, None, *out)

    return RemoteAutograd


def _to_numpy(value):
    """Values the kernel sent for a stand-in, as the reference expects them (tensors kept)."""
    if isinstance(value, list):
        return [_to_numpy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_to_numpy(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    return value


class Plan:
    """What the grader needs from the solution notebook: the answer names, their dependencies,
    the instructor's setup code and the test cells, in order."""

    def __init__(self, solution: NotebookNode):
        self.functions: set[str] = set()
        self.values: set[str] = set()
        bodies: dict[str, ast.AST] = {}
        self.steps: list[tuple[str, str, str]] = []  # (kind, grade_id or "", source)
        for cell in solution.cells:
            if cell.cell_type != "code":
                continue
            if is_answer_cell(cell):
                tree = _parse(cell.source)
                for node in tree.body if tree else []:
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                        self.functions.add(node.name)
                        bodies[node.name] = node
                    elif isinstance(node, ast.Assign | ast.AnnAssign):
                        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                        self.values |= {t.id for t in targets if isinstance(t, ast.Name)}
            elif is_test_cell(cell):
                self.steps.append(("test", _meta(cell)["grade_id"], cell.source))
            else:
                self.steps.append(("setup", "", cell.source))
        self.values -= self.functions
        # A cell that runs the student's functions (a demo, an experiment to interpret) is for
        # the student's eyes: it ran in the kernel; re-running it here would only cost time.
        self.steps = [step for step in self.steps
                      if step[0] == "test" or not self._uses_student_code(step[2])]
        # Code after the last test (a figure for a written answer) cannot change a score.
        while self.steps and self.steps[-1][0] != "test":
            self.steps.pop()
        self.depends_on = {
            name: {n.id for n in ast.walk(body) if isinstance(n, ast.Name)} & self.functions - {name}
            for name, body in bodies.items()}

    def _uses_student_code(self, source: str) -> bool:
        tree = _parse(source)
        if tree is None:
            return True
        return any(isinstance(n, ast.Name) and n.id in self.functions | self.values
                   for n in ast.walk(tree))

    def run(self, session: KernelSession) -> dict[str, list[NotebookNode]]:
        """Run setup and test cells in the grader; return each test cell's outputs."""
        import matplotlib

        matplotlib.use("Agg")
        from tnn import grading

        ns: dict = {"__name__": "__grader__"}
        students = {name: StudentFunction(session, name) for name in self.functions}
        for name in self.values:
            with contextlib.suppress(Exception):
                students[name] = session.fetch(name)
        outputs = {}
        for kind, gid, source in self.steps:
            ns.update(students)
            buffer = io.StringIO()
            error = None
            redact = grading.redacted_expected() if HIDDEN in source else contextlib.nullcontext()
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer), redact:
                try:
                    exec(compile(source, f"<{gid or 'setup cell'}>", "exec"), ns)
                except KernelDied as err:
                    error = ("KernelDied", f"your kernel stopped before this check ran: {err}")
                except CheckTimeout as err:
                    error = ("TimeoutError", f"a function you wrote {err}")
                except probe.ProbeError as err:
                    error = ("ProbeError", str(err))
                except Exception as err:  # noqa: BLE001 - a failed check, whatever raised it
                    error = (type(err).__name__, str(err) or repr(err))
                    if not isinstance(err, AssertionError) and kind == "test":
                        tb = traceback.extract_tb(err.__traceback__)
                        if tb and tb[-1].filename.startswith("<test"):
                            error = (error[0], error[1] + f" (in the test's line {tb[-1].lineno})")
            if kind != "test":
                continue  # setup code: its errors only matter through the tests that use it
            cell_outputs = []
            text = buffer.getvalue()
            if text:
                cell_outputs.append(nbformat.v4.new_output(
                    "stream", name="stdout", text=text[-20_000:]))
            if error:
                ename, evalue = error
                cell_outputs.append(nbformat.v4.new_output(
                    "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))
            outputs[gid] = cell_outputs
        return outputs


def _parse(source: str):
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


class TrustedExecute(Execute):
    """nbgrader's ``Execute``, with test cells emptied in the kernel and judged outside it."""

    solutions_root = Unicode("", help="course root whose solutions/ hold the tests").tag(config=True)
    staging = Unicode("", help="folder of staged hand-ins: the kernel's working directory "
                               "is <staging>/<student>/<assignment>").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        info = resources.get("nbgrader", {})
        student, aid, notebook = info.get("student"), info.get("assignment"), info.get("notebook")
        root = Path(self.solutions_root or ".")
        solution = nbformat.read(root / "solutions" / aid / f"{notebook}.ipynb", as_version=4)
        plan = Plan(solution)

        kernel_nb = copy.deepcopy(nb)
        for cell in kernel_nb.cells:
            if is_test_cell(cell):
                cell.source = NOOP
        if self.staging:
            resources = dict(resources)
            resources["metadata"] = dict(resources.get("metadata", {}),
                                         path=str(Path(self.staging) / student / aid))
        NotebookClient.__init__(self, kernel_nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        with self.setup_kernel():
            info_msg = self.wait_for_reply(self.kc.kernel_info())
            kernel_nb.metadata["language_info"] = info_msg["content"]["language_info"]
            for index, cell in enumerate(kernel_nb.cells):
                self.preprocess_cell(cell, resources, index)
            session = KernelSession(self.km, float(self.timeout or 120), plan.depends_on)
            try:
                verdicts = plan.run(session)
            finally:
                session.close()
        for cell, ran in zip(nb.cells, kernel_nb.cells, strict=True):
            if cell.cell_type != "code":
                continue
            if is_test_cell(cell):
                gid = _meta(cell)["grade_id"]
                cell.outputs = verdicts.get(gid, [nbformat.v4.new_output(
                    "error", ename="NotGraded", evalue="this test is not in the assignment",
                    traceback=["NotGraded: this test is not in the assignment"])])
                cell.execution_count = ran.get("execution_count")
            else:
                cell.outputs = ran.outputs
                cell.execution_count = ran.get("execution_count")
        nb.metadata["language_info"] = kernel_nb.metadata.get("language_info", {})
        return nb, resources


__all__ = ["TrustedExecute", "Plan", "KernelSession", "StudentFunction", "InputsModified"]
