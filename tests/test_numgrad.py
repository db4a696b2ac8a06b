"""numerical_gradient: the book's central difference, float32-safe, always restoring x."""
import numpy as np
import pytest

import chainrule
from chainrule.numgrad import numerical_gradient


def test_public_name():
    assert chainrule.numerical_gradient is numerical_gradient


def test_book_example_function_2():
    # the book: f(x0, x1) = x0**2 + x1**2 has gradient (6, 8) at (3, 4)
    grad = numerical_gradient(lambda x: np.sum(x ** 2), np.array([3.0, 4.0]))
    np.testing.assert_allclose(grad, [6.0, 8.0], rtol=1e-8)


def test_matrix_input_and_closed_form():
    rng = np.random.default_rng(1)
    A, x = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    grad = numerical_gradient(lambda x: np.sum(np.sin(A @ x)), x)
    np.testing.assert_allclose(grad, A.T @ np.cos(A @ x), rtol=1e-7, atol=1e-9)


def test_float32_input_uses_the_step_actually_taken():
    # x + 1e-4 is rounded in float32; dividing by 2e-4 anyway would give ~1e-3 errors
    x = np.array([1000.0, 3.0, -0.5], dtype=np.float32)
    grad = numerical_gradient(lambda v: float(np.sum(v.astype(np.float64) ** 2)), x)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, 2 * x.astype(np.float64), rtol=1e-6)


def test_x_is_restored_exactly():
    x = np.array([[0.1, 0.2], [0.3, 0.7]])
    before = x.copy()
    numerical_gradient(lambda v: np.sum(v ** 3), x)
    np.testing.assert_array_equal(x, before)


def test_x_is_restored_when_f_raises():
    x = np.array([0.1, 0.2, 0.3])
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:  # raises on the second element's perturbation
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)


def test_non_float_input_is_a_clear_error():
    with pytest.raises(TypeError, match="numerical_gradient"):
        numerical_gradient(lambda v: 0.0, np.array([1, 2]))
