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


def test_nan_rows_are_marked_with_their_reason_and_a_warning():
    from chainrule.glassbox.traces import reverse_trace
    tr = reverse_trace("log(x)*x", {"x": -1.0})
    text = str(tr)
    assert "nan !" in text
    assert "! v₁: log is defined only for positive numbers; its operand is negative " \
           "(v₀ = -1)" in text
    (warn,) = [ln for ln in text.splitlines() if ln.startswith("warning:")]
    assert warn.startswith("warning: v₁ is not finite: log is defined only")
    assert tr.to_dict()["rows"][1]["note"].startswith("log is defined")
    assert "warning" not in str(reverse_trace("log(x)*x", {"x": 2.0}))


def test_trace_is_top_level_and_does_one_forward_pass_per_variable():
    import chainrule as cr
    from chainrule.glassbox.traces import Traces
    one = cr.trace("exp(-x)", at={"x": 20})
    assert one.mode == "reverse" and "f = 2.1e-09" in str(one)     # not 0.0000
    both = cr.trace("x*y + sin(x)", at={"x": 2, "y": 3}, mode="both")
    assert isinstance(both, Traces) and [t.mode for t in both] == ["forward"] * 2 + ["reverse"]
    assert [t.wrt for t in both[:2]] == ["x", "y"]
    assert both[0].gradient["x"] == pytest.approx(both[2].gradient["x"])
    assert both[1].gradient["y"] == pytest.approx(2.0)
    assert "<table" in both._repr_html_() and 'class="cr-f"' in both._repr_html_()
    assert cr.forward_trace is not None and cr.reverse_trace is not None
    with pytest.raises(ValueError, match="mode must be"):
        cr.trace("x", mode="sideways")
