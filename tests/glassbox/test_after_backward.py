"""Draw after backward, as torchviz and micrograd allow: explain, to_dot and the explorer
page give the same numbers after `loss.backward()` as before it (the glass box replays the
pass itself from the values the graph still holds), and leave `.grad` alone."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.glassbox.dot import to_dot
from chainrule.glassbox.explain import explain
from chainrule.glassbox.tutorial_figure import unit_network


def mlp():
    rng = np.random.default_rng(0)
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Tanh(), cr.nn.Linear(4, 2))
    x = cr.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    loss = cr.nn.CrossEntropyLoss()(model(x), cr.tensor(np.array([0, 1, 1, 0, 1])))
    return model, loss


def test_explain_and_to_dot_are_the_same_after_backward():
    t, names = unit_network()
    before = (str(explain(t["L"], names=names)), to_dot(t["L"], names=names).source)
    t["L"].backward()
    grads = {n: t[n].grad.item() for n in ("W1", "W5", "b3")}
    assert (str(explain(t["L"], names=names)), to_dot(t["L"], names=names).source) == before
    assert {n: t[n].grad.item() for n in grads} == grads        # nothing accumulated again
    assert grads["W5"] == pytest.approx(0.2727, abs=1e-4)


def test_a_module_after_backward_with_its_parameter_names():
    model, loss = mlp()
    before = explain(loss, names=model)
    loss.backward()
    after = explain(loss, names=model)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(after.gradient(name), before.gradient(name), rtol=1e-6)
        np.testing.assert_allclose(after.gradient(name), p.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert "label=<0.weight<BR/>" in to_dot(loss, params=dict(model.named_parameters()))
    assert "Numerical check of ∂L/∂0.weight" in after.to_html()


def test_a_second_backward_is_still_refused():
    model, loss = mlp()
    loss.backward()
    explain(loss)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
