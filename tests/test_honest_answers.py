"""Correct answers written differently keep full marks; classic bugs lose exactly their own
question's points, with feedback that says what to fix.

One grading batch (autograde.run.grade) holds, for every assignment, a hand-in whose every
answer cell is a correct-but-different answer (autograde/alternatives/<topic>.py: np.where vs masks,
scipy.special, loops, torch, repeated imports, a plot that sets plt.rcParams, stderr,
logging, tqdm), and, per assignment with classic bugs, one hand-in with all of them, each in
its own answer cell: a function that writes into its caller's array, a torch twin that builds
its tensors on the CPU whatever the input's device: five hand-ins, graded once per run.
"""

import ast
import html
import re
import shutil

import nbformat
import pytest

from autograde import alternatives, corpus
from autograde.course import REPO_ROOT
from autograde.graded import graded_functions
from autograde.run import grade

ASSIGNMENTS = sorted(alternatives.ALTERNATIVES)
HONEST = {aid: f"honest-{aid}" for aid in ASSIGNMENTS}  # student id per honest hand-in
BUGS = alternatives.CLASSIC_BUGS
BUGGY = "classic-bugs"  # the student whose hand-ins hold the classic bugs


def _write(nb, root, student, aid):
    folder = root / "autograde" / "submitted" / student / aid
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{aid}.ipynb")


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Every honest and buggy hand-in, graded in one batch."""
    root = tmp_path_factory.mktemp("honest")
    for aid in {*ASSIGNMENTS, *(bug.aid for bug in BUGS.values())}:
        for folder in ("solutions", "exercises"):
            shutil.copytree(REPO_ROOT / folder / aid, root / folder / aid)
    for aid, student in HONEST.items():
        _write(alternatives.honest_hand_in(aid), root, student, aid)
    for aid in {bug.aid for bug in BUGS.values()}:
        _write(alternatives.bugs_hand_in(aid), root, BUGGY, aid)
    results = grade(root, progress=False, jobs=2, config_overrides={"Execute.timeout": 60},
                    feedback={BUGGY})
    return root, {(r.assignment, r.student): r for r in results}


def test_alternatives_answer_every_graded_function():
    """Each assignment's alternatives replace every answer cell and define every function the
    assignment grades (so a new graded function needs an alternative here)."""
    graded_names = graded_functions()
    missing = sorted(set(graded_names) - set(alternatives.ALTERNATIVES))
    assert not missing, (f"no honest alternatives for {missing}: write "
                         "autograde/alternatives/<topic>.py (ANSWERS, BUGS)")
    for aid in graded_names:
        answers, _, _ = corpus.structure(aid)
        sources = alternatives.ALTERNATIVES[aid]
        assert set(sources) == set(answers), aid
        defined = {node.name for src in sources.values() for node in ast.parse(src).body
                   if isinstance(node, ast.FunctionDef)}
        assert set(graded_names[aid]) <= defined, (aid, set(graded_names[aid]) - defined)
        solution, _ = corpus.load(aid)
        answer_text = {c.metadata["nbgrader"]["grade_id"]: corpus.strip_markers(c.source)
                       for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")}
        for gid, src in sources.items():  # written differently from the solution
            assert src.strip() != answer_text[gid].strip(), (aid, gid)
    assert set(alternatives.ALTERNATIVES) == set(graded_names)


def test_classic_bugs_name_real_cells():
    """Each bug replaces an answer cell of its own and loses only tests of that cell."""
    cells = [(bug.aid, bug.cell) for bug in BUGS.values()]
    assert len(set(cells)) == len(cells)
    for name, bug in BUGS.items():
        answers, tests_of, _ = corpus.structure(bug.aid)
        assert bug.cell in answers, name
        assert bug.loses and bug.loses <= set(tests_of[bug.cell]), name


@pytest.mark.slow
@pytest.mark.xdist_group("honest")
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_honest_alternatives_keep_full_marks(graded, aid):
    """Every autograded cell scores what the solution scores: its full points."""
    _, results = graded
    r = results[aid, HONEST[aid]]
    assert r.ok, r.error
    _, _, points = corpus.structure(aid)
    got = {k: r.cells[k][0] for k in points}
    assert got == points, {k: (got[k], points[k]) for k in points if got[k] != points[k]}


def _feedback_text(root, student, aid) -> str:
    page = root / "autograde" / "feedback" / student / aid / f"{aid}.html"
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.read_text()))
    return re.sub(r"\s+", " ", text)


@pytest.mark.slow
@pytest.mark.xdist_group("honest")
@pytest.mark.parametrize("name", sorted(BUGS))
def test_classic_bug_loses_exactly_its_own_points(graded, name):
    """The bug's own test cells score 0 and every cell no bug touches keeps its points (the
    other bugs in the same hand-in sit in other answer cells); the feedback says why."""
    root, results = graded
    bug = BUGS[name]
    r = results[bug.aid, BUGGY]
    assert r.ok, r.error
    _, _, points = corpus.structure(bug.aid)
    lost_here = set().union(*(b.loses for b in BUGS.values() if b.aid == bug.aid))
    got = {k: r.cells[k][0] for k in points}
    assert all(got[k] == 0 for k in bug.loses), {k: got[k] for k in bug.loses}
    kept = {k: points[k] for k in points if k not in lost_here}
    assert {k: got[k] for k in kept} == kept, {k: (got[k], kept[k]) for k in kept
                                               if got[k] != kept[k]}
    # the student reads why, and what to change, in the feedback of every cell lost
    text = _feedback_text(root, BUGGY, bug.aid)
    for words in bug.says:
        assert text.count(words) >= len(bug.loses), (name, words)


# ---- the checks behind the classic bugs, without a kernel (fast) ----

def _fails(pattern, fn, *args, **kwargs):
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    assert re.search(pattern, str(info.value), re.S), str(info.value)


def test_check_function_fails_a_function_that_changes_its_input():
    import numpy as np

    from tnn.grading import check_function

    x = np.array([-2.0, 0.0, 3.0])

    def relu(x):
        x = np.asarray(x)
        x[x < 0] = 0
        return x

    def relu_on_copy(x):
        out = np.array(x, copy=True)
        out[out < 0] = 0
        return out

    _fails(r"relu modified its input x in place.*return a new array", check_function, relu,
           lambda x: np.maximum(x, 0), [{"x": x}])
    check_function(relu_on_copy, lambda x: np.maximum(x, 0), [{"x": x}])

    def receptive_field(layers):  # reverses the caller's list
        layers.reverse()
        field = 1
        for k, s in layers:
            field = (field - 1) * s + k
        return field

    def reference(layers):
        field, jump = 1, 1
        for k, s in layers:
            field, jump = field + (k - 1) * jump, jump * s
        return field

    _fails(r"modified its input layers in place", check_function, receptive_field, reference,
           [{"layers": [(3, 2), (5, 1)]}])

    # parameters by name (assignment 04's sgd_step): a step taken in the caller's arrays
    def stacked(params):
        return np.concatenate([params[k].ravel() for k in sorted(params)])

    def step_in_place(params, lr):
        for name in params:
            params[name] -= lr
        return stacked(params)

    def step(params, lr):
        return stacked({name: value - lr for name, value in params.items()})

    case = [{"params": {"W": np.ones((2, 2)), "b": np.zeros(2)}, "lr": 0.1}]
    _fails(r"modified its input params in place", check_function, step_in_place, step, case)
    check_function(step, step, case)


def test_check_torch_function_calls_the_function_on_meta():
    from functools import partial

    import numpy as np
    import torch

    from tnn import activations
    from tnn.grading import check_torch_function

    x = np.array([-3.0, -0.5, 0.0, 2.0])

    def on_cpu(x, alpha=1.0):  # the classic bug
        zero = torch.zeros(x.shape, dtype=x.dtype)
        return torch.where(x > zero, x, alpha * torch.expm1(torch.minimum(x, zero)))

    def cpu_result(x, alpha=1.0):  # returns a new CPU tensor for a meta input
        if x.device.type == "meta":
            return torch.zeros(x.shape, dtype=x.dtype)
        return activations.elu_torch(x)

    def reads_values(x, alpha=1.0):  # cannot run on meta (reads a value): not judged there
        if bool((x > 1e6).any()):
            raise ValueError("too large")
        return torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0)))

    def no_meta_kernel(x, alpha=1.0):  # an operation without a meta implementation
        torch.unique(x)
        return torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0)))

    def in_place(x, alpha=1.0):
        return x.clamp_(min=-alpha)

    _fails(r"elu_torch mixed devices: for an input on meta.*device=x\.device",
           check_torch_function, on_cpu, activations.elu, [x], "cpu", name="elu_torch")
    _fails(r"elu_torch returned a tensor on cpu for an input on meta.*device=x\.device",
           check_torch_function, cpu_result, activations.elu, [x], "cpu", name="elu_torch")
    _fails(r"modified its input tensor in place", check_torch_function, in_place,
           lambda a: np.maximum(a, -1.0), [x], "cpu", name="elu_torch")
    for fn in (reads_values, no_meta_kernel):
        check_torch_function(fn, activations.elu, [x, x.astype(np.float32)], "cpu", name="elu_torch")

    # statistics bound on the input's device travel to meta with it
    images = np.arange(24, dtype=np.float64).reshape(2, 3, 2, 2)
    mean, std = images.mean(axis=(0, 2, 3)).reshape(3, 1, 1), np.full((3, 1, 1), 2.0)

    def normalize(images, mean, std):
        mean = torch.as_tensor(mean, device=images.device, dtype=images.dtype)
        std = torch.as_tensor(std, device=images.device, dtype=images.dtype)
        return (images - mean) / std

    def normalize_on_cpu(images, mean, std):
        return (images - torch.as_tensor(mean, dtype=images.dtype)) / torch.as_tensor(std)

    reference = partial(lambda a, mean, std: (a - mean) / std, mean=mean, std=std)
    as_tensors = {"mean": torch.as_tensor(mean), "std": torch.as_tensor(std)}
    check_torch_function(partial(normalize, **as_tensors), reference, [images], "cpu",
                         name="normalize_images_torch")
    check_torch_function(partial(normalize, mean=mean, std=std), reference, [images], "cpu",
                         name="normalize_images_torch")
    _fails(r"mixed devices", check_torch_function, partial(normalize_on_cpu, mean=mean, std=std),
           reference, [images], "cpu", name="normalize_images_torch")
