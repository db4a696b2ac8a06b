"""MultiLayerNetExtend: backprop equals central differences with weight decay, batch
normalization and dropout (train_flg=True, masks held fixed); the book's layer and
parameter names; clear errors."""
import numpy as np
import pytest

from chainrule.book.layers import Affine, BatchNormalization, Dropout
from chainrule.book.multi_layer_net_extend import MultiLayerNetExtend

from .gradcheck_helpers import assert_gradients_agree, blobs, shift_biases


pytestmark = pytest.mark.usefixtures("seeded_dropout")


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("options", [
    {}, {"weight_decay_lambda": 0.1}, {"use_batchnorm": True}, {"use_dropout": True},
    {"use_batchnorm": True, "use_dropout": True, "weight_decay_lambda": 0.05},
], ids=["plain", "decay", "batchnorm", "dropout", "all"])
def test_backprop_matches_numerical_gradient(activation, options):
    x, t = blobs(n=6, dim=5)
    net = MultiLayerNetExtend(5, [7, 6], 3, activation=activation, seed=1, **options)
    shift_biases(net)
    # a central difference with h = 1e-4 is exact to O(h**2 f'''), which batch
    # normalization's curvature makes ~1e-7 of the gradient here
    rtol = 1e-5 if options.get("use_batchnorm") else 1e-6
    grad, numerical = assert_gradients_agree(net, x, t, rtol=rtol)
    if options.get("use_batchnorm"):
        # a bias feeding batch normalization has no effect: both sides see a zero gradient
        assert np.max(np.abs(grad["b1"])) < 1e-12 and np.max(np.abs(numerical["b1"])) < 1e-9


def test_one_hot_labels_give_the_same_gradients():
    x, t = blobs(n=6, dim=5)
    net = MultiLayerNetExtend(5, [6], 3, use_batchnorm=True, seed=2)
    by_index, by_one_hot = net.gradient(x, t), net.gradient(x, np.eye(3)[t])
    for key in net.params:
        np.testing.assert_allclose(by_index[key], by_one_hot[key], rtol=1e-13, atol=1e-15)


def test_weight_decay_adds_half_lambda_w_squared_and_lambda_w():
    x, t = blobs(n=6, dim=5)
    plain = MultiLayerNetExtend(5, [6], 3, seed=3)
    decayed = MultiLayerNetExtend(5, [6], 3, seed=3, weight_decay_lambda=0.3)
    squares = sum(np.sum(plain.params[k] ** 2) for k in ("W1", "W2"))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + 0.15 * squares, rel=1e-13)
    g_plain, g_decayed = plain.gradient(x, t), decayed.gradient(x, t)
    np.testing.assert_allclose(g_decayed["W1"], g_plain["W1"] + 0.3 * plain.params["W1"],
                               rtol=1e-13)
    np.testing.assert_array_equal(g_decayed["b1"], g_plain["b1"])


def test_dropout_check_uses_the_masks_gradient_drew():
    x, t = blobs(n=6, dim=5)
    net = MultiLayerNetExtend(5, [6, 6], 3, use_dropout=True, seed=4)
    shift_biases(net)
    np.random.seed(0)
    grad = net.gradient(x, t)
    first = net.numerical_gradient(x, t)
    again = net.numerical_gradient(x, t)
    for key in net.params:
        np.testing.assert_array_equal(first[key], again[key])
        np.testing.assert_allclose(grad[key], first[key], rtol=1e-6, atol=1e-9)
    # a fresh draw is another function: the same check against new masks disagrees
    np.random.seed(1)
    other = net.gradient(x, t)
    assert max(np.max(np.abs(other[k] - first[k])) for k in net.params) > 1e-3


def test_numerical_gradient_leaves_the_running_statistics_alone():
    x, t = blobs(n=6, dim=5)
    net = MultiLayerNetExtend(5, [6], 3, use_batchnorm=True, seed=5)
    net.gradient(x, t)
    norm = net.layers["BatchNorm1"]
    mean, var = norm.running_mean.copy(), norm.running_var.copy()
    net.numerical_gradient(x, t)
    np.testing.assert_array_equal(norm.running_mean, mean)
    np.testing.assert_array_equal(norm.running_var, var)


def test_inference_mode_uses_running_statistics_and_is_deterministic():
    x, t = blobs(n=20, dim=5)
    net = MultiLayerNetExtend(5, [6], 3, use_batchnorm=True, use_dropout=True, seed=6)
    for _ in range(3):
        net.gradient(x, t)
    np.testing.assert_array_equal(net.predict(x), net.predict(x))
    assert not np.allclose(net.predict(x), net.predict(x, train_flg=True))
    assert net.loss(x, t) == pytest.approx(net.loss(x, t, train_flg=False), abs=0)


def test_the_books_names_and_shapes():
    net = MultiLayerNetExtend(784, [100, 50], 10, use_batchnorm=True, use_dropout=True,
                              dropout_ration=0.2, seed=0)
    assert list(net.layers) == [
        "Affine1", "BatchNorm1", "Activation_function1", "Dropout1",
        "Affine2", "BatchNorm2", "Activation_function2", "Dropout2", "Affine3"]
    assert {k: v.shape for k, v in net.params.items()} == {
        "W1": (784, 100), "b1": (100,), "W2": (100, 50), "b2": (50,), "W3": (50, 10),
        "b3": (10,), "gamma1": (100,), "beta1": (100,), "gamma2": (50,), "beta2": (50,)}
    assert net.layers["Dropout1"].dropout_ratio == 0.2
    assert isinstance(net.layers["BatchNorm2"], BatchNormalization)
    assert isinstance(net.layers["Dropout2"], Dropout)
    assert net.hidden_layer_num == 2 and net.last_layer is not None
    # the layers hold the params' own arrays, and rebinding a key writes into them
    assert net.layers["Affine2"].W is net.params["W2"]
    assert net.layers["BatchNorm1"].gamma is net.params["gamma1"]
    net.params["W2"] = net.params["W2"] - 1.0
    assert net.layers["Affine2"].W is net.params["W2"]
    # He's scale by default, Xavier's for 'sigmoid'
    assert net.params["W1"].std() == pytest.approx(np.sqrt(2 / 784), rel=0.03)
    xavier = MultiLayerNetExtend(784, [100], 10, weight_init_std="sigmoid", seed=0)
    assert xavier.params["W1"].std() == pytest.approx(np.sqrt(1 / 784), rel=0.03)
    fixed = MultiLayerNetExtend(784, [100], 10, weight_init_std=0.01, seed=0)
    assert fixed.params["W1"].std() == pytest.approx(0.01, rel=0.03)
    assert isinstance(fixed.layers["Affine1"], Affine) and not fixed.params["b1"].any()


def test_dtype_is_float64_by_default_and_float32_on_request():
    x, t = blobs(n=4, dim=5)
    net = MultiLayerNetExtend(5, [6], 3, use_batchnorm=True, seed=0)
    assert all(v.dtype == np.float64 for v in net.params.values())
    net32 = MultiLayerNetExtend(5, [6], 3, use_batchnorm=True, dtype=np.float32, seed=0)
    assert all(v.dtype == np.float32 for v in net32.params.values())
    assert net32.predict(x).dtype == np.float32
    assert all(g.dtype == np.float32 for g in net32.gradient(x, t).values())


def test_accuracy_counts_correct_argmax():
    x, t = blobs(n=10, dim=5)
    net = MultiLayerNetExtend(5, [6], 3, seed=0)
    expected = np.mean(np.argmax(net.predict(x), axis=1) == t)
    assert net.accuracy(x, t) == expected
    assert net.accuracy(x, np.eye(3)[t]) == expected


@pytest.mark.parametrize("kwargs, message", [
    ({"activation": "tanh"}, "activation must be 'relu' or 'sigmoid'"),
    ({"weight_init_std": "lecun"}, "weight_init_std must be"),
    ({"dropout_ration": 1.0}, "dropout_ration must be in [0, 1)"),
    ({"hidden_size_list": 10}, "hidden_size_list must be a list"),
    ({"hidden_size_list": [10, 0]}, "each hidden size must be a positive int"),
    ({"dtype": np.int32}, "dtype must be a float type"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    settings = {"input_size": 5, "hidden_size_list": [4], "output_size": 3, **kwargs}
    with pytest.raises(ValueError, match="MultiLayerNetExtend") as err:
        MultiLayerNetExtend(**settings)
    assert message in str(err.value)


def test_inputs_of_the_wrong_shape_are_clear_errors():
    net = MultiLayerNetExtend(5, [4], 3)
    with pytest.raises(ValueError, match=r"MultiLayerNetExtend.predict: x has shape \(2, 4\) "
                                         r"but the network takes \(N, 5\)"):
        net.predict(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"MultiLayerNetExtend.loss: x of shape \(2, 5\) has 2 "
                                         r"samples but t has shape \(3,\)"):
        net.loss(np.zeros((2, 5)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"MultiLayerNetExtend.gradient: x has shape \(5,\)"):
        net.gradient(np.zeros(5), np.array([0]))
