"""Every composition of grad, vjp, jvp, jacobian and hessian equals torch.func in float64
(none returns zeros or a stale value), in every order: reverse over reverse, forward over
reverse, reverse over forward and forward over forward."""
import numpy as np
import pytest

import chainrule as cr
from tests.conftest import requires_torch

torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle here")
from torch.func import grad as tgrad, hessian as thess, jacfwd, jacrev, jvp as tjvp, vjp as tvjp  # noqa: E402

X0 = np.array([0.3, -0.7, 1.1])
V = np.array([0.5, 1.0, -2.0])


def g(x):  # vector -> vector
    return (x.sin() * x.exp()).sum() * x[0] + x ** 3


def f(x):  # vector -> scalar
    return (x.sin() * x ** 2).sum() + x[1] * x[2]


def _t(a):
    return torch.tensor(a)


SUPPORTED = {
    "jacobian(jacobian(rev), fwd)": (lambda: cr.jacobian(cr.jacobian(g, mode="rev"), mode="fwd")(X0),
                                     lambda: jacfwd(jacrev(g))(_t(X0))),
    "jacobian(jacobian(rev), rev)": (lambda: cr.jacobian(cr.jacobian(g, mode="rev"), mode="rev")(X0),
                                     lambda: jacrev(jacrev(g))(_t(X0))),
    "jvp(jacobian(rev))": (lambda: cr.jvp(cr.jacobian(g), (X0,), (V,))[1],
                           lambda: tjvp(jacrev(g), (_t(X0),), (_t(V),))[1]),
    "jvp(grad(grad))": (lambda: cr.jvp(cr.grad(lambda x: cr.grad(f)(x).sum()), (X0,), (V,))[1],
                        lambda: tjvp(tgrad(lambda x: tgrad(f)(x).sum()), (_t(X0),), (_t(V),))[1]),
    "hessian": (lambda: cr.hessian(f)(X0), lambda: thess(f)(_t(X0))),
    "jacobian(grad, rev)": (lambda: cr.jacobian(cr.grad(f), mode="rev")(X0),
                            lambda: jacrev(jacrev(f))(_t(X0))),
    "grad(grad(grad))": (lambda: cr.grad(lambda x: cr.grad(lambda y: cr.grad(f)(y).sum())(x).sum())(X0),
                         lambda: tgrad(lambda x: tgrad(lambda y: tgrad(f)(y).sum())(x).sum())(_t(X0))),
    "vjp(grad)": (lambda: cr.vjp(cr.grad(f), X0)[1](V)[0],
                  lambda: tvjp(tgrad(f), _t(X0))[1](_t(V))[0]),
    "grad(vjp)": (lambda: cr.grad(lambda x: (cr.vjp(g, x)[1](V)[0] ** 2).sum())(X0),
                  lambda: tgrad(lambda x: (tvjp(g, x)[1](_t(V))[0] ** 2).sum())(_t(X0))),
    "jacobian(jacobian(fwd), rev)": (lambda: cr.jacobian(cr.jacobian(g, mode="fwd"), mode="rev")(X0),
                                     lambda: jacrev(jacfwd(g))(_t(X0))),
    "jacobian(jacobian(fwd), fwd)": (lambda: cr.jacobian(cr.jacobian(g, mode="fwd"), mode="fwd")(X0),
                                     lambda: jacfwd(jacfwd(g))(_t(X0))),
    "grad(jvp)": (lambda: cr.grad(lambda x: cr.jvp(f, (x,), (V,))[1])(X0),
                  lambda: tgrad(lambda x: tjvp(f, (x,), (_t(V),))[1])(_t(X0))),
    "jvp(jvp)": (lambda: cr.jvp(lambda x: cr.jvp(f, (x,), (V,))[1], (X0,), (V,))[1],
                 lambda: tjvp(lambda x: tjvp(f, (x,), (_t(V),))[1], (_t(X0),), (_t(V),))[1]),
    "jvp(jvp(jvp))": (lambda: cr.jvp(lambda y: cr.jvp(lambda x: cr.jvp(f, (x,), (V,))[1],
                                                       (y,), (V,))[1], (X0,), (V,))[1],
                      lambda: tjvp(lambda y: tjvp(lambda x: tjvp(f, (x,), (_t(V),))[1],
                                                  (y,), (_t(V),))[1], (_t(X0),), (_t(V),))[1]),
    "vjp(jacobian(fwd))": (lambda: cr.vjp(cr.jacobian(g, mode="fwd"), X0)[1](np.ones((3, 3)))[0],
                           lambda: tvjp(jacfwd(g), _t(X0))[1](torch.ones(3, 3, dtype=torch.float64))[0]),
    "grad of a jvp closing over the variable": (
        lambda: cr.grad(lambda w: cr.jvp(lambda x: (x * w).sin().sum(), (X0,), (V,))[1])(X0),
        lambda: tgrad(lambda w: tjvp(lambda x: (x * w).sin().sum(), (_t(X0),), (_t(V),))[1])(_t(X0))),
    "hessian by jacobian(jacobian(fwd), fwd)": (
        lambda: cr.jacobian(cr.jacobian(f, mode="fwd"), mode="fwd")(X0),
        lambda: thess(f)(_t(X0))),
    "hessian by jvp of grad, column by column": (
        lambda: cr.stack([cr.jvp(cr.grad(f), (X0,), (e,))[1] for e in np.eye(3)], axis=1),
        lambda: thess(f)(_t(X0))),
}

@requires_torch
@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_composition_equals_torch_func(name):
    ours, theirs = SUPPORTED[name]
    np.testing.assert_allclose(ours().numpy(), theirs().numpy(), rtol=1e-10, atol=1e-10)
