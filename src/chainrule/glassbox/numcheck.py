"""A parameter's gradient checked against central differences of the recorded graph itself.

The explorer page shows, for a parameter, its backpropagated gradient next to a numerical
one. The numerical one is computed by re-running the recorded graph's forward functions
(each node's primitive on its inputs, in float64) with one element of the parameter moved
by ±eps, so it needs no function from the user: the graph is the function.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from chainrule.engine import Tensor

__all__ = ["GradientCheck", "check_leaf", "MAX_CHECKED"]

MAX_CHECKED = 8   # elements checked per parameter (those with the largest gradients)


@dataclass
class GradientCheck:
    """Backpropagated against numerical gradient for a few elements of one parameter."""
    indices: list[tuple[int, ...]]
    analytic: list[float]
    numerical: list[float]
    size: int
    eps: float
    tolerance: float

    @property
    def errors(self) -> list[float]:
        """|analytic − numerical| / max(1, |analytic|, |numerical|) per element."""
        return [abs(a - n) / max(1.0, abs(a), abs(n))
                for a, n in zip(self.analytic, self.numerical)]

    @property
    def worst(self) -> float:
        errs = [e for e in self.errors if np.isfinite(e)]
        return max(errs) if len(errs) == len(self.errors) and errs else float("nan")

    @property
    def ok(self) -> bool:
        return bool(self.worst <= self.tolerance)


def _forward(nodes: Sequence[Tensor], values: dict[int, np.ndarray]) -> None:
    """Recompute every node of `nodes` (inputs first) from `values`, in place."""
    for t in nodes:
        view = t.node
        if view is None:
            continue
        args = [values[id(p)] for p in view.inputs]
        attrs = dict(view.attrs)
        if "cache" in attrs:  # a private cache: the node's own is left alone
            attrs["cache"] = {}
        values[id(t)] = np.asarray(view.primitive.forward(*args, **attrs))


def _as64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def check_leaf(output: Tensor, leaf: Tensor, nodes: Sequence[Tensor], analytic: np.ndarray,
               eps: float = 1e-6) -> GradientCheck:
    """Central differences of sum(output) for the (up to MAX_CHECKED) elements of `leaf`
    with the largest backpropagated gradient, recomputing the graph in float64.
    `analytic` is the backpropagated ∂sum(output)/∂leaf; the tolerance follows the dtype
    the graph ran in (float32's rounding allows about 1e-3)."""
    analytic = np.asarray(analytic, dtype=np.float64)
    base = {id(t): _as64(np.asarray(t.numpy())) for t in nodes if t.node is None}
    flat = np.abs(analytic).reshape(-1)
    order = np.argsort(-flat, kind="stable")[:MAX_CHECKED]
    indices, num, ana = [], [], []
    with np.errstate(all="ignore"):
        for j in sorted(int(i) for i in order):
            idx = np.unravel_index(j, analytic.shape) if analytic.ndim else ()
            sides = []
            for sign in (1, -1):
                values = dict(base)
                moved = base[id(leaf)].copy()
                moved[idx] += sign * eps
                values[id(leaf)] = moved
                _forward(nodes, values)
                sides.append(float(np.sum(values[id(output)], dtype=np.float64)))
            indices.append(tuple(int(i) for i in idx))
            num.append((sides[0] - sides[1]) / (2 * eps))
            ana.append(float(analytic[idx]))
    low = any(np.asarray(t.numpy()).dtype.itemsize < 8 for t in nodes
              if np.asarray(t.numpy()).dtype.kind == "f")
    return GradientCheck(indices, ana, num, int(analytic.size), eps, 1e-3 if low else 1e-5)
