"""The two faces, one truth: the book's TwoLayerNet and the same network built from
engine ops give the same loss and the same gradients."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.book.models import MultiLayerNet, TwoLayerNet


def engine_loss(params, x, t, activation="relu"):
    act = {"relu": cr.relu, "sigmoid": cr.sigmoid}[activation]
    n = len(params) // 2
    h = cr.tensor(x)
    for i in range(1, n + 1):
        h = h @ params[f"W{i}"] + params[f"b{i}"]
        if i < n:
            h = act(h)
    return cr.softmax_cross_entropy(h, t)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_two_layer_net_gradients_equal_the_engine(dtype, rtol):
    rng = np.random.default_rng(0)
    net = TwoLayerNet(6, 5, 3, weight_init_std=0.5, dtype=dtype)
    x = rng.standard_normal((4, 6)).astype(dtype)
    t = np.array([0, 2, 1, 2])
    book = net.gradient(x, t)
    params = {k: cr.tensor(v.copy(), requires_grad=True) for k, v in net.params.items()}
    loss = engine_loss(params, x, t)
    loss.backward()
    assert loss.item() == pytest.approx(net.loss(x, t), rel=rtol)
    for k in net.params:
        assert params[k].grad.dtype == book[k].dtype == dtype
        np.testing.assert_allclose(params[k].grad.numpy(), book[k], rtol=rtol, atol=rtol * 1e-2)


def test_multilayer_sigmoid_net_gradients_equal_the_engine():
    rng = np.random.default_rng(1)
    net = MultiLayerNet(4, [5, 5, 5], 3, activation="sigmoid", weight_init_std=1.0)
    x, t = rng.standard_normal((3, 4)), np.array([2, 0, 1])
    book = net.gradient(x, t)
    params = {k: cr.tensor(v.copy(), requires_grad=True) for k, v in net.params.items()}
    engine_loss(params, x, t, "sigmoid").backward()
    for k in net.params:
        np.testing.assert_allclose(params[k].grad.numpy(), book[k], rtol=1e-11, atol=1e-14)
