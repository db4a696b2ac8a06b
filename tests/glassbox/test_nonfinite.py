"""nan and inf explained: the reason for each kind, and the warning line."""
import numpy as np

from chainrule.glassbox.nonfinite import derivative_reason, reason, warning


def test_each_reason():
    assert reason("log", [("x", -1.0)], np.nan) == \
        "log is defined only for positive numbers; its operand is negative (x = -1)"
    assert reason("log", [("x", 0.0)], -np.inf) == "log(0) = −∞ (x = 0)"
    assert reason("sqrt", [("x", -4.0)], np.nan).startswith("the square root of a negative")
    assert reason("div", [("a", 1.0), ("b", 0.0)], np.inf) == "division by zero"
    assert reason("pow", [("a", -8.0), ("p", 0.5)], np.nan).startswith("a negative number")
    assert reason("exp", [("x", 1000.0)], np.inf).startswith("overflow: exp")
    assert reason("mul", [("a", 1e300), ("b", 1e300)], np.inf).startswith("overflow")
    assert reason("add", [("v1", np.nan), ("y", 1.0)], np.nan) == \
        "carried over from v1, which is not finite"
    assert reason("log", [("x", 2.0)], np.log(2.0)) == ""
    assert derivative_reason("sqrt", [("x", 0.0)]).startswith("the derivative of sqrt at x = 0")


def test_warning_line():
    assert warning([]) == ""
    line = warning([("v1", "log(0) = −∞"), ("v2", "carried over from v1")])
    assert line.startswith("warning: v1 is not finite: log(0) = −∞ (1 more row(s) follow")


def test_explain_marks_nan_rows_with_the_cause_first():
    import chainrule as cr
    x = cr.tensor(np.float64(-1.0), requires_grad=True, name="x")
    e = cr.explain((x.log() * x).exp())
    text = str(e)
    assert e.step("log#1").note.startswith("log is defined only for positive numbers")
    assert e.step("mul#1").note == "carried over from log#1, which is not finite"
    (warn,) = [ln for ln in text.splitlines() if ln.startswith("warning:")]
    assert warn.startswith("warning: log#1 is not finite: log is defined only")
    assert "(x = -1)" in warn
    assert "! not finite: log is defined" in e.to_html()
    assert "warning" not in str(cr.explain((x * x).exp()))


def test_no_numpy_warning_reaches_the_user(recwarn):
    import chainrule as cr
    x = cr.tensor(np.array([-1.0, 0.0, 2.0]), requires_grad=True, name="x")
    y = (x.log() * x).exp().sum()
    cr.explain(y, wrt=x).to_html()
    cr.viz.to_dot(y)
    str(cr.trace("sqrt(x)/x", at={"x": 0.0}))
    assert [w for w in recwarn if issubclass(w.category, RuntimeWarning)] == []
