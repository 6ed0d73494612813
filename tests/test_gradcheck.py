"""The shared numerical-gradient checker: right on known derivatives, loud on wrong ones."""

import numpy as np
import pytest
import torch

from tnn import gradcheck


def test_numerical_gradient_of_a_quadratic_matches_the_formula(rng):
    a = rng.standard_normal((4, 3))
    x = rng.standard_normal((4, 3))
    grad = gradcheck.numerical_gradient(lambda z: float(np.sum(a * z**2)), x)
    assert gradcheck.relative_error(grad, 2 * a * x) < 1e-8


def test_numerical_gradient_array_is_a_vector_jacobian_product(rng):
    x = rng.standard_normal((5, 2))
    dout = rng.standard_normal((5, 2))
    dx = gradcheck.numerical_gradient_array(np.tanh, x, dout)
    assert gradcheck.relative_error(dx, dout * (1 - np.tanh(x) ** 2)) < 1e-8
    with pytest.raises(ValueError, match="shape"):
        gradcheck.numerical_gradient_array(np.tanh, x, dout[:2])


def test_check_gradient_passes_right_and_explains_wrong(rng):
    x = rng.standard_normal(6)
    numeric = gradcheck.numerical_gradient_array(np.sin, x, np.ones(6))
    assert gradcheck.check_gradient(np.cos(x), numeric) < 1e-8
    with pytest.raises(AssertionError, match="constant factor"):
        gradcheck.check_gradient(2 * np.cos(x), numeric)
    with pytest.raises(AssertionError, match="relative error"):
        gradcheck.check_gradient(-np.sin(x), numeric)
    with pytest.raises(AssertionError, match="shape"):
        gradcheck.check_gradient(np.cos(x)[:3], numeric)
    with pytest.raises(AssertionError, match="None"):
        gradcheck.check_gradient(None, numeric)


def test_input_is_not_modified(rng):
    x = rng.standard_normal(3)
    before = x.copy()
    gradcheck.numerical_gradient(lambda z: float(z @ z), x)
    np.testing.assert_array_equal(x, before)


def test_shared_harness_catches_a_wrong_twin_and_a_wrong_backward():
    """The helpers every topic's tests use (tests/conftest.py) fail when they should."""
    from conftest import assert_backward_matches_numerical, assert_twins_agree

    x = np.linspace(-3, 3, 13)
    def tanh(x):
        return np.tanh(x)

    assert_twins_agree(tanh, lambda x: torch.tanh(x), [{"x": x}], "cpu")
    with pytest.raises(AssertionError, match="case 0"):
        assert_twins_agree(tanh, lambda x: torch.tanh(x) * (1 + 1e-6), [{"x": x}], "cpu")
    with pytest.raises(AssertionError, match="differently shaped"):
        assert_twins_agree(lambda x: (x, x), lambda x: x, [{"x": x}], "cpu")
    dout = np.ones_like(x)
    assert_backward_matches_numerical(np.tanh, lambda x, d: d / np.cosh(x) ** 2, x, dout)
    with pytest.raises(AssertionError):
        assert_backward_matches_numerical(np.tanh, lambda x, d: d * (1 - np.tanh(x)), x, dout)
