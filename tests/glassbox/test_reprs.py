"""Notebook-native results: every glass-box result has a readable repr (its text, not a
dataclass dump) and an HTML repr with tables and chain-rule lines as fractions."""
import numpy as np

import chainrule as cr
from chainrule.book.layers import Sigmoid
from chainrule.glassbox.flow import GradFlowRecorder, vanishing
from chainrule.glassbox.notebook import math_html, scale_svg
from chainrule.glassbox.plots import moving_average
from chainrule.glassbox.worked_example import worked_example


def results():
    x = cr.tensor(np.array([0.5, -1.0]), requires_grad=True, name="x")
    loss = (x * x).sigmoid().sum()
    rec = GradFlowRecorder(["W1", "b1"])
    for it in range(3):
        rec.record(it, {"W1": np.full((2, 2), 1e-9 * (it + 1)), "b1": np.ones(2)})
    return {
        "explanation": cr.explain(loss, wrt=x),
        "trace": cr.trace("x*sin(x)", at={"x": 1.0}),
        "worked example": worked_example(),
        "check report": cr.check_layer(Sigmoid(), np.linspace(-1, 1, 6).reshape(2, 3)),
        "gradient flow": rec,
        "vanishing": vanishing(depth=3, data="toy", width=5),
    }


def test_reprs_are_the_text_and_html_is_tables():
    for what, r in results().items():
        text = repr(r)
        assert text == str(r) or text.startswith("GradFlowRecorder(3 iterations"), what
        assert not text.startswith(type(r).__name__ + "(") or what == "gradient flow", what
        page = r._repr_html_()
        assert "<table" in page or "cr-f" in page, what
        assert "<script" not in page, what


def test_chain_rule_lines_render_as_fractions():
    page = results()["explanation"]._repr_html_()
    assert '<span class="cr-f"><span>∂L</span><span>∂x[0]</span></span>' in page
    html = math_html("∂L/∂W5 = ∂L/∂σ3 · ∂σ3/∂z3")
    assert html.count('class="cr-f"') == 3 and html.endswith("</span></span>")
    assert math_html("a < b") == "a &lt; b"


def test_tiny_gradients_keep_their_digits_in_the_flow_report():
    summary = results()["gradient flow"].summary()
    rows = {ln.split()[0]: ln.split()[1:] for ln in summary.splitlines()[2:]}
    assert rows == {"W1": ["2.0e-09", "6.0e-09", "4.0e-09"], "b1": ["1.4142"] * 3}


def test_svg_scales_to_the_cell():
    svg = scale_svg('<svg width="300pt" height="90pt" viewBox="0 0 300 90"><g/></svg>')
    assert svg.startswith('<svg width="100%" style="max-width:400px;height:auto" viewBox')


def test_moving_average():
    assert moving_average([1.0, 3.0, float("nan"), 5.0], 2) == [1.0, 2.0, 3.0, 5.0]
