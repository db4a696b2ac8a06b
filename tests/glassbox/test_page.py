"""The explorer page without a browser: self-contained, its numbers are explain's, the
numerical check agrees (and catches a wrong gradient), the tutorial's per-unit network
has the worked example's numbers, and the δ rule is written once per unit."""
import json
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.glassbox.explain import explain
from chainrule.glassbox.graph import graph_nodes
from chainrule.glassbox.layout import layered_layout
from chainrule.glassbox.numcheck import check_leaf
from chainrule.glassbox.page import explorer_html
from chainrule.glassbox.tutorial_figure import delta_rule, tutorial_page, unit_network
from chainrule.glassbox.wording import with_operands
from chainrule.glassbox.worked_example import worked_example


def page_data(text):
    found = re.search(r'<script type="application/json" id="cr-data">(.*?)</script>', text, re.S)
    return json.loads(found.group(1).replace("<\\/", "</"))


def small():
    x = cr.tensor(np.array([1.0, -2.0]), requires_grad=True, name="x")
    w = cr.tensor(np.array([0.5, 3.0]), requires_grad=True, name="w")
    h = (x * w).tanh()
    out = (h * x).sum()
    return x, w, h, out


def test_the_page_is_one_self_contained_file():
    *_, out = small()
    text = explorer_html(out)
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "<script>" in text
    assert not re.search(r"<script[^>]+src=|<link|@import|url\(http", text)
    assert set(re.findall(r"https?://[^\s\"'<>]+", text)) == {"http://www.w3.org/2000/svg"}


def test_the_pages_numbers_are_explains():
    x, w, h, out = small()
    data = page_data(explorer_html(out, names={h: "h"}))
    exp = explain(out, names={h: "h"})
    nodes = {n["name"]: n for n in data["nodes"]}
    assert nodes["h"]["value"] == exp._f(exp.step("h").value)
    assert nodes["h"]["grad"] == exp._f(exp.step("h").upstream)
    for leaf in ("x", "w"):
        assert nodes[leaf]["grad"] == exp._f(exp.gradient(leaf))
    # x is used twice (by x·w and by h·x): its upstream is written as a sum
    assert "paths meet here" in nodes["x"]["up"][0]
    # steps: every op forward, then the seed, then every op and leaf backward
    phases = [s["phase"] for s in data["steps"]]
    assert phases == ["forward"] * 4 + ["backward"] * 6


def test_local_rules_name_their_operands():
    assert with_operands("b", ["W6", "σ2"]) == "σ2"
    assert with_operands("−a/b²", ["q", "y"]) == "−q/y²"
    assert with_operands("1 inside [min, max] else 0", ["x"]) == "1 inside [min, max] else 0"
    assert with_operands("aᵇ·ln a", ["x", "y"]) == "x^y·ln x"
    assert with_operands("vector-Jacobian product: g·bᵀ, 2×3 → 2×4", ["h", "W"]) == \
        "vector-Jacobian product: g·Wᵀ, 2×3 → 2×4"
    assert with_operands("vector-Jacobian product: gᵀ·x, {shapes}", ["σ", "W'", "b'"],
                         "linear", "∂L/∂z3") == "vector-Jacobian product: (∂L/∂z3)ᵀ·σ, {shapes}"
    assert with_operands("vector-Jacobian product: g·W, s", ["σ", "W'"], "linear",
                         "∂L/∂z3") == "vector-Jacobian product: ∂L/∂z3·W', s"


def test_numerical_check_agrees_and_catches_a_wrong_gradient():
    x, w, h, out = small()
    nodes = graph_nodes(out)
    right = explain(out).gradient("w")
    good = check_leaf(out, w, nodes, right)
    assert good.ok and good.worst < 1e-8
    assert good.numerical == pytest.approx(list(right), rel=1e-5, abs=1e-9)
    bad = check_leaf(out, w, nodes, right * 1.01)
    assert not bad.ok and bad.worst == pytest.approx(0.01 * float(np.abs(right).max()), rel=1e-3)


def test_layout_puts_inputs_left_of_their_consumers():
    inputs = [[], [], [0, 1], [2], [2, 3]]
    boxes, width, height = layered_layout(inputs, [(20, 20)] * 5)
    for k, ins in enumerate(inputs):
        for i in ins:
            assert boxes[i].x < boxes[k].x
    assert width >= max(b.x + b.half_w for b in boxes) and height > 0


def test_the_unit_network_has_the_worked_examples_numbers():
    t, names = unit_network()
    ex = worked_example()
    assert t["L"].item() == pytest.approx(ex.forward["L"], abs=1e-12)
    exp = explain(t["L"], names=names)
    for n in ("W1", "W2", "W3", "W4", "W5", "W6", "b1", "b2", "b3"):
        assert float(exp.gradient(n)) == pytest.approx(ex.grads[n], abs=1e-12)
    delta = delta_rule(t)
    assert sum(line.lstrip().startswith("δ") for line in delta) == 3     # one δ per unit
    assert "  δ3 = ∂L/∂z3 = ∂L/∂σ3 · σ3(1 − σ3) = σ3 − y = 0.4154 − 0.0000 = 0.4154" in delta
    assert f"∂L/∂W5 = δ3 · σ1 = {ex.grads['W5']:.4f}" in "\n".join(delta)
    chain = explain(t["L"], wrt=t["W1"], names=names)
    assert ("∂L/∂W1 = ∂L/∂σ3 · ∂σ3/∂z3 · ∂z3/∂σ1 · ∂σ1/∂z1 · ∂z1/∂W1"  # through the units
            in chain._wrt_text(chain.wrt[0]))                       # only, as the tutorials
    data = page_data(tutorial_page())
    assert data["notes"] == delta
    products = [n for n in data["nodes"] if n["name"] == "W1·x1"]   # yet drawn with names
    assert len(products) == 1 and products[0]["value"] == "0.4352"
    assert {n["name"] for n in data["nodes"]} >= {"W1", "W6", "b3", "z1", "σ2", "σ3", "L"}


def test_large_tensors_are_summarised_with_a_few_entries():
    w = cr.tensor(np.arange(12.0).reshape(3, 4) / 10, requires_grad=True, name="W")
    data = page_data(explorer_html((w * w).sum()))
    node = next(n for n in data["nodes"] if n["name"] == "W")
    assert node["value"].startswith("(3×4) mean 0.5500, norm ")
    assert node["value"].endswith("first entries [0.0000 0.1000 0.2000 …]")
    assert node["short"] == "(3×4)" and node["short_grad"].startswith("‖·‖ ")
