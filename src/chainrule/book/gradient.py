"""The book's gradient module: numerical gradients by central differences.

`numerical_gradient(f, x)` is the book's (f(x + h) - f(x - h)) / 2h with h = 1e-4, one
element of x at a time: it is `chainrule.numerics.numerical_gradient`, the same oracle the
gradient checks use. f(x) returns a scalar and may ignore its argument and read x through
an alias (the book's `lambda W: net.loss(x, t)`): x is perturbed in place and restored.
"""
from __future__ import annotations

import numpy as np

from chainrule.numerics import numerical_gradient

__all__ = ["numerical_gradient", "numerical_gradient_2d"]


def numerical_gradient_2d(f, X: np.ndarray) -> np.ndarray:
    """The gradient of f at each row of X (f takes one point, a 1-d array), stacked; for a
    1-d X the gradient at X itself. The book draws its gradient field with this."""
    if not isinstance(X, np.ndarray) or X.ndim not in (1, 2):
        raise ValueError(f"numerical_gradient_2d: X must be a 1-d or 2-d float ndarray, got "
                         f"{type(X).__name__} of shape {np.shape(X)}")
    if X.ndim == 1:
        return numerical_gradient(f, X)
    grad = np.zeros_like(X)
    for i in range(X.shape[0]):
        grad[i] = numerical_gradient(f, X[i])
    return grad
