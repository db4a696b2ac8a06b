"""TwoLayerNet / MultiLayerNet: backprop vs numerical gradients, both update styles learn."""
import numpy as np
import pytest

from chainrule.book.layers import Affine
from chainrule.book.models import MultiLayerNet, ParamDict, TwoLayerNet
from conftest import requires_torch


def blobs(n=60, dim=4, classes=3, seed=0):
    """A small separable problem: one Gaussian blob per class."""
    rng = np.random.default_rng(seed)
    centers = 3 * rng.standard_normal((classes, dim))
    t = rng.integers(0, classes, n)
    return centers[t] + rng.standard_normal((n, dim)), t


def mean_abs_diffs(net, x, t):
    grad, numerical = net.gradient(x, t), net.numerical_gradient(x, t)
    assert grad.keys() == numerical.keys() == net.params.keys()
    return {key: float(np.mean(np.abs(grad[key] - numerical[key]))) for key in grad}


@pytest.mark.parametrize("one_hot", [False, True])
def test_two_layer_net_backprop_matches_numerical_gradient(one_hot):
    x, t = blobs(n=8, dim=6)
    net = TwoLayerNet(6, 5, 3, weight_init_std=0.5, seed=1)
    diffs = mean_abs_diffs(net, x, np.eye(3)[t] if one_hot else t)
    assert all(d < 1e-7 for d in diffs.values()), diffs


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("decay", [0.0, 0.1])
def test_multi_layer_net_backprop_matches_numerical_gradient(activation, decay):
    x, t = blobs(n=8, dim=5)
    net = MultiLayerNet(5, [4, 3], 3, activation=activation, weight_decay_lambda=decay, seed=2)
    assert list(net.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    diffs = mean_abs_diffs(net, x, t)
    assert all(d < 1e-7 for d in diffs.values()), diffs


def test_tutorial_interface():
    net = TwoLayerNet(784, 100, 10, seed=0)
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert {k: v.shape for k, v in net.params.items()} == {
        "W1": (784, 100), "b1": (100,), "W2": (100, 10), "b2": (10,)}  # b2 has the output size
    assert net.params["W1"].dtype == np.float64
    assert net.params["W1"].std() == pytest.approx(0.01, rel=0.05)
    assert not net.params["b1"].any()
    x = np.random.default_rng(0).random((3, 784))
    assert net.predict(x).shape == (3, 10)
    assert net.loss(x, np.array([1, 2, 3])) == pytest.approx(np.log(10), rel=0.01)


def test_same_seed_same_weights():
    a, b = TwoLayerNet(4, 3, 2, seed=7), TwoLayerNet(4, 3, 2, rng=np.random.default_rng(7))
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])


def train(net, x, t, style, steps=200, lr=0.1):
    for _ in range(steps):
        grad = net.gradient(x, t)
        for key in ("W1", "b1", "W2", "b2"):
            if style == "in-place":
                net.params[key] -= lr * grad[key]
            else:  # the tutorial's loop, which detached the layers in the original code
                net.params[key] = net.params[key] - lr * grad[key]


@pytest.mark.parametrize("style", ["in-place", "rebinding"])
def test_both_update_styles_learn(style):
    x, t = blobs()
    net = TwoLayerNet(4, 10, 3, weight_init_std=0.1, seed=3)
    before = net.loss(x, t)
    train(net, x, t, style)
    assert net.loss(x, t) < 0.3 * before
    assert net.accuracy(x, t) > 0.9
    assert net.layers["Affine1"].W is net.params["W1"]
    assert net.layers["Affine1"].b is net.params["b1"]
    assert net.layers["Affine2"].W is net.params["W2"]
    assert net.layers["Affine2"].b is net.params["b2"]


def test_both_update_styles_give_identical_weights():
    x, t = blobs()
    nets = [TwoLayerNet(4, 6, 3, weight_init_std=0.1, seed=4) for _ in range(2)]
    train(nets[0], x, t, "in-place", steps=20)
    train(nets[1], x, t, "rebinding", steps=20)
    for key in nets[0].params:
        np.testing.assert_array_equal(nets[0].params[key], nets[1].params[key])


def test_param_dict_rejects_a_new_shape_and_keeps_the_old_value():
    net = TwoLayerNet(4, 3, 2, seed=0)
    before = net.params["W1"].copy()
    with pytest.raises(ValueError, match=r"params\['W1'\].*\(3, 3\).*\(4, 3\)"):
        net.params["W1"] = np.zeros((3, 3))
    np.testing.assert_array_equal(net.params["W1"], before)
    net.params.update(b1=np.ones(3))
    assert net.layers["Affine1"].b is net.params["b1"] and net.params["b1"].sum() == 3
    fresh = ParamDict()
    fresh["W"] = np.zeros(2)
    assert fresh["W"].shape == (2,)


def test_float32_stays_float32_through_gradient():
    x, t = blobs(n=10)
    net = TwoLayerNet(4, 5, 3, dtype=np.float32, seed=0)
    one_hot = np.eye(3, dtype=np.int64)[t]
    grads = net.gradient(x, one_hot)  # float64 x and int64 one-hot labels must not upcast
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    assert net.predict(x).dtype == np.float32
    net.params["W1"] = net.params["W1"] - 0.1 * grads["W1"].astype(np.float64)
    assert net.params["W1"].dtype == np.float32


def test_accuracy_with_indices_and_one_hot():
    net = TwoLayerNet(2, 2, 2, seed=0)
    net.params["W1"] = np.eye(2)
    net.params["W2"] = np.eye(2)
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
    t = np.array([0, 1, 1, 1])
    assert net.accuracy(x, t) == 0.75
    assert net.accuracy(x, np.eye(2)[t]) == 0.75


def test_multi_layer_net_layers_and_init():
    net = MultiLayerNet(400, [300, 200], 10, activation="sigmoid", weight_init_std="xavier", seed=0)
    assert list(net.layers) == ["Affine1", "Sigmoid1", "Affine2", "Sigmoid2", "Affine3"]
    assert net.params["W2"].std() == pytest.approx(np.sqrt(1 / 300), rel=0.05)
    he = MultiLayerNet(400, [300], 10, seed=0)
    assert he.params["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)
    assert MultiLayerNet(4, [3], 2, weight_init_std=0.5, seed=0).params["W1"].std() > 0.2
    assert not net.layers["Affine1"].input_grad and net.layers["Affine2"].input_grad
    with pytest.raises(ValueError, match="activation"):
        MultiLayerNet(4, [3], 2, activation="gelu")
    with pytest.raises(ValueError, match="weight_init_std"):
        MultiLayerNet(4, [3], 2, weight_init_std="kaiming")


def test_multi_layer_net_learns_with_rebinding_updates():
    x, t = blobs()
    net = MultiLayerNet(4, [8, 8], 3, seed=5)
    before = net.loss(x, t)
    for _ in range(100):
        grad = net.gradient(x, t)
        for key in net.params:
            net.params[key] = net.params[key] - 0.1 * grad[key]
    assert net.loss(x, t) < 0.3 * before
    assert all(isinstance(net.layers[f"Affine{i}"], Affine) for i in (1, 2, 3))


@requires_torch
def test_two_layer_net_matches_pytorch():
    import torch
    x, t = blobs(n=12, dim=6)
    net = TwoLayerNet(6, 5, 3, weight_init_std=0.5, seed=6)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    model.double()
    with torch.no_grad():  # torch stores weight as (out, in): ours transposed
        model[0].weight.copy_(torch.tensor(net.params["W1"].T))
        model[0].bias.copy_(torch.tensor(net.params["b1"]))
        model[2].weight.copy_(torch.tensor(net.params["W2"].T))
        model[2].bias.copy_(torch.tensor(net.params["b2"]))
    loss = torch.nn.functional.cross_entropy(model(torch.tensor(x)), torch.tensor(t))
    loss.backward()
    grads = net.gradient(x, t)
    assert net.loss(x, t) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(grads["W1"], model[0].weight.grad.numpy().T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads["b1"], model[0].bias.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads["W2"], model[2].weight.grad.numpy().T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads["b2"], model[2].bias.grad.numpy(), rtol=1e-10, atol=1e-14)
