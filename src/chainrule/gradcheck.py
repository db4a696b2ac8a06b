"""gradcheck: the engine's full Jacobians against float64 central differences.

`numerical_gradient`, the book's one-array oracle, lives with the other pure-NumPy kernels
in `chainrule.numerics` and is re-exported here, so both checks are found in one place.

This module shares its name with the function `chainrule.gradcheck`. Importing the module
(directly, or through the old path `chainrule.numgrad`) makes Python bind the module to the
package attribute, so the module itself is callable and runs the function: whatever was
imported first, `chainrule.gradcheck(f, inputs)` is the check.
"""
from __future__ import annotations

import sys
import types
from typing import Callable

import numpy as np

from chainrule.numerics import numerical_gradient

__all__ = ["gradcheck", "GradcheckError", "numerical_gradient"]


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
    arrays = [np.array(a.numpy() if isinstance(a, Tensor) else a, dtype=np.float64)
              for a in ([inputs] if single else inputs)]

    def run(xs):
        out = f(*xs)
        return out if isinstance(out, Tensor) else Tensor(np.asarray(out, dtype=np.float64))

    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = run(xs)
    out_shape = out.shape
    analytic = [np.zeros((out.numpy().size, a.size)) for a in arrays]
    for k in range(out.numpy().size):
        seed = np.zeros(out.numpy().size)
        seed[k] = 1.0
        grads = autograd_grad(out, xs, grad_outputs=seed.reshape(out_shape), retain_graph=True)
        for j, g in enumerate(grads):
            analytic[j][k] = g.numpy().reshape(-1)
    for j, a in enumerate(arrays):
        numeric = np.zeros_like(analytic[j])
        for i in range(a.size):
            flat = a.reshape(-1)
            original = flat[i]
            try:
                with no_grad():
                    flat[i] = original + eps
                    plus = run([Tensor(x) for x in arrays]).numpy().reshape(-1).astype(np.float64)
                    flat[i] = original - eps
                    minus = run([Tensor(x) for x in arrays]).numpy().reshape(-1).astype(np.float64)
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


class _CallableModule(types.ModuleType):
    """This module, callable as `gradcheck` (see the module docstring)."""

    def __call__(self, *args, **kwargs) -> bool:
        return gradcheck(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
