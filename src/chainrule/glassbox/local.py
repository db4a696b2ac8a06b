"""One node's local derivatives, computed with its primitive's own JVP and VJP rules."""
from __future__ import annotations

import numpy as np

from chainrule.engine import Tensor, sum_to
from chainrule.glassbox.graph import node_attrs
from chainrule.glassbox.notation import local_formula, notation_of

__all__ = ["local", "jacobian", "vjp"]


def local(node: Tensor, i: int) -> tuple[str, np.ndarray | None]:
    """(formula, value) of ∂node/∂input_i; value is per element for elementwise ops, the
    one number for a scalar-to-scalar op (a loss of one prediction), and None where the
    local derivative is a vector-Jacobian product."""
    prim, inp = node.node.primitive, node.inputs[i]
    attrs = node_attrs(node)
    formula = local_formula(prim, i, attrs, inp.shape, node.shape)
    if not notation_of(prim).elementwise:
        generic = formula.startswith("vector-Jacobian product, ")  # no text of its own
        if generic and node.numel() == 1 and inp.numel() == 1:
            return f"{prim.name}'s derivative", jacobian(node, i).reshape(node.shape)
        return formula, None
    args = [t.numpy() for t in node.inputs]
    value = prim.jvps[i](np.ones_like(inp.numpy()), node.numpy(), *args, **attrs)
    return formula, np.array(np.broadcast_to(value, node.shape), dtype=np.float64)


def jacobian(node: Tensor, i: int) -> np.ndarray:
    """The full Jacobian ∂node/∂input_i (node.size × input.size), one VJP per row."""
    prim, inp = node.node.primitive, node.inputs[i]
    args = [t.numpy() for t in node.inputs]
    attrs = node_attrs(node)
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
    out = node.node.primitive.vjps[i](g, node.numpy(), *args, **node_attrs(node))
    return np.asarray(sum_to(np.asarray(out), node.inputs[i].shape), dtype=np.float64)
