"""The pieces of trusted grading that need no kernel: the data channel's codec, the list of
graded functions, and the library build that holds none of their bodies."""

import ast
import json

import numpy as np
import pytest
import torch

from autograde import graded, probe
from autograde.course import REPO_ROOT


def _kernel_side(value):
    """Encode as the kernel does (the same source is exec'd there)."""
    ns = {}
    exec(probe.KERNEL_CODE, ns)
    return json.dumps(ns["_encode"](value))


@pytest.mark.parametrize("value", [
    1.5, 3, True, None, "text", float("nan"), float("-inf"),
    np.arange(6, dtype=np.float32).reshape(2, 3), np.float64(2.5), np.array([True, False]),
    (1.0, np.zeros(2)), [1, [2, 3]], {"a": np.ones(1), 2: "b"},
])
def test_values_cross_the_channel_unchanged(value):
    back = probe.decode(_kernel_side(value))
    if isinstance(value, float) and np.isnan(value):
        assert np.isnan(back)
    elif isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    elif isinstance(value, tuple):
        assert isinstance(back, tuple) and back[0] == value[0] and np.array_equal(back[1], value[1])
    elif isinstance(value, dict):
        assert set(back) == set(value)
    else:
        assert back == value and type(back) is type(value)


def test_a_generator_crosses_as_its_state_and_draws_the_same_numbers():
    rng = np.random.default_rng(310)
    back = probe.decode(_kernel_side(rng))
    assert isinstance(back, np.random.Generator)
    np.testing.assert_array_equal(back.standard_normal(5), rng.standard_normal(5))
    assert probe.decode(_kernel_side(2**100)) == 2**100


def test_tensors_keep_dtype_shape_and_report_their_device():
    t = torch.arange(6, dtype=torch.float64).reshape(3, 2)
    back = probe.decode(_kernel_side(t))
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float64
    assert back.shape == (3, 2) and back.kernel_device == "cpu" and torch.equal(back, t)
    meta = probe.decode(_kernel_side(torch.empty(4, device="meta")))
    assert meta.kernel_device == "meta" and meta.shape == (4,)


def test_anything_else_arrives_as_a_named_placeholder_never_as_an_object():
    class Sneaky:
        def __eq__(self, other):
            return True

    back = probe.decode(_kernel_side(Sneaky()))
    assert isinstance(back, probe.Unsupported) and back.type_name == "Sneaky"
    assert isinstance(probe.decode(_kernel_side(np.array(["a"], dtype=object))), probe.Unsupported)


@pytest.mark.parametrize("text", [
    "not json", json.dumps({"__nd__": "!!!"}), json.dumps({"__pickle__": "x"}),
    json.dumps({"__tensor__": None, "dtype": "os.system", "shape": [1], "device": "cpu"}),
    "[" * 100 + "]" * 100, "x" * (probe.MAX_BYTES + 1),
])
def test_malformed_or_oversized_answers_are_refused(text):
    with pytest.raises(probe.ProbeError):
        probe.decode(text)


def test_an_array_saved_with_pickle_is_refused():
    import base64
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    text = json.dumps({"__nd__": base64.b64encode(buf.getvalue()).decode()})
    with pytest.raises(probe.ProbeError):
        probe.decode(text)


def test_graded_functions_come_from_the_solutions():
    found = graded.graded_functions()
    assert set(found) == {p.name for p in (REPO_ROOT / "solutions").iterdir() if p.is_dir()}
    assert "sigmoid" in found["01_activations"] and "fan_in" in found["03_initialization"]


def test_stripped_library_keeps_names_and_docstrings_but_no_graded_body(tmp_path):
    """The grading kernel's library: no graded body, and no topic computation that answers a
    graded function under another name; the checks and helpers an exercise imports stay."""
    report = graded.build_stripped_library(tmp_path)
    names = graded.kernel_stripped_names()
    stripped = {n for fns in report.values() for n in fns}
    assert {"sigmoid", "fan_in", "standardize_fit"} <= stripped <= names
    # answers under other names: tanh_saturated_fraction, receptive_field, input_gradient_stds
    assert {"saturated_fraction", "receptive_fields", "receptive_field_step",
            "probe_deep_network_torch", "layer_statistics_torch", "sigmoid_torch"} <= stripped
    assert "nearest_neighbour_predict" not in stripped  # an exercise imports it by name
    # private helpers that compute an answer by themselves (a crop with padding, Cutout's
    # mask, a blend) lose their bodies too; those a kept function runs keep theirs
    assert {"_padded_crop", "_padded_crop_torch", "_cutout_mask", "_blend"} <= stripped
    # _pair runs at import time (it builds tnn.optimizers' dict-level functions) and calls
    # _apply; modules' __getattr__ / __dir__ are Python's
    assert not {"_pair", "_apply", "__getattr__", "__dir__"} & names
    assert not [m for m in report if graded._is_infrastructure(m)], report
    # every module still imports (nothing calls a stripped function at import time)
    import subprocess
    import sys

    code = ("import sys, importlib, pkgutil; sys.path.insert(0, sys.argv[1]); import tnn\n"
            "for m in pkgutil.walk_packages(tnn.__path__, 'tnn.'): importlib.import_module(m.name)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    for path in (tmp_path / "tnn").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                body = [b for b in node.body if not (isinstance(b, ast.Expr)
                                                     and isinstance(b.value, ast.Constant))]
                assert len(body) == 1 and isinstance(body[0], ast.Raise), (path, node.name)
    import subprocess
    import sys

    probe_code = ("import sys; sys.path.insert(0, sys.argv[1]); import tnn.activations as a;"
                  "print(a.sigmoid.__doc__ is not None);"
                  "a.sigmoid(1.0)")
    out = subprocess.run([sys.executable, "-c", probe_code, str(tmp_path)],
                         capture_output=True, text=True)
    assert out.stdout.strip() == "True"
    assert "ReferenceUnavailable" in out.stderr and "your own implementation" in out.stderr
