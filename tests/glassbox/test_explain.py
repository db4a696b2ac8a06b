"""explain: per-node values, local derivatives, upstream and sent gradients, chain-rule paths."""
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import ops
from chainrule.glassbox.explain import MAX_CHAINS, explain, fmt_array, fmt_number


def t64(values, name=None, grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=grad, name=name)


def small_graph():
    """f = sin(x*y) + x**2 / y, with every intermediate named."""
    x, y = t64(1.3, "x"), t64(0.7, "y")
    u = x * y
    s = u.sin()
    q = x ** 2
    d = q / y
    f = s + d
    names = {u: "u", s: "s", q: "q", d: "d", f: "f"}
    return (x, y), (u, s, q, d, f), names


def test_values_upstream_and_sent_gradients_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle: pip install torch==2.13.0")
    (x, y), (u, s, q, d, f), names = small_graph()
    e = explain(f, names=names)

    tx = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    tu = tx * ty
    ts = torch.sin(tu)
    tq = tx ** 2
    td = tq / ty
    tf = ts + td
    inter = {"u": tu, "s": ts, "q": tq, "d": td}
    for t in inter.values():
        t.retain_grad()
    tf.backward()

    assert [st.name for st in e.steps][0] == "f"
    assert {st.name for st in e.steps} == {"f", "u", "s", "q", "d"}
    for name, tt in inter.items():
        step = e.step(name)
        assert step.value == pytest.approx(tt.item(), abs=1e-12)
        assert step.upstream == pytest.approx(tt.grad.item(), abs=1e-12)
    assert e.gradient("x") == pytest.approx(tx.grad.item(), abs=1e-12)
    assert e.gradient("y") == pytest.approx(ty.grad.item(), abs=1e-12)
    # what `d = q / y` sends to y is upstream * (-q/y**2)
    sent = {t.name: t for t in e.step("d").inputs}
    assert sent["y"].local == pytest.approx(-tq.item() / 0.7 ** 2)
    assert sent["y"].grad == pytest.approx(-tq.item() / 0.7 ** 2 * e.step("d").upstream)
    assert sent["q"].formula == "1/y"           # ∂(q/y)/∂q, the operand by its name


def test_local_derivatives_of_elementwise_ops_are_their_closed_forms():
    x = t64([0.3, -1.2, 2.0], "x")
    sig, th, lg = x.sigmoid(), x.tanh(), (x * x + 1).log()
    out = (sig + th + lg).sum()
    e = explain(out, names={sig: "σ", th: "t", lg: "ℓ"})
    s = 1 / (1 + np.exp(-x.numpy()))
    local = {st.name: st.inputs[0] for st in e.steps}
    np.testing.assert_allclose(local["σ"].local, s * (1 - s))
    np.testing.assert_allclose(local["t"].local, 1 - np.tanh(x.numpy()) ** 2)
    np.testing.assert_allclose(local["ℓ"].local, 1 / (x.numpy() ** 2 + 1))
    assert local["σ"].formula == "σ(x)(1 − σ(x))"   # written with the operand's name


def test_matmul_and_reductions_describe_a_vector_jacobian_product_not_a_number():
    a = t64(np.ones((2, 3)), "A")
    b = t64(np.arange(6.0).reshape(3, 2), "B")
    out = (a @ b).mean()
    e = explain(out)
    mm = next(s for s in e.steps if s.op == "matmul")
    assert all(t.local is None and "vector-Jacobian product" in t.formula for t in mm.inputs)
    assert [t.formula.split(": ")[1].split(",")[0] for t in mm.inputs] == \
        ["∂L/∂matmul#1·Bᵀ", "Aᵀ·∂L/∂matmul#1"]      # operands and upstream by their names
    mean = next(s for s in e.steps if s.op == "mean")
    assert "n = 4" in mean.inputs[0].formula


def test_explain_leaves_grads_and_graph_untouched():
    (x, y), (u, s, q, d, f), names = small_graph()
    explain(f, wrt=[x, u], names=names)
    assert x.grad is None and y.grad is None
    f.backward()  # the graph is still there (explain retained it)
    assert x.grad is not None


def test_chain_rule_paths_multiply_out_and_sum_to_the_gradient():
    x = t64(0.9, "x")
    w = t64(-0.4, "w")
    a = x * w
    b = a.sigmoid()
    c = x.exp()
    out = b * x + c
    e = explain(out, wrt=[x, w], names={a: "a", b: "b", c: "c"})
    rx, rw = e.wrt
    chains = rx.chains[0]
    assert len(chains) == 3  # via b (through a), directly into the product, via exp
    assert sum(c.product for c in chains) == pytest.approx(float(rx.gradient), rel=1e-12)
    for c in chains:
        assert c.product == pytest.approx(np.prod(c.factors))
        assert c.labels[0] == "L" and c.labels[-1] == "x"
    (only,) = rw.chains[0]
    assert only.labels == ["L", "b", "a", "w"]
    sig = 1 / (1 + np.exp(0.36))
    assert only.factors == pytest.approx([0.9, sig * (1 - sig), 0.9])
    text = str(e)
    assert "∂L/∂w = ∂L/∂b · ∂b/∂a · ∂a/∂w" in text
    assert "0.9000 × " in text


def test_unnamed_intermediates_are_collapsed_when_some_are_named():
    x = t64([0.5, -0.25], "x")
    h = (x * 3).tanh()
    h.name = "h"
    out = (h * h).sum()
    e = explain(out, wrt=x)
    (r,) = e.wrt
    for j in (0, 1):
        (chain,) = r.chains[j]
        assert chain.labels == ["L", f"h[{j}]", f"x[{j}]"]  # mul#k, sum#k folded in
        assert chain.product == pytest.approx(r.gradient[j])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=1, max_size=4), st.floats(-2, 2))
def test_path_products_sum_to_the_true_gradient(values, c):
    x = t64(values, "x")
    h = (x * c + 0.5).sigmoid()
    out = (h * x).sum() + (x ** 2).mean()
    e = explain(out, wrt=x)
    (r,) = e.wrt
    expected = cr.grad(lambda v: ((v * c + 0.5).sigmoid() * v).sum() + (v ** 2).mean())(x.numpy())
    np.testing.assert_allclose(r.gradient, expected.numpy(), rtol=1e-10, atol=1e-12)
    for j, chains in r.chains.items():
        assert sum(ch.product for ch in chains) == pytest.approx(expected.numpy()[j], abs=1e-10)


def test_large_tensors_get_path_sums_that_add_up():
    rng = np.random.default_rng(0)
    w = t64(rng.standard_normal((20, 30)), "W")
    x = t64(rng.standard_normal((4, 20)), "x", grad=False)
    h = (x @ w).relu()
    out = (h * h).mean() + (x @ w).sum()
    e = explain(out, wrt=w)
    (r,) = e.wrt
    assert not r.chains and len(r.paths) >= 2
    total = sum(p.contribution for p in r.paths)
    expected = cr.grad(lambda v: ((x @ v).relu() ** 2).mean() + (x @ v).sum())(w.numpy()).numpy()
    np.testing.assert_allclose(total, expected, rtol=1e-10)
    np.testing.assert_allclose(r.gradient, expected, rtol=1e-10)
    assert "sum of the" in str(e) and "(20×30)" in str(e)


def test_many_paths_fall_back_to_the_aggregated_form():
    x = t64(np.linspace(-1, 1, MAX_CHAINS + 2), "x")
    e = explain((x * x).sum(), wrt=x)
    (r,) = e.wrt
    assert not r.chains and r.paths
    np.testing.assert_allclose(sum(p.contribution for p in r.paths), 2 * x.numpy())


def test_names_from_a_module_like_object_and_per_element_names():
    class Net:
        def __init__(self):
            self.w = t64([[0.5, -1.0]])
            self.b = t64([0.1])

        def named_parameters(self):
            return [("0.weight", self.w), ("0.bias", self.b)]

    net = Net()
    x = t64([[2.0, 3.0]], grad=False)
    out = ops.linear(x, net.w, net.b).sigmoid().sum()
    e = explain(out, names=net)
    assert [n for n, _, _ in e.leaves] == ["0.weight", "0.bias"]
    e2 = explain(out, wrt=net.w, names={net.w: ("W", [["W1", "W2"]])})
    assert "∂L/∂W1 = " in str(e2) and "Chain rule for ∂L/∂W " in str(e2)


def test_dead_relu_paths_are_reported_as_zero():
    x = t64([-1.0, 2.0], "x")
    out = x.relu().sum()
    (r,) = explain(out, wrt=x).wrt
    assert 0 not in r.chains and r.gradient[0] == 0
    assert "∂L/∂x[0] = 0" in explain(out, wrt=x).__str__()


def test_text_json_and_html():
    (x, y), (u, s, q, d, f), names = small_graph()
    e = explain(f, wrt=x, names=names, decimals=6)
    text = str(e)
    assert text.splitlines()[0].startswith("Backward pass of f = ")
    assert fmt_number(f.item(), 6) in text
    data = json.loads(e.to_json())
    assert data["output"]["value"] == f.item()  # full precision
    assert data["leaves"][0]["grad"] == pytest.approx(e.gradient("x"), abs=0)
    assert sum(c["product"] for c in data["wrt"][0]["chains"]) == pytest.approx(
        data["wrt"][0]["gradient"])
    assert "<table" in e._repr_html_() and "sin" in e._repr_html_()


def test_formatting_rules():
    assert fmt_number(-0.00001) == "-1.0e-05"   # a tiny number keeps its digits
    assert fmt_number(-0.0) == "0.0000"
    assert fmt_number(0.53688, 3) == "0.537"
    assert fmt_array(np.array([[1, 2], [3, 4.5]])) == "[1.0000 2.0000; 3.0000 4.5000]"
    assert fmt_array(np.zeros((10, 10))).startswith("(10×10) mean 0.0000")


def test_non_scalar_output_is_explained_as_its_sum():
    x = t64([1.0, 2.0], "x")
    e = explain(x * 3)
    assert "sum(L)" in str(e)
    np.testing.assert_allclose(e.gradient("x"), [3.0, 3.0])


def test_clear_errors():
    (x, y), (u, s, q, d, f), names = small_graph()
    other = t64(1.0)
    with pytest.raises(ValueError, match="not part of the output's graph"):
        explain(f, wrt=other)
    with pytest.raises(ValueError, match="does not require grad"):
        explain(t64(1.0, grad=False) * 2)


def test_public_name():
    assert cr.explain is explain


def test_edge_cases_output_as_wrt_and_signed_sums():
    x = t64([1.0, 2.0], "x")
    out = (x * x).sum()
    text = str(explain(out, wrt=out))
    assert text.rstrip().endswith("∂L/∂L = 1.0000")
    w = t64(-0.5, "w")
    e = explain(w * x.sum() + w.exp() * (-3.0), wrt=w)
    (r,) = e.wrt
    assert sum(c.product for c in r.chains[0]) == pytest.approx(3 - 3 * np.exp(-0.5))
    assert "= 3.0000 − 1.8196" in str(e)


def test_broadcasting_graph_matches_pytorch_node_by_node():
    torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle: pip install torch==2.13.0")
    rng = np.random.default_rng(1)
    a_, b_, c_ = rng.standard_normal((2, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    A, B, c = t64(a_, "A"), t64(b_, "B"), t64(c_, "c")
    m = A @ B
    s = m + c
    h = s.tanh()
    out = (h * h).mean()
    e = explain(out, names={m: "m", s: "s", h: "h"})

    tA, tB, tc = (torch.tensor(v, requires_grad=True) for v in (a_, b_, c_))
    tm = tA @ tB
    ts = tm + tc
    th = torch.tanh(ts)
    for t in (tm, ts, th):
        t.retain_grad()
    (th * th).mean().backward()
    for name, tt in {"m": tm, "s": ts, "h": th}.items():
        np.testing.assert_allclose(e.step(name).value, tt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(e.step(name).upstream, tt.grad.numpy(), rtol=1e-12)
    sent = {t.name: t.grad for t in e.step("s").inputs}
    np.testing.assert_allclose(sent["c"], tc.grad.numpy(), rtol=1e-12)  # summed over rows
    for name, tt in {"A": tA, "B": tB, "c": tc}.items():
        np.testing.assert_allclose(e.gradient(name), tt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(e.step("h").inputs[0].local, 1 - np.tanh(ts.detach().numpy()) ** 2)
