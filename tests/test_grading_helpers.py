"""The student-facing messages of tnn.grading: each classic mistake gets a message naming it."""

import re
import sys
import warnings

import numpy as np
import pytest
import torch

from tnn import activations
from tnn.grading import (
    assert_close,
    check_function,
    check_torch_function,
    elementwise_cases,
    route_warnings_to_stdout,
)

X = np.array([-10.0, 0.0, 10.0])


def fails_with(pattern, fn, *args, **kwargs):
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    assert re.search(pattern, str(info.value), re.S), str(info.value)
    return str(info.value)


def test_correct_answer_passes_and_returns_none():
    # None on purpose: nbgrader reads a number left as a cell's last value as partial credit
    assert check_function(activations.sigmoid, activations.sigmoid, elementwise_cases(0)) is None


def test_none_return():
    def sigmoid(x):
        1 / (1 + np.exp(-x))

    fails_with(r"sigmoid returned None.*forget the `return`", check_function, sigmoid, activations.sigmoid,
               [{"x": X}])


def test_wrong_shape():
    fails_with(r"returned shape \(3, 1\).*expected shape \(3,\)", check_function,
               lambda x: activations.sigmoid(x)[:, None], activations.sigmoid, [{"x": X}], name="sigmoid")


def test_boolean_and_object_dtype():
    msg = fails_with(r"relu_grad returned a boolean array.*astype", check_function,
                     lambda x: x > 0, activations.relu_grad, [{"x": X}], name="relu_grad")
    assert "Hint" not in msg or "astype" in msg
    fails_with(r"returned values of dtype object", check_function,
               lambda x: np.array([object()] * 3), activations.relu, [{"x": X}], name="relu")


def test_list_and_tensor_and_string():
    fails_with(r"returned a list.*ndarray of shape \(3,\)", check_function,
               lambda x: list(activations.relu(x)), activations.relu, [{"x": X}], name="relu")
    fails_with(r"returned a torch.Tensor", check_function,
               lambda x: torch.tensor(x), activations.relu, [{"x": X}], name="relu")
    fails_with(r"returned str", check_function, lambda x: "0.5", activations.sigmoid, [{"x": 0.0}],
               name="sigmoid")


def test_nan_message_names_the_input():
    def naive(x):
        with np.errstate(all="ignore"):
            return np.exp(x) / np.exp(x).sum() * 0 + np.exp(x) / (np.exp(x) + 1)

    msg = fails_with(r"not a finite number.*x\[1\] = 1000.*overflow", check_function, naive,
                     activations.sigmoid, [{"x": np.array([0.0, 1000.0])}], name="sigmoid")
    assert "expected" not in msg or "answer is 1" in msg


def test_wrong_values_show_expected_got_max_error_and_hint():
    msg = fails_with(
        r"sigmoid_grad is wrong at 3 of 3 positions.*x\[0\] = -10 expected 4.53958e-05, got "
        r".*Max abs error .*Hint: s\(1-s\)",
        check_function, lambda x: activations.sigmoid(x) * (1 - x), activations.sigmoid_grad, [{"x": X}],
        name="sigmoid_grad", hint="s(1-s)")
    assert "allowed" in msg


def test_exceptions_in_student_code_are_reported_with_the_input():
    def broken(x):
        raise NotImplementedError()

    fails_with(r"not implemented yet", check_function, broken, activations.relu, [{"x": X}])

    def overflow(x):
        with np.errstate(over="raise"):
            return 1 / (1 + np.exp(-x))

    fails_with(r"raised FloatingPointError: overflow.*x=\[-1000, 1000\] \(float64\)", check_function,
               overflow, activations.sigmoid, [{"x": np.array([-1000.0, 1000.0])}])


def test_input_mutation_cannot_fool_the_reference():
    def mutating(x):
        x[:] = 0.0
        return np.zeros_like(x)

    fails_with(r"wrong", check_function, mutating, activations.relu, [{"x": np.array([1.0, 2.0])}])


def test_always_equal_object_gets_zero():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    fails_with(r"wrong", check_function, lambda x: np.zeros_like(x).view(Liar), activations.sigmoid,
               [{"x": X}])


def test_dtype_is_checked_only_when_asked():
    x32 = X.astype(np.float32)
    check_function(lambda x: activations.relu(x).astype(np.float64), activations.relu, [{"x": x32}])
    fails_with(r"returned dtype float64.*expected float32", check_function,
               lambda x: activations.relu(x).astype(np.float64), activations.relu, [{"x": x32}], keep_dtype=True)


def test_assert_close_tolerances_and_infinities():
    assert_close(np.array([np.inf, 1.0]), np.array([np.inf, 1.0 + 1e-12]))
    fails_with(r"wrong", assert_close, np.array([1.0]), np.array([1.1]), name="f")


def test_torch_checks(device):
    check_torch_function(activations.elu_torch, activations.elu, [X, X.astype(np.float32)], device)
    fails_with(r"expected a torch.Tensor", check_torch_function,
               lambda x: x.cpu().numpy(), activations.elu, [X], device, name="elu_torch")
    fails_with(r"returned dtype torch.float32 for a torch.float64", check_torch_function,
               lambda x: activations.elu_torch(x).float(), activations.elu, [X], device, name="elu_torch")
    if device.type == "cuda":
        fails_with(r"keep the computation on the input's device", check_torch_function,
                   lambda x: activations.elu_torch(x).cpu(), activations.elu, [X], device, name="elu_torch")


def test_warnings_go_to_stdout(capsys):
    saved = warnings.showwarning
    try:
        route_warnings_to_stdout()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = sys.modules["warnings"].showwarning
            np.exp(np.array([1000.0]))
    finally:
        warnings.showwarning = saved
    out = capsys.readouterr()
    assert "RuntimeWarning" in out.out and "RuntimeWarning" not in out.err


@pytest.mark.slow
def test_a_failed_check_reads_as_its_message_in_a_notebook():
    """In the student's kernel a failed check shows the test line and the message, not a wall
    of grading internals; an exception inside the student's code names its line."""
    import nbformat
    from nbclient import NotebookClient

    wrong = ("import numpy as np\nfrom tnn.grading import check_function\n"
             "def sigmoid(x):\n    return np.exp(-x)\n"
             "check_function(sigmoid, lambda x: 1 / (1 + np.exp(-x)), "
             "[{'x': np.array([-1.0, 0.0, 2.0])}], hint='look at the sign')")
    broken = ("def relu(x):\n    return x.nonexistent\n"
              "check_function(relu, lambda x: np.maximum(x, 0), [{'x': np.ones(2)}], hint='h')")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(wrong),
                                         nbformat.v4.new_code_cell(broken)])
    NotebookClient(nb, kernel_name="training-nn", timeout=120, allow_errors=True).execute()
    for cell, expect in zip(nb.cells, ["sigmoid is wrong", "at line 2: `return x.nonexistent`"],
                            strict=True):
        error = next(o for o in cell.outputs if o.output_type == "error")
        text = "\n".join(error.traceback)
        assert expect in text and "Hint:" in text, text
        # one short frame of the checker (the re-raise), none of its internals
        assert text.count("tnn/grading.py") <= 1 and "_to_float_array" not in text, text
        assert len(text.splitlines()) <= 15, text


def test_expected_value_keys_survive_last_bit_differences():
    """A visible test's input computed in its cell (``x ** 1.5``) can differ in its last bits
    from one CPU to another; its key into expected.json must not (a correct answer once failed
    with 'no expected value recorded' on a machine other than the instructor's)."""
    from tnn import _expected

    x = np.arange(36, dtype=np.float64).reshape(2, 2, 3, 3) ** 1.5
    y = x.copy()
    y.flat[5] = np.nextafter(y.flat[5], np.inf)
    for dtype in (np.float64, np.float32):
        assert _expected.case_key(np.sin, {"images": x.astype(dtype)}) == _expected.case_key(
            np.sin, {"images": y.astype(dtype)})
    assert _expected.case_key(np.sin, {"a": 0.1 + 0.2}) == _expected.case_key(np.sin, {"a": 0.3})
    # a real change of an input is a different case
    assert _expected.case_key(np.sin, {"images": x}) != _expected.case_key(
        np.sin, {"images": x * 1.001})
    assert _expected.case_key(np.sin, {"images": x}) != _expected.case_key(
        np.sin, {"images": x.astype(np.float32)})


def test_stored_expected_values_drop_round_off_around_zero():
    """The std of identical MC-dropout passes came out as 0 or as 7e-18 from one release to
    the next on the same machine, so a fresh clone's exercises/ differed from the committed
    one. Stored values below 1e-15 (float32: 1e-7) are stored as 0; others keep 12 (7)
    significant digits."""
    from tnn import _expected

    noisy = np.array([[0.0, 6.93889390e-18, 3.4e-21], [8.7e-19, -4.3e-19, 0.957398066123456789]])
    clean = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.957398066123]])
    for arr in (noisy, noisy.astype(np.float32)):
        stored = _expected.decode(_expected.encode(arr))
        assert stored.dtype == arr.dtype
        np.testing.assert_array_equal(stored, clean.astype(arr.dtype) if arr.dtype == np.float64
                                      else np.float32(clean).round(7))
    assert _expected.decode(_expected.encode(1e-16)) == 0.0
    assert _expected.decode(_expected.encode(2e-15)) == 2e-15
    assert _expected.decode(_expected.encode(np.float64(1e-300))) == 0.0
    assert np.isnan(_expected.decode(_expected.encode(float("nan"))))
    both = _expected.decode(_expected.encode(np.array([1e-3, 5e-8], dtype=np.float32)))
    np.testing.assert_array_equal(both, np.array([1e-3, 0.0], dtype=np.float32))


def test_message_names_every_failing_case_and_reads_as_one_line_in_a_notebook():
    cases = [{"x": np.array([-1.0, 0.0])}, {"x": np.array([2.0])}, {"x": np.array([3.0, 4.0])}]
    calls = []

    def wrong_above_one(x):
        calls.append(len(x))
        return np.where(x > 1, 0.0, activations.relu(x))

    msg = fails_with(r"^relu fails cases 2 and 3 of 3 \(numbered from 1\); case 2: relu is wrong",
                     check_function, wrong_above_one, activations.relu, cases, name="relu")
    assert calls == [2, 1, 2] and "x[0] = 2" in msg

    def raises_on_long(x):
        calls.append(len(x))
        if len(x) > 1:
            raise ValueError("too long")
        return activations.relu(x)

    calls.clear()
    fails_with(r"^relu fails case 1 of 3 .*raised ValueError: too long", check_function,
               raises_on_long, activations.relu, cases, name="relu")
    assert calls == [2]  # a function that raises (or runs out of time) is not called again
    try:
        check_function(wrong_above_one, activations.relu, cases, name="relu")
    except AssertionError as err:
        assert type(err).__name__ == "AssertionError"  # what the notebook's error is called
        assert err._render_traceback_() == [f"AssertionError: {err}"]  # no frames


def test_dicts_of_arrays_in_messages_stay_on_one_line():
    from tnn.grading import format_value

    text = format_value({"g0": np.arange(12.0).reshape(3, 4), "g1": np.ones(2)})
    assert "\n" not in text and "shape=(3, 4)" in text and "(12 values)" in text
