"""notation: the glass box reads how to write each op from its primitive. Every op an
expression can produce has its trace notation, and an op without a notation of its own
is described generically."""
import ast

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops
from chainrule.engine import Primitive
from chainrule.glassbox import notation
from chainrule.glassbox.expr import _BINOPS, FUNCTIONS
from chainrule.ops.arithmetic import POW_SCALAR


def test_local_formulas_read_from_the_primitive():
    assert notation.local_formula(ops.primitive("mul"), 1, {}, (2,), (2,)) == "a"
    assert notation.local_formula(POW_SCALAR, 0, {"p": 3.0}, (), ()) == "3·a^2"
    assert notation.local_formula(ops.primitive("mean"), 0, {}, (2, 3), ()) == \
        "1/n for every element (n = 6)"
    assert notation.local_formula(ops.primitive("matmul"), 1, {}, (3, 2), (4, 2)) == \
        "vector-Jacobian product: aᵀ·g, 3×2 → 4×2"
    assert notation.local_formula(ops.primitive("reshape"), 0, {}, (6,), (2, 3)) \
        .startswith("1: values only")
    assert notation.local_formula(ops.primitive("im2col"), 0, {}, (1, 1, 4, 4), (16, 1)) == \
        "vector-Jacobian product, 1×1×4×4 → 16×1"
    # the last formula serves any further inputs
    assert notation.local_formula(ops.primitive("concat"), 5, {}, (2,), (12,)) == \
        "1: values only move (g is rearranged back)"


def test_a_primitive_without_notation_is_described_generically():
    mine = Primitive("mine", np.sin, vjps=(lambda g, out, a: g * np.cos(a),))
    assert notation.graph_symbol(mine, {}) == "mine"
    assert notation.local_formula(mine, 0, {}, (2,), (2,)) == \
        "vector-Jacobian product, 2 → 2"
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert "mine#1 = mine(x)" in str(cr.explain(mine(x).sum(), names={x: "x"}))


def test_graph_symbols():
    assert notation.graph_symbol(ops.primitive("sigmoid"), {}) == "σ"
    assert notation.graph_symbol(POW_SCALAR, {"p": 2.0}) == "x^2"
    assert notation.graph_symbol(ops.primitive("pow"), {}) == "xᵖ"
    assert notation.graph_symbol(ops.primitive("col2im"), {}) == "col2im"


@pytest.mark.parametrize("op", sorted({"log" if f == "ln" else f for f in FUNCTIONS}
                                      | {name for name, _ in _BINOPS.values()} | {"neg"}))
def test_every_op_an_expression_can_produce_has_trace_notation(op):
    unary = op not in {name for name, _ in _BINOPS.values()}
    a = ["v₁"] if unary else ["v₁", "v₂"]
    prim = ops.primitive(op)
    assert notation.trace_definition(prim, a, {})
    for i in range(len(a)):
        assert notation.trace_local(prim, i, a, "v₃", {})


def test_binary_trace_notation():
    assert notation.trace_definition(ops.primitive("mul"), ["v₁", "v₂"], {}) == "v₁ × v₂"
    div = ops.primitive("div")
    assert notation.trace_local(div, 1, ["v₁", "v₂"], "v₃", {}) == "−v₃/v₂"
    assert notation.trace_definition(POW_SCALAR, ["v₁", "2"], {"p": 2.0}) == "v₁^2"
    assert notation.trace_local(POW_SCALAR, 0, ["v₁", "2"], "v₃", {"p": 2.0}) == "2·v₁"
    assert notation.trace_local(POW_SCALAR, 0, ["v₁", "3"], "v₃", {"p": 3.0}) == "3·v₁^2"
    assert ast.Pow in _BINOPS


def test_pow_by_name_is_the_general_primitive():
    assert ops.primitive("pow") is ops.arithmetic.POW
    with pytest.raises(KeyError, match="no primitive called 'nope'"):
        ops.primitive("nope")
