"""to_dot: graph structure, labels (values above, gradients below in red), parameters marked,
gradients from its own retained backward; rendering through Graphviz when `dot` exists."""
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.glassbox.worked_example import network
from chainrule.glassbox.dot import GRAD_COLOR, PARAM_COLOR, Dot, dot_available, render, to_dot

needs_dot = pytest.mark.skipif(not dot_available(),
                               reason="Graphviz's dot is not installed (apt-get install graphviz)")


def parse_dot(source):
    """{node id: label} and [(src, dst, label)] from to_dot's output."""
    nodes = dict(re.findall(r"^  (\w+) \[.*?label=<(.*?)>(?:,|\])", source, re.M))
    edges = [(a, b, lab or "") for a, b, lab in
             re.findall(r"^  (\w+) -> (\w+)(?: \[label=<(.*)>\])?;$", source, re.M)]
    return nodes, edges


def red(label):
    return re.findall(rf'<FONT COLOR="{GRAD_COLOR}">(.*?)</FONT>', label)


def t64(v, name=None, grad=True):
    return cr.tensor(np.asarray(v, dtype=np.float64), requires_grad=grad, name=name)


def test_structure_of_a_small_graph():
    x, w = t64(3.0, "x"), t64(-2.0, "w")
    prod = x * w
    out = (prod + 1.0).sigmoid()
    dot = to_dot(out, names={prod: "p"})
    assert isinstance(dot, Dot) and isinstance(dot, str) and dot.source == str(dot)
    assert dot.source.startswith("digraph chainrule {") and dot.source.rstrip().endswith("}")
    nodes, edges = parse_dot(dot.source)
    ops = sorted(v for v in nodes.values() if v in ("×", "+", "σ"))
    assert ops == ["+", "×", "σ"]
    # 2 leaves + constant into their ops, 3 op-to-op/out edges
    assert len(edges) == 2 + 1 + 2 + 1
    p_edge = next(lab for _, _, lab in edges if lab.startswith("p<BR/>"))
    assert "-6.0000" in p_edge
    s = 1 / (1 + np.exp(5.0))
    assert red(p_edge) == [f"{s * (1 - s):.4f}"]


def test_parameters_are_marked_and_show_value_and_total_gradient():
    x = t64([1.0, 2.0], "x", grad=False)
    w = t64([0.5, -0.5], "w")
    out = (x * w).sum() + (w * w).sum()
    source = to_dot(out).source
    (param_line,) = [ln for ln in source.splitlines() if PARAM_COLOR in ln]
    assert "w<BR/>[0.5000 -0.5000]" in param_line
    assert red(param_line) == ["[2.0000 1.0000]"]  # x + 2w
    assert 'shape=plaintext' in source and "x = [1.0000 2.0000]" in source


def test_edge_gradients_of_a_reused_tensor_sum_to_its_total():
    x = t64(2.0, "x")
    out = (x.log() * (x + 3) + x ** 2) / x.sin()
    nodes, edges = parse_dot(to_dot(out).source)
    leaf = next(k for k, v in nodes.items() if v.startswith("x<BR/>"))
    sent = [float(red(lab)[0]) for a, _, lab in edges if a == leaf]
    assert len(sent) == 4
    total = float(red(nodes[leaf])[0])
    assert sum(sent) == pytest.approx(total, abs=2e-4)
    g = cr.grad(lambda v: (v.log() * (v + 3) + v ** 2) / v.sin())(np.float64(2.0)).item()
    assert total == pytest.approx(g, abs=1e-4)


def test_grads_are_untouched_and_show_grad_false_hides_them():
    params, t, names = network()
    source = to_dot(t["L"], names=names).source
    assert all(p.grad is None for p in params.values())
    assert "σ3<BR/>0.4154" in source and "z3<BR/>-0.3415" in source
    assert red(source) and "1.7107" in source  # ∂L/∂σ3 along the (1 − σ3) edge
    plain = to_dot(t["L"], names=names, show_grad=False).source
    assert GRAD_COLOR not in plain
    t["L"].backward()  # the graph was retained
    assert params["layer2.weight"].grad is not None


def test_large_tensors_show_shapes():
    w = t64(np.ones((10, 20)), "W")
    out = (w * 2).sum()
    source = to_dot(out).source
    assert "(10×20)" in source and "norm 28.2843" in source


def test_render_dot_text_without_graphviz(tmp_path):
    x = t64(1.0, "x")
    path = render(to_dot(x.exp()), tmp_path / "g.dot")
    assert path.read_text().startswith("digraph")
    with pytest.raises(ValueError, match="unknown extension"):
        render(to_dot(x.exp()), tmp_path / "g.jpeg")


@needs_dot
def test_render_svg_and_png(tmp_path):
    params, t, names = network()
    dot = to_dot(t["L"], names=names)
    svg = render(dot, tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "σ3" in svg
    png = render(dot, tmp_path / "g.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in dot._repr_svg_()


def test_errors():
    with pytest.raises(TypeError, match="expected a Tensor"):
        to_dot(np.ones(3))


def test_drawn_after_backward_as_before():
    x = t64(2.0, "x")
    out = x.exp() * 3
    before = to_dot(out).source
    out.backward()
    assert to_dot(out).source == before
    assert red(before)[0] == f"{3 * np.exp(2.0):.4f}"     # x's box: ∂out/∂x = 3eˣ


def test_a_leaf_used_once_keeps_its_gradient_in_its_box_not_on_a_floating_edge_label():
    a, b = t64(2.0, "a"), t64(3.0, "b")
    out = (a * b) * b
    nodes, edges = parse_dot(to_dot(out).source)
    ids = {label.split("<BR/>")[0]: nid for nid, label in nodes.items()}
    a_edges = [lab for src, _, lab in edges if src == ids["a"]]
    b_edges = [lab for src, _, lab in edges if src == ids["b"]]
    assert a_edges == [""] and red(nodes[ids["a"]]) == ["9.0000"]       # ∂out/∂a = b²
    assert sorted(red(lab)[0] for lab in b_edges) == ["6.0000", "6.0000"]  # a·b each way
    assert red(nodes[ids["b"]]) == ["12.0000"]
    assert 'shape=box, style="rounded", label=<mean>' in to_dot((a * b).mean()).source
