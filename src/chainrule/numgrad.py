"""Numerical gradients: the oracle every hand-written backward pass is checked against."""
from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       eps: float = 1e-4) -> np.ndarray:
    """The book's central difference (f(x+h) - f(x-h)) / 2h, one element of x at a time.

    `f(x)` returns a scalar; x is perturbed in place (so f may read it through an alias, as
    the book's `lambda W: net.loss(x, t)` does) and every element is restored afterwards,
    even if f raises. The difference is taken in float64 over the step actually stored in x,
    so a float32 x (where x + 1e-4 is rounded) still gives the right slope. The result has
    x's dtype.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient: x must be a float ndarray that f reads, got "
                        f"{type(x).__name__} {getattr(x, 'dtype', '')}".rstrip())
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        original = x[idx].copy()
        try:
            x[idx] = float(original) + eps
            x_plus, f_plus = float(x[idx]), float(f(x))
            x[idx] = float(original) - eps
            x_minus, f_minus = float(x[idx]), float(f(x))
        finally:
            x[idx] = original
        grad[idx] = (f_plus - f_minus) / (x_plus - x_minus)
    return grad.astype(x.dtype, copy=False)
