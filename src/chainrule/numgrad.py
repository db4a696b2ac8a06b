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


class GradcheckError(AssertionError):
    """The engine's gradient and the numerical one disagree (the message says where)."""


def gradcheck(f: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Compare the engine's full Jacobian of `f` with float64 central differences.

    `inputs` is a tensor/array or a tuple of them; they are checked as float64 copies, so
    rounding of float32 never causes a false alarm. Returns True, or raises (or returns
    False with raise_exception=False) naming the input, the worst element and both values.
    """
    from chainrule.engine import Tensor, no_grad
    from chainrule.functional import autograd_grad

    single = not isinstance(inputs, (tuple, list))
    arrays = [np.array(a.data if isinstance(a, Tensor) else a, dtype=np.float64)
              for a in ([inputs] if single else inputs)]

    def run(xs):
        out = f(*xs)
        return out if isinstance(out, Tensor) else Tensor(np.asarray(out, dtype=np.float64))

    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = run(xs)
    out_shape = out.shape
    analytic = [np.zeros((out.data.size, a.size)) for a in arrays]
    for k in range(out.data.size):
        seed = np.zeros(out.data.size)
        seed[k] = 1.0
        grads = autograd_grad(out, xs, grad_outputs=seed.reshape(out_shape), retain_graph=True)
        for j, g in enumerate(grads):
            analytic[j][k] = g.data.reshape(-1)
    for j, a in enumerate(arrays):
        numeric = np.zeros_like(analytic[j])
        for i in range(a.size):
            flat = a.reshape(-1)
            original = flat[i]
            try:
                with no_grad():
                    flat[i] = original + eps
                    plus = run([Tensor(x) for x in arrays]).data.reshape(-1).astype(np.float64)
                    flat[i] = original - eps
                    minus = run([Tensor(x) for x in arrays]).data.reshape(-1).astype(np.float64)
            finally:
                flat[i] = original
            numeric[:, i] = (plus - minus) / (2 * eps)
        err = np.abs(analytic[j] - numeric)
        bad = err > atol + rtol * np.abs(numeric)
        if bad.any():
            k, i = np.unravel_index(np.argmax(np.where(bad, err, -1)), err.shape)
            where = np.unravel_index(i, a.shape) if a.ndim else ()
            message = (f"gradcheck: gradient of input {j} (shape {a.shape}) is wrong at element "
                       f"{tuple(int(v) for v in where)} for output element {int(k)}: "
                       f"engine {analytic[j][k, i]:.10g}, numerical {numeric[k, i]:.10g} "
                       f"(abs error {err[k, i]:.3g} > atol {atol} + rtol {rtol} * |numerical|; "
                       f"{int(bad.sum())} of {bad.size} entries disagree)")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True
