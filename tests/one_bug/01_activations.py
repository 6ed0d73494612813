"""A submission to assignment 01 with exactly one function wrong.

The classic slip: differentiating the sigmoid as s * (1 - x) instead of s * (1 - s).
Only sigmoid_grad's two test cells may lose points.
"""

CELL = "sigmoid_grad"
SOURCE = '''
def sigmoid_grad(x):
    """Derivative of the sigmoid, elementwise."""
    s = sigmoid(x)
    return s * (1.0 - x)
'''
LOSES = {"test_sigmoid_grad", "test_sigmoid_grad_hidden"}

# A correct answer that is noisy on stderr: a NumPy RuntimeWarning, a UserWarning like those
# torch emits, and warning text written straight to stderr (as C code does). It must keep
# full marks: nbgrader would otherwise score any stderr output in a test cell as a failure.
NOISY_CELL = "tanh_grad"
NOISY_SOURCE = '''
import sys
import warnings

def tanh_grad(x):
    """Derivative of tanh, elementwise."""
    x = np.asarray(x)
    with np.errstate(all="warn"):
        np.log(np.zeros(1))  # RuntimeWarning: divide by zero encountered in log
    warnings.warn("this overload is deprecated", UserWarning)
    print("UserWarning: written to stderr directly", file=sys.stderr)
    return 1.0 - np.tanh(x) ** 2
'''


def hostile_cases(kit):
    """The hostile corpus's cases that name this assignment's functions (sigmoid, tanh_grad,
    elu_torch, relu): tampering with the checks, answers of the wrong type, dtype or shape,
    reaching for expected values or for the reference. ``kit`` comes from
    ``autograde.corpus.hostile``."""
    import re

    first = kit.first  # the first answer cell: sigmoid
    wrong = "def sigmoid(x):\n    return x * 0.0\n"
    return [
        kit.Case("patch_allclose", kit.sub(kit.filled_in(kit.aid, kit.root, {first: wrong + "np.allclose = lambda *a, **k: True\n"
                                                          "np.testing.assert_allclose = lambda *a, **k: None"})),
             lose=set(kit.tests_of[first]), flag="tampering"),
        kit.Case("patch_helpers", kit.sub(kit.filled_in(kit.aid, kit.root, {first: wrong + "check_function = lambda *a, **k: None"})),
             lose=set(kit.tests_of[first]), flag="tampering"),
        kit.Case("patch_helper_module", kit.sub(kit.filled_in(kit.aid, kit.root, {first: wrong + (
            "import tnn.grading as _g\n_g.assert_close = lambda *a, **k: None")})),
             lose=set(kit.tests_of[first]), flag="tampering"),
        kit.Case("eq_always_true", kit.sub(kit.filled_in(kit.aid, kit.root, {first: (
            "class _Yes:\n    def __eq__(self, other):\n        return True\n"
            "    __array_priority__ = 1000\n\ndef sigmoid(x):\n    return _Yes()\n")})),
             lose=set(kit.tests_of[first])),
        kit.Case("wrong_type", kit.sub(kit.filled_in(kit.aid, kit.root, {"tanh_grad": "def tanh_grad(x):\n    return list(np.ravel(1 - np.tanh(x) ** 2))"})),
             lose=set(kit.tests_of["tanh_grad"])),
        kit.Case("wrong_dtype", kit.sub(kit.filled_in(kit.aid, kit.root, {"tanh_grad": "def tanh_grad(x):\n    return (1 - np.tanh(x) ** 2) > 0.5"})),
             lose=set(kit.tests_of["tanh_grad"])),
        kit.Case("wrong_shape", kit.sub(kit.filled_in(kit.aid, kit.root, {"tanh_grad": "def tanh_grad(x):\n    return np.ravel(1 - np.tanh(x) ** 2)[:1]"})),
             lose=set(kit.tests_of["tanh_grad"])),
        kit.Case("patch_torch_allclose", kit.sub(kit.filled_in(kit.aid, kit.root, {"elu_torch": (
            "import torch\ntorch.allclose = lambda *a, **k: True\n"
            "torch.testing.assert_close = lambda *a, **k: None\n\n"
            "def elu_torch(x, alpha=1.0):\n    return x * 0.0")})),
             lose=set(kit.tests_of["elu_torch"]), flag="tampering"),
        kit.Case("stack_walk_for_expected", kit.sub(kit.filled_in(kit.aid, kit.root, {first: (
            "import inspect\n\ndef sigmoid(x):\n    for _fr in inspect.stack():\n"
            "        if 'expected' in _fr.frame.f_locals:\n"
            "            return _fr.frame.f_locals['expected']\n    return x * 0.0\n")})),
             lose=set(kit.tests_of[first])),
        kit.Case("reference_by_string", kit.sub(kit.filled_in(kit.aid, kit.root, {"tanh_grad": (
            "import importlib\n\ndef tanh_grad(x):\n"
            "    return getattr(importlib.import_module('tnn.' + 'activations'), "
            "'tanh' + '_grad')(x)")})),
             lose=set(kit.tests_of["tanh_grad"])),
        kit.Case("stderr_inside_function", kit.sub(kit.filled_in(kit.aid, kit.root, {"tanh_grad": (
            "import sys\n\ndef tanh_grad(x):\n    print('debug', x, file=sys.stderr)\n"
            "    return 1.0 - np.tanh(x) ** 2")}))),
        kit.Case("scipy_and_where", kit.sub(kit.filled_in(kit.aid, kit.root, {first: (
            "from scipy.special import expit\n\ndef sigmoid(x):\n    return expit(x)\n")}))),
        # a classic bug: relu zeroes the caller's array in place (the grader compares the
        # inputs before and after the call)
        kit.Case("relu_in_place", kit.sub(kit.filled_in(kit.aid, kit.root, {"relu": re.sub(
            r"def relu\(x\):.*?(?=\ndef |\Z)",
            "def relu(x):\n    x = np.asarray(x)\n    x[x < 0] = 0\n    return x\n\n",
            kit.answer_source(kit.good, "relu"), count=1, flags=re.S)})),
             lose={"test_relu", "test_relu_hidden"}),
        kit.Case("reference_import", kit.sub(kit.filled_in(kit.aid, kit.root, {"tanh_grad": (
            "from tnn.activations import tanh_grad as _tg\n\ndef tanh_grad(x):\n    return _tg(x)")})),
             lose=set(kit.tests_of["tanh_grad"]), flag="reference"),
    ]
