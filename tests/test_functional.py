"""The functional API: higher order, forward mode, jacobians and hessians."""
import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is an oracle here: "
                                            "pip install torch==2.13.0")

# f, its first three derivatives in closed form, and a point in its domain
CLOSED_FORMS = {
    "exp": (cr.exp, np.exp, np.exp, np.exp, 0.3),
    "log": (cr.log, lambda x: 1 / x, lambda x: -1 / x**2, lambda x: 2 / x**3, 1.7),
    "sqrt": (cr.sqrt, lambda x: 0.5 * x**-0.5, lambda x: -0.25 * x**-1.5,
             lambda x: 0.375 * x**-2.5, 2.0),
    "sin": (cr.sin, np.cos, lambda x: -np.sin(x), lambda x: -np.cos(x), 0.7),
    "cos": (cr.cos, lambda x: -np.sin(x), lambda x: -np.cos(x), np.sin, 0.7),
    "tanh": (cr.tanh, lambda x: 1 - np.tanh(x)**2,
             lambda x: -2 * np.tanh(x) * (1 - np.tanh(x)**2),
             lambda x: (6 * np.tanh(x)**2 - 2) * (1 - np.tanh(x)**2), 0.4),
    "cube": (lambda x: x**3, lambda x: 3 * x**2, lambda x: 6 * x, lambda x: 6.0 + 0 * x, 1.3),
    "recip": (lambda x: 1 / x, lambda x: -1 / x**2, lambda x: 2 / x**3, lambda x: -6 / x**4, 1.5),
    "abs": (cr.abs, np.sign, lambda x: 0 * x, lambda x: 0 * x, -0.8),
    "relu": (cr.relu, lambda x: 1.0 + 0 * x, lambda x: 0 * x, lambda x: 0 * x, 0.8),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_third_derivatives_match_closed_forms(name):
    f, d1, d2, d3, x = CLOSED_FORMS[name]
    x = np.array(x)
    g1, g2, g3 = cr.grad(f), cr.grad(cr.grad(f)), cr.grad(cr.grad(cr.grad(f)))
    np.testing.assert_allclose(g1(x).numpy(), d1(x), rtol=1e-10)
    np.testing.assert_allclose(g2(x).numpy(), d2(x), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g3(x).numpy(), d3(x), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", ["sigmoid", "softmax", "log_softmax", "logsumexp", "max"])
def test_second_derivatives_match_torch(name):
    x = np.array([0.3, -1.2, 0.8])
    cr_f = {"sigmoid": lambda t: (cr.sigmoid(t) ** 2).sum(),
            "softmax": lambda t: (cr.softmax(t) * np.array([1.0, 2.0, 3.0])).sum() ** 2,
            "log_softmax": lambda t: (cr.log_softmax(t) ** 2).sum(),
            "logsumexp": lambda t: cr.logsumexp(t * t),
            "max": lambda t: (t * t).max() * t.sum()}[name]
    th_f = {"sigmoid": lambda t: (torch.sigmoid(t) ** 2).sum(),
            "softmax": lambda t: (torch.softmax(t, 0) * torch.tensor([1.0, 2.0, 3.0],
                                                                     dtype=t.dtype)).sum() ** 2,
            "log_softmax": lambda t: (torch.log_softmax(t, 0) ** 2).sum(),
            "logsumexp": lambda t: torch.logsumexp(t * t, 0),
            "max": lambda t: (t * t).max() * t.sum()}[name]
    H = cr.hessian(cr_f)(x).numpy()
    H_t = torch.autograd.functional.hessian(th_f, torch.tensor(x)).numpy()
    np.testing.assert_allclose(H, H_t, rtol=1e-9, atol=1e-12)
    gg = cr.jacobian(cr.grad(cr_f), mode="rev")(x).numpy()  # reverse-over-reverse too
    np.testing.assert_allclose(gg, H_t, rtol=1e-9, atol=1e-12)


def test_jacobians_both_modes_match_torch():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 3))

    def f_cr(x):
        return cr.tanh(cr.tensor(A) @ x) * x.sum() + cr.concat([x[:1], x.exp()])

    def f_th(x):
        return torch.tanh(torch.tensor(A) @ x) * x.sum() + torch.cat([x[:1], x.exp()])
    x = rng.standard_normal(3)
    J_t = torch.autograd.functional.jacobian(f_th, torch.tensor(x)).numpy()
    for mode in ("rev", "fwd"):
        J = cr.jacobian(f_cr, mode=mode)(x)
        assert J.shape == (4, 3)
        np.testing.assert_allclose(J.numpy(), J_t, rtol=1e-10)


def test_jacobian_of_matrix_function_has_out_then_in_shape():
    x = np.arange(6.0).reshape(2, 3) / 10
    J = cr.jacobian(lambda t: t.T @ t, mode="fwd")(x)
    J_t = torch.autograd.functional.jacobian(lambda t: t.T @ t, torch.tensor(x)).numpy()
    assert J.shape == (3, 3, 2, 3)
    np.testing.assert_allclose(J.numpy(), J_t, rtol=1e-12)
    np.testing.assert_allclose(cr.jacobian(lambda t: t.T @ t)(x).numpy(), J_t, rtol=1e-12)


def test_hessian_matches_torch_on_a_network_loss():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((5, 3)), np.array([0, 1, 1, 0, 1])

    def loss_cr(w):
        return cr.softmax_cross_entropy(cr.tensor(X) @ w.reshape(3, 2), y)

    def loss_th(w):
        return torch.nn.functional.cross_entropy(torch.tensor(X) @ w.reshape(3, 2),
                                                 torch.tensor(y))
    w = rng.standard_normal(6)
    np.testing.assert_allclose(cr.hessian(loss_cr)(w).numpy(),
                               torch.autograd.functional.hessian(loss_th, torch.tensor(w)).numpy(),
                               rtol=1e-9, atol=1e-12)


def test_jvp_is_forward_mode_and_matches_closed_form_of_the_tutorial_function():
    def f(x):
        return (cr.log(x) * (x + 3) + x**2) / cr.sin(x)
    x = 2.0
    closed = (((x + 3) / x + np.log(x) + 2 * x) * np.sin(x)
              - (np.log(x) * (x + 3) + x**2) * np.cos(x)) / np.sin(x) ** 2
    out, tangent = cr.jvp(f, (np.array(x),), (np.array(1.0),))
    assert out.item() == pytest.approx((np.log(x) * (x + 3) + x**2) / np.sin(x), rel=1e-12)
    assert tangent.item() == pytest.approx(closed, rel=1e-12)
    assert cr.grad(f)(np.array(x)).item() == pytest.approx(closed, rel=1e-12)


def test_jvp_runs_no_backward_pass(monkeypatch):
    from chainrule import engine

    def forbidden(*a, **k):
        raise AssertionError("jvp must not run a backward pass")
    monkeypatch.setattr(engine, "backward_pass", forbidden)
    _, t = cr.jvp(lambda x: (x * x).sin(), (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))
    np.testing.assert_allclose(t.numpy(), [2 * np.cos(1.0), 0.0])


def test_unrelated_inputs_give_zeros_at_every_order():
    f = lambda x, y: (x * x).sum()  # noqa: E731
    x, y = np.array([1.0, 2.0]), np.array([[3.0, 4.0, 5.0]])
    gy = cr.grad(f, argnums=1)(x, y)
    assert gy.shape == (1, 3) and not gy.numpy().any()
    g2 = cr.grad(lambda x, y: cr.grad(f, argnums=1)(x, y).sum(), argnums=0)(x, y)
    assert g2.shape == (2,) and not g2.numpy().any()
    _, t = cr.jvp(lambda x: cr.tensor(np.ones(3)), (x,), (x,))
    assert t.shape == (3,) and not t.numpy().any()
    H = cr.hessian(lambda x: (x * 0).sum() + 1.0)(x)
    assert H.shape == (2, 2) and not H.numpy().any()


def test_value_and_grad_with_tuple_argnums():
    f = lambda a, b: (a * b).sum()  # noqa: E731
    val, (ga, gb) = cr.value_and_grad(f, argnums=(0, 1))(np.array([1.0, 2.0]),
                                                       np.array([3.0, 4.0]))
    assert val.item() == 11.0
    np.testing.assert_allclose(ga.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gb.numpy(), [1.0, 2.0])


def test_vjp_pulls_back_any_cotangent():
    out, pullback = cr.vjp(lambda x, y: x * y.sum(), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    gx, gy = pullback(np.array([1.0, -1.0]))
    np.testing.assert_allclose(out.numpy(), [7.0, 14.0])
    np.testing.assert_allclose(gx.numpy(), [7.0, -7.0])
    np.testing.assert_allclose(gy.numpy(), [-1.0, -1.0])
    gx2, _ = pullback(np.array([0.0, 1.0]))  # reusable
    np.testing.assert_allclose(gx2.numpy(), [0.0, 7.0])


def test_grad_requires_a_scalar_function():
    with pytest.raises(TypeError, match="scalar"):
        cr.grad(lambda x: x * 2)(np.ones(3))


def test_create_graph_backward_is_differentiable():
    x = cr.tensor([1.5], dtype=np.float64, requires_grad=True)
    y = (x ** 3).sum()
    (gx,) = cr.autograd_grad(y, x, create_graph=True)
    gx.sum().backward()
    assert x.grad.item() == pytest.approx(6 * 1.5)


def test_closures_over_outer_variables_nest_correctly():
    # d/dy [ d/dx (x*y)^2 ] at x=2, y=3 = d/dy [2 x y^2] = 4 x y = 24
    outer = cr.grad(lambda y: cr.grad(lambda x: ((x * y) ** 2).sum())(np.array(2.0)))
    assert outer(np.array(3.0)).item() == pytest.approx(24.0)


def test_nested_forward_mode_keeps_the_levels_apart():
    """jvp of jvp (once refused): the inner tangent x·x differentiates to 2x, with no
    perturbation confusion between the two levels."""
    out, tangent = cr.jvp(lambda x: cr.jvp(lambda y: y * x, (x,), (x,))[1], (np.array(3.0),),
                          (np.array(1.0),))
    assert out.item() == 9.0 and tangent.item() == 6.0
