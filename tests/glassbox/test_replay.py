"""replay: the one backward replay behind explain, the graph pictures and the reverse-mode
traces — every node's upstream and sent gradients, with nothing accumulated and the graph
kept."""
import numpy as np

import chainrule as cr
from chainrule.glassbox.dot import to_dot
from chainrule.glassbox.explain import explain
from chainrule.glassbox.replay import replay


def t64(values, name=None, grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=grad, name=name)


def graph():
    """f = sum(w * x) + sum(w ** 2), w used twice; x a constant."""
    x, w = t64([1.0, 2.0], "x", grad=False), t64([0.5, -0.5], "w")
    p = w * x
    q = w ** 2
    f = p.sum() + q.sum()
    return x, w, p, q, f


def test_every_node_once_with_its_upstream_and_what_it_sends():
    x, w, p, q, f = graph()
    run = replay(f)
    order = [s.node for s in run.steps]
    assert order[0] is f and len(order) == 5             # f, two sums, p, q
    assert len({id(n) for n in order}) == 5
    by_node = {id(s.node): s for s in run.steps}
    np.testing.assert_array_equal(by_node[id(p)].upstream, [1.0, 1.0])
    sent_w, sent_x = by_node[id(p)].sent                  # p = w * x
    assert sent_x is None                                  # x does not require grad
    np.testing.assert_array_equal(sent_w, [1.0, 2.0])      # ∂(w·x)/∂w = x
    np.testing.assert_array_equal(by_node[id(q)].sent[0], [1.0, -1.0])  # 2w
    np.testing.assert_array_equal(run.grad(w), [2.0, 1.0])  # the total: x + 2w
    np.testing.assert_array_equal(run.grad(f), 1.0)


def test_sent_gradients_are_summed_to_the_input_shape():
    a, b = t64(np.ones((3, 2)), "a"), t64([1.0, 2.0], "b")
    out = (a * b).sum()
    run = replay(out)
    mul = next(s for s in run.steps if s.node.op == "mul")
    assert mul.sent[1].shape == (2,)
    np.testing.assert_array_equal(mul.sent[1], [3.0, 3.0])


def test_nothing_accumulates_and_the_graph_is_kept():
    x, w, p, q, f = graph()
    replay(f)
    replay(f)
    assert w.grad is None and p.grad is None
    f.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 1.0])


def test_tensors_asked_for_and_unreached_leaves():
    x, w, p, q, f = graph()
    unused = t64(3.0, "unused")
    g = f + unused * 0.0
    run = replay(g, also=[p], record=False)
    assert run.steps == []
    np.testing.assert_array_equal(run.grad(p), [1.0, 1.0])
    np.testing.assert_array_equal(run.grad(unused), 0.0)
    dead = t64(1.0, "dead")
    h = (dead * 0.0).relu() * 0.0 + (w * 1.0).sum()
    np.testing.assert_array_equal(replay(h).grad(dead), 0.0)


def test_after_backward_the_replay_gives_the_same_gradients():
    x, w, p, q, f = graph()
    before = replay(f, also=[p, q])
    f.backward()
    after = replay(f, also=[p, q])       # the engine refuses a second pass; replay does not
    assert {id(s.node) for s in after.steps} == {id(s.node) for s in before.steps}
    for t in (w, p, q):
        np.testing.assert_allclose(after.grad(t), before.grad(t), rtol=1e-12)
    np.testing.assert_allclose(after.grad(w), w.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(after.grad(w), 2 * w.numpy() + x.numpy(), rtol=1e-12)
    g = (p * p).sum()  # a new node on a graph backward() already ran
    np.testing.assert_allclose(replay(g).grad(w), 2 * (w.numpy() * x.numpy()) * x.numpy())


def test_explain_and_the_graph_picture_read_the_same_replay():
    x, w, p, q, f = graph()
    e = explain(f, names={p: "p", q: "q"})
    source = to_dot(f, names={p: "p", q: "q"}).source
    assert e.step("p").upstream.tolist() == [1.0, 1.0]
    assert "[2.0000 1.0000]" in source and e.gradient("w").tolist() == [2.0, 1.0]
