"""Conv2d / MaxPool2d (im2col primitives) against PyTorch, numerical gradients and forward mode."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import conv
from chainrule.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle here: "
                            "pip install torch==2.13.0")


@pytest.mark.parametrize("stride,padding,bias", [(1, 0, True), (2, 1, True), (1, 2, False),
                                                 (3, 0, True)])
def test_conv2d_matches_pytorch(stride, padding, bias):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 9, 8)).astype(np.float32)
    layer = nn.Conv2d(3, 4, 3, stride=stride, padding=padding, bias=bias)
    tlayer = torch.nn.Conv2d(3, 4, 3, stride=stride, padding=padding, bias=bias)
    tlayer.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in layer.state_dict().items()})
    assert repr(layer) == repr(tlayer)
    xt, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = layer(xt), tlayer(tx)
    assert out.shape == tuple(tout.shape) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.normal(size=out.shape).astype(np.float32)
    (out * g).sum().backward()
    (tout * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), (_, tp) in zip(layer.named_parameters(), tlayer.named_parameters()):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=name)


@pytest.mark.parametrize("k,stride,padding", [(2, None, 0), (3, 2, 1), (3, 1, 0)])
def test_max_pool_matches_pytorch(k, stride, padding):
    x = np.random.default_rng(1).normal(size=(2, 3, 7, 6)).astype(np.float32)
    layer, tlayer = nn.MaxPool2d(k, stride, padding), torch.nn.MaxPool2d(k, stride, padding)
    assert repr(layer) == repr(tlayer)
    xt, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = layer(xt), tlayer(tx)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    g = np.random.default_rng(2).normal(size=out.shape).astype(np.float32)
    (out * g).sum().backward()
    (tout * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_small_cnn_trains_like_pytorch():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 1, 8, 8)).astype(np.float32)
    t = np.array([0, 1, 2, 1])
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(32, 3))
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(),
                                 torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                 torch.nn.Linear(32, 3))
    tmodel.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in model.state_dict().items()})
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        opt.zero_grad(), topt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(cr.tensor(x)), t)
        tloss = torch.nn.CrossEntropyLoss()(tmodel(torch.from_numpy(x)), torch.from_numpy(t))
        loss.backward(), tloss.backward()
        opt.step(), topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-5)
    for (name, p), (_, tp) in zip(model.named_parameters(), tmodel.named_parameters()):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_im2col_col2im_are_transposes_and_rules_agree():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 2, 5, 6))
    cols = conv.im2col(x, 3, 2, 2, 1)
    c = rng.normal(size=cols.shape)
    # <im2col(x), c> == <x, col2im(c)>: the two maps are adjoint
    assert np.sum(cols * c) == pytest.approx(np.sum(x * conv.col2im(c, x.shape, 3, 2, 2, 1)))
    w = rng.normal(size=(3, 2, 3, 3))
    f = lambda a: (F.conv2d(a, w, None, 2, 1) ** 2).sum()  # noqa: E731
    analytic = cr.grad(f)(x).numpy()
    numeric = cr.numerical_gradient(lambda a: f(cr.tensor(a)).item(), x.copy())
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6)
    v = rng.normal(size=x.shape)
    _, tangent = cr.jvp(lambda a: F.conv2d(a, w, None, 2, 1).sum(), (x,), (v,))
    g = cr.grad(lambda a: F.conv2d(a, w, None, 2, 1).sum())(x).numpy()
    assert tangent.item() == pytest.approx(np.sum(g * v))
    # second order: the gradient of a gradient goes through col2im's own VJP
    h = cr.grad(lambda a: (cr.grad(f)(a) * v).sum())(x).numpy()
    eps = 1e-6
    fd = (cr.grad(f)(x + eps * v).numpy() - cr.grad(f)(x - eps * v).numpy()) / (2 * eps)
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-6)


def test_conv_errors():
    with pytest.raises(ValueError, match="do not fit"):
        nn.Conv2d(3, 4, 3)(cr.tensor(np.zeros((1, 2, 5, 5), np.float32)))
    with pytest.raises(ValueError, match="larger"):
        nn.Conv2d(1, 1, 5)(cr.tensor(np.zeros((1, 1, 3, 3), np.float32)))
    with pytest.raises(ValueError, match="square"):
        nn.Conv2d(1, 1, (3, 2))
