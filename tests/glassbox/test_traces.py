"""Evaluation traces of an expression: forward-mode tangents and reverse-mode adjoints of
every intermediate, against the closed form and the hand derivation."""
import numpy as np
import pytest

from chainrule.glassbox import expr
from chainrule.glassbox.expr import ExprError
from chainrule.glassbox.traces import forward_trace, reverse_trace

F = "(log(x)*(x+3)+x**2)/sin(x)"


def f_prime(x):
    top = ((x + 3) / x + np.log(x) + 2 * x) * np.sin(x) - (np.log(x) * (x + 3) + x**2) * np.cos(x)
    return top / np.sin(x) ** 2


@pytest.mark.parametrize("x", [0.5, 2.0, 3.0])
def test_forward_and_reverse_traces_agree_with_the_closed_form(x):
    fw = forward_trace(F, {"x": x})
    rv = reverse_trace(F, {"x": x})
    assert fw.gradient["x"] == pytest.approx(f_prime(x), rel=1e-12)
    assert rv.gradient["x"] == pytest.approx(f_prime(x), rel=1e-12)
    assert fw.value == rv.value == pytest.approx((np.log(x) * (x + 3) + x**2) / np.sin(x))
    assert [r.label for r in fw.rows] == [f"v{c}" for c in "₀₁₂₃₄₅₆₇"]
    # the last forward tangent is f'(x); the reverse trace starts from f̄ = 1
    assert fw.rows[-1].derivative == pytest.approx(f_prime(x))
    assert rv.rows[0].derivative == 1.0 and rv.rows[-1].label == "v₀"


def test_trace_intermediates_are_the_hand_derivation_at_x_2():
    fw = forward_trace(F, {"x": 2.0})
    rows = {r.definition: r for r in fw.rows}
    assert rows["ln v₀"].value == pytest.approx(np.log(2)) and rows["ln v₀"].derivative == 0.5
    assert rows["v₁ × v₂"].derivative == pytest.approx(0.5 * 5 + np.log(2))
    assert rows["sin v₀"].derivative == pytest.approx(np.cos(2))
    assert rows["v₁ × v₂"].rule == "v₂·v̇₁ + v₁·v̇₂"
    rv = reverse_trace(F, {"x": 2.0})
    adj = {r.definition: r.derivative for r in rv.rows}
    assert adj["v₅ / v₆"] == 1.0
    assert adj["v₃ + v₄"] == pytest.approx(1 / np.sin(2))
    text = str(rv)
    assert "adjoint v̄ = ∂f/∂v" in text and "∂f/∂x = 11.6682" in text


def test_several_variables():
    fw = forward_trace("x*y + sin(x)", {"x": 2.0, "y": 3.0}, wrt="y")
    assert fw.gradient == {"y": 2.0}
    rv = reverse_trace("x*y + sin(x)", {"x": 2.0, "y": 3.0})
    assert rv.gradient == pytest.approx({"x": 3 + np.cos(2), "y": 2.0})
    with pytest.raises(ExprError, match="--wrt"):
        forward_trace("x*y", {"x": 1.0, "y": 1.0})
    with pytest.raises(ExprError, match="no variable 'z'"):
        forward_trace("x*y", {"x": 1.0, "y": 1.0}, wrt="z")
    with pytest.raises(ExprError, match="unknown variable"):
        reverse_trace("x", {"x": 1.0, "q": 2.0})


def test_the_traces_are_importable_from_expr_too():
    assert expr.forward_trace is forward_trace and expr.reverse_trace is reverse_trace
    from chainrule.glassbox.expr import Trace, TraceRow  # noqa: F401
    with pytest.raises(AttributeError):
        expr.no_such_name
