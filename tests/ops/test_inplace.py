"""In-place operations against PyTorch: values, gradients, and the same refusals."""
import numpy as np
import pytest

import chainrule as cr
from tests.conftest import requires_torch


def _programs(L):
    """Small programs using in-place ops, written once for chainrule and for torch."""
    def T(v, rg=False):
        return L.tensor(np.array(v, dtype=np.float64), requires_grad=rg)

    def mul_by_tensor():
        x, b = T([1., 2.], True), T([3., 4.], True)
        a = x * 1
        a.mul_(b)  # b's gradient needs a's value from before the change
        a.sum().backward()
        return x.grad, b.grad

    def exp_then_add():  # exp saved its output, which += changed: error
        x = T([1., 2.], True)
        y = x.exp()
        y += 1
        y.sum().backward()
        return x.grad

    def reroute_unneeded():  # b's add needs no value: its gradient reaches a's old node
        x = T([1., 2.], True)
        a = x * 2
        b = a + 1
        a.mul_(3)
        (a.sum() + b.sum()).backward()
        return x.grad

    def saved_then_changed():
        x = T([1., 2.], True)
        a = x * 2
        b = a * a
        a.mul_(3)
        b.sum().backward()
        return x.grad

    def leaf_changed_not_needed():
        w = T([1., 2.], True)
        y = (w + 1).sum()
        with L.no_grad():
            w.add_(1)
        y.backward()
        return w.grad

    def leaf_changed_needed():  # opt.step() between forward and backward
        w = T([1., 2.], True)
        y = (w * w).sum()
        with L.no_grad():
            w.add_(1)
        y.backward()
        return w.grad

    def setitem_into_buffer():
        x = T([1., 2., 3.], True)
        buf = T([0., 0., 0.])
        buf[1] = x[0] * 2
        (buf * T([1., 2., 3.])).sum().backward()
        return x.grad

    def sigmoid_output_changed():
        x = T([1., 2.], True)
        y = x.sigmoid()
        y.mul_(2)
        y.sum().backward()
        return x.grad

    def exp_input_changed():  # exp keeps its output, not its input: fine
        x = T([1., 2.], True)
        y = x * 2
        z = y.exp()
        y.add_(1)
        z.sum().backward()
        return x.grad

    def sin_input_changed():
        x = T([1., 2.], True)
        y = x * 2
        z = y.sin()
        y.add_(1)
        z.sum().backward()
        return x.grad

    def pow_in_place():
        x = T(2., True)
        y = x * 3
        y.pow_(2)
        y.backward()
        return x.grad

    def zero_in_place():
        x = T([1., 2.], True)
        y = x * 2
        y.zero_()
        (y + x).sum().backward()
        return x.grad

    def fill_with_tensor():
        x, v = T([1., 2.], True), T(5., True)
        y = x * 2
        y.fill_(v)
        (y * x).sum().backward()
        return x.grad, v.grad

    def copy_from_graph():
        x, s = T([1., 2., 3.], True), T([7., 8., 9.], True)
        y = x * 2
        y.copy_(s * s)
        (y * x).sum().backward()
        return x.grad, s.grad

    def clamp_in_place():
        x = T([-1., 0.5, 3.], True)
        y = x * 2
        y.clamp_(-1, 2)
        (y * y).sum().backward()
        return x.grad

    def indexed_augmented_assignment():
        x = T([[1., 2.], [3., 4.]], True)
        y = x * 1
        y[0, 1] = x[1, 0] * 10
        y[:, 0] *= 3
        (y * y).sum().backward()
        return x.grad

    def div_then_sub():
        x = T([1., 2.], True)
        y = x * 2
        y /= x
        y -= x
        y.sum().backward()
        return x.grad

    def accumulate_in_loop():
        x = T([1., 2.], True)
        acc = T([0., 0.])
        for k in range(3):
            acc += x * k
        acc.sum().backward()
        return x.grad

    def alpha_arguments():
        x = T([1., 2.], True)
        y = x * 2
        y.sub_(x, alpha=3)
        y.add_(x, alpha=0.5)
        y.sum().backward()
        return x.grad

    def view_written_through():
        x = T(np.arange(6.).reshape(2, 3), True)
        w = T([1., 2., 3.], True)
        y = x * 1
        v = y[1]
        v.mul_(w)
        v += 1
        (y * y).sum().backward()
        return x.grad, w.grad, y.detach()

    return {name: fn for name, fn in locals().items() if callable(fn) and name != "T"}


def _run(fn):
    try:
        out = fn()
    except RuntimeError as err:
        return "error", str(err)
    out = out if isinstance(out, tuple) else (out,)
    return "ok", [np.asarray(v.detach().numpy() if hasattr(v, "detach") else v) for v in out]


@requires_torch
@pytest.mark.parametrize("name", sorted(_programs(cr)))
def test_in_place_program_matches_torch(name):
    import torch
    want = _run(_programs(torch)[name])
    got = _run(_programs(cr)[name])
    assert got[0] == want[0], (got, want)
    if want[0] == "error":
        assert "modified by an inplace operation" in got[1]
        assert "version" in got[1]
    else:
        for g, w in zip(got[1], want[1]):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=0)
            assert np.array_equal(np.signbit(g), np.signbit(w))


def test_tutorial_update_loop_trains_in_place():
    """PyTorch's tutorial loop: `with no_grad(): p -= lr * p.grad` updates the parameter."""
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((32, 3)))
    y = x @ cr.tensor([[1.0], [-2.0], [0.5]])
    w = cr.tensor(np.zeros((3, 1)), requires_grad=True)
    w_array = w.numpy()
    losses = []
    for _ in range(50):
        loss = ((x @ w - y) ** 2).mean()
        loss.backward()
        with cr.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
        losses.append(loss.item())
    assert w.numpy() is w_array and w.is_leaf and w.requires_grad
    assert losses[-1] < 1e-3 * losses[0]
    np.testing.assert_allclose(w.numpy().ravel(), [1.0, -2.0, 0.5], atol=0.05)


def test_step_between_forward_and_backward_is_an_error_naming_the_op():
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Sigmoid(), cr.nn.Linear(4, 1))
    opt = cr.optim.SGD(model.parameters(), lr=0.5)
    x = cr.tensor(np.ones((2, 3), dtype=np.float32))
    model(x).sum().backward()
    loss = model(x).sum()
    opt.step()
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: .*version 1; "
                                           r"expected version 0.*before optimizer.step"):
        loss.backward()


def test_in_place_on_a_leaf_that_requires_grad_says_what_to_do():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: a leaf Variable that requires grad.*no_grad"):
        w += 1
    with pytest.raises(RuntimeError, match="setitem: a leaf Variable"):
        w[0] = 3.0
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    assert w._version == 0


def test_versions_count_in_place_changes_and_optimizer_steps():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        w.mul_(2)
        w[1] = 0.0
    assert w._version == 2
    (w * w).sum().backward()
    cr.optim.SGD([w], lr=0.1).step()
    assert w._version == 3


def test_in_place_keeps_shape_and_dtype_rules():
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"add_: the result has shape \(2, 2\), but an "
                                         r"in-place operation keeps the tensor's shape \(2,\)"):
        x += cr.tensor([[1.0], [2.0]])
    i = cr.tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match="add_: result type float32 can't be cast"):
        i += 1.5
    i += 1
    np.testing.assert_array_equal(i.numpy(), [2, 3])
    assert i.dtype == np.int64
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


def test_fill_zero_copy_random_fills():
    cr.manual_seed(3)
    t = cr.tensor(np.zeros((2, 3), dtype=np.float32))
    t.normal_(1.0, 0.0)
    np.testing.assert_array_equal(t.numpy(), np.ones((2, 3)))
    t.uniform_(2.0, 3.0)
    assert ((t.numpy() >= 2.0) & (t.numpy() < 3.0)).all() and t.numpy().std() > 0
    t.fill_(7)
    t.copy_(cr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(t.numpy(), [[1, 2, 3], [1, 2, 3]])
    t.zero_()
    assert not t.numpy().any() and t._version == 5 and t.dtype == np.float32


def test_view_that_is_not_an_index_is_refused_while_recording():
    x = cr.tensor(np.ones((2, 3)), requires_grad=True)
    y = (x * 2).reshape(3, 2)
    with pytest.raises(NotImplementedError, match="in-place change of a view"):
        y.add_(1)


def test_clone_is_a_copy_in_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    c.mul_(3)
    c.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])
