"""notation: the per-op tables. Every op a table names can be looked up, and every op an
expression can produce has its trace notation."""
import ast

import pytest

from chainrule.glassbox import notation
from chainrule.glassbox.expr import _BINOPS, FUNCTIONS


def test_every_elementwise_op_has_a_formula_per_input():
    assert set(notation.FORMULAS) == notation.ELEMENTWISE
    assert notation.local_formula("mul", 1, {}, (2,), (2,)) == "a"
    assert notation.local_formula("pow", 0, {"p": 3.0}, (), ()) == "3·a^2"
    assert notation.local_formula("mean", 0, {}, (2, 3), ()) == "1/n for every element (n = 6)"
    assert notation.local_formula("matmul", 1, {}, (3, 2), (4, 2)) == \
        "Jacobian-vector product: aᵀ·g, 3×2 → 4×2"
    assert notation.local_formula("reshape", 0, {}, (6,), (2, 3)).startswith("1: values only")
    assert notation.local_formula("conv2d", 0, {}, (1, 1, 4, 4), (1, 1, 2, 2)) == \
        "Jacobian-vector product, 1×1×4×4 → 1×1×2×2"


def test_graph_symbols_fall_back_to_the_op_name():
    assert notation.graph_symbol("sigmoid", {}) == "σ"
    assert notation.graph_symbol("pow", {"p": 2.0}) == "x^2"
    assert notation.graph_symbol("conv2d", {}) == "conv2d"


@pytest.mark.parametrize("op", sorted({"log" if f == "ln" else f for f in FUNCTIONS}
                                      | {name for name, _ in _BINOPS.values()} | {"neg"}))
def test_every_op_an_expression_can_produce_has_trace_notation(op):
    unary = op not in {name for name, _ in _BINOPS.values()}
    a = ["v₁"] if unary else ["v₁", "v₂"]
    assert notation.trace_definition(op, a, {})
    for i in range(len(a)):
        assert notation.trace_local(op, i, a, "v₃", {})


def test_binary_trace_notation():
    assert notation.trace_definition("mul", ["v₁", "v₂"], {}) == "v₁ × v₂"
    assert notation.trace_local("div", 1, ["v₁", "v₂"], "v₃", {}) == "−v₃/v₂"
    assert notation.trace_definition("pow", ["v₁", "2"], {"p": 2.0}) == "v₁^2"
    assert ast.Pow in _BINOPS
