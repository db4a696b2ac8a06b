"""One node's local derivatives, computed with its primitive's own JVP and VJP rules."""
from __future__ import annotations

import numpy as np

from chainrule.engine import Tensor, sum_to
from chainrule.glassbox.notation import local_formula, notation_of

__all__ = ["local", "jacobian", "vjp"]


def local(node: Tensor, i: int) -> tuple[str, np.ndarray | None]:
    """(formula, value) of ∂node/∂input_i; value is per element for elementwise ops and
    None where the local derivative is a vector-Jacobian product (not elementwise)."""
    prim, inp = node._prim, node.inputs[i]
    attrs = node._attrs or {}
    formula = local_formula(prim, i, attrs, inp.shape, node.shape)
    if not notation_of(prim).elementwise:
        return formula, None
    args = [t.numpy() for t in node.inputs]
    value = prim.jvps[i](np.ones_like(inp.numpy()), node.numpy(), *args, **attrs)
    return formula, np.array(np.broadcast_to(value, node.shape), dtype=np.float64)


def jacobian(node: Tensor, i: int) -> np.ndarray:
    """The full Jacobian ∂node/∂input_i (node.size × input.size), one VJP per row."""
    prim, inp = node._prim, node.inputs[i]
    args = [t.numpy() for t in node.inputs]
    attrs = node._attrs or {}
    jac = np.zeros((node.numel(), inp.numel()))
    for k in range(node.numel()):
        e = np.zeros(node.numel(), dtype=node.dtype)
        e[k] = 1
        row = prim.vjps[i](e.reshape(node.shape), node.numpy(), *args, **attrs)
        jac[k] = np.asarray(sum_to(np.asarray(row), inp.shape), dtype=np.float64).reshape(-1)
    return jac


def vjp(node: Tensor, i: int, g: np.ndarray) -> np.ndarray:
    """g·∂node/∂input_i, summed to the input's shape, in float64."""
    args = [t.numpy() for t in node.inputs]
    out = node._prim.vjps[i](g, node.numpy(), *args, **(node._attrs or {}))
    return np.asarray(sum_to(np.asarray(out), node.inputs[i].shape), dtype=np.float64)
