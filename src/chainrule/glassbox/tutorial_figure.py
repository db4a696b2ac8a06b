"""The worked example drawn as the tutorials draw it: one node per unit and weight.

The 2-2-1 sigmoid network of `worked_example`, built from scalar Tensors (z1 = W1·x1 +
W2·x2 + b1, …) with explain's names W1..W6, b1..b3, z1, σ1, …, and the BCE loss as one
node, so `chainrule graph` and the explorer page show the tutorial's own figure. The same
numbers as the vectorised network (the tests check it), and the δ-rule form of the
tutorials: δ = ∂L/∂z for each unit, ∂L/∂w_ji = δ_i · o_j.
"""
from __future__ import annotations

import numpy as np

from chainrule.engine import Tensor, tensor
from chainrule.glassbox.graph import Waypoint
from chainrule.glassbox.text import fmt_number
from chainrule.glassbox.worked_example import INITIAL, NAMES, X, Y
from chainrule.nn.functional import binary_cross_entropy

__all__ = ["unit_network", "delta_rule", "tutorial_page"]


def _scalars() -> dict[str, float]:
    """W1..W6 and b1..b3 from the PyTorch tensors, by the worked example's names."""
    out = {}
    for key, (_, elems) in NAMES.items():
        for name, value in zip(np.ravel(elems), np.ravel(INITIAL[key])):
            out[str(name)] = float(value)
    return out


def unit_network() -> tuple[dict[str, Tensor], dict[Tensor, str]]:
    """The worked example per unit, in float64: (tensors by name, names for explain/viz).
    Parameters W1..W6, b1..b3 require grad; x1, x2 and y are constants."""
    p = {n: tensor(np.float64(v), requires_grad=True) for n, v in _scalars().items()}
    x1, x2 = (tensor(np.float64(v)) for v in X[0])
    t: dict[str, Tensor] = dict(p, x1=x1, x2=x2)
    names: dict[Tensor, str] = {v: k for k, v in t.items()}

    def unit(k: int, wa: str, a: Tensor, an: str, wb: str, b: Tensor, bn: str, bias: str):
        prod_a, prod_b = p[wa] * a, p[wb] * b
        both = prod_a + prod_b
        z = both + p[bias]
        s = z.sigmoid()
        names.update({prod_a: Waypoint(f"{wa}·{an}"), prod_b: Waypoint(f"{wb}·{bn}"),
                      both: Waypoint(f"{wa}·{an} + {wb}·{bn}"), z: f"z{k}", s: f"σ{k}"})
        t.update({f"z{k}": z, f"σ{k}": s})
        return s

    s1 = unit(1, "W1", x1, "x1", "W2", x2, "x2", "b1")
    s2 = unit(2, "W3", x1, "x1", "W4", x2, "x2", "b2")
    s3 = unit(3, "W5", s1, "σ1", "W6", s2, "σ2", "b3")
    loss = binary_cross_entropy(s3, np.float64(Y[0][0]))
    names[loss] = "L"
    t["L"] = loss
    return t, names


def delta_rule(t: dict[str, Tensor], decimals: int = 4) -> list[str]:
    """The backward pass in the tutorials' δ notation, from the per-unit network's values:
    each unit's δ = ∂L/∂z introduced once, then every weight's gradient as δ · input."""
    v = {k: float(np.asarray(x.numpy())) for k, x in t.items()}
    y = float(Y[0][0])

    def r(x: float) -> str:
        return fmt_number(x, decimals)

    def par(x: float) -> str:
        return f"({r(x)})" if r(x).startswith("-") else r(x)

    d3 = v["σ3"] - y                     # BCE after a sigmoid: ∂L/∂z3 = σ3 − y
    d1 = d3 * v["W5"] * v["σ1"] * (1 - v["σ1"])
    d2 = d3 * v["W6"] * v["σ2"] * (1 - v["σ2"])
    lines = [
        "The δ rule (the tutorials' form): δ = ∂L/∂z for each unit, then ∂L/∂w = δ × the "
        "input the weight multiplies",
        f"  δ3 = ∂L/∂z3 = ∂L/∂σ3 · σ3(1 − σ3) = σ3 − y = {r(v['σ3'])} − {r(y)} = {r(d3)}",
        f"  δ1 = δ3 · W5 · σ1(1 − σ1) = {par(d3)} × {par(v['W5'])} × "
        f"{r(v['σ1'] * (1 - v['σ1']))} = {r(d1)}",
        f"  δ2 = δ3 · W6 · σ2(1 − σ2) = {par(d3)} × {par(v['W6'])} × "
        f"{r(v['σ2'] * (1 - v['σ2']))} = {r(d2)}",
        f"  ∂L/∂W5 = δ3 · σ1 = {r(d3 * v['σ1'])}   ∂L/∂W6 = δ3 · σ2 = {r(d3 * v['σ2'])}   "
        f"∂L/∂b3 = δ3 = {r(d3)}",
        f"  ∂L/∂W1 = δ1 · x1 = {r(d1 * v['x1'])}   ∂L/∂W2 = δ1 · x2 = {r(d1 * v['x2'])}   "
        f"∂L/∂b1 = δ1 = {r(d1)}",
        f"  ∂L/∂W3 = δ2 · x1 = {r(d2 * v['x1'])}   ∂L/∂W4 = δ2 · x2 = {r(d2 * v['x2'])}   "
        f"∂L/∂b2 = δ2 = {r(d2)}",
    ]
    return lines


def tutorial_page(decimals: int = 4) -> str:
    """The explorer page of the worked example per unit, with the δ-rule notes."""
    from chainrule.glassbox.page import explorer_html
    t, names = unit_network()
    return explorer_html(t["L"], names=names, decimals=decimals, notes=delta_rule(t, decimals),
                         title="The tutorials' worked example: a 2-2-1 sigmoid network, "
                               "x = [1, 1], y = 0, BCE loss")
