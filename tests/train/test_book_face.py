"""The book face's stepper: the book's networks, the book's in-place update, no upcasts."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.models
from chainrule.train import BookFace, TrainConfig, train


def test_one_hidden_size_is_the_tutorials_two_layer_net():
    face = BookFace(TrainConfig(), input_size=4, classes=3, rng=np.random.default_rng(0))
    assert type(face.network) is chainrule.models.TwoLayerNet
    assert face.network.params["W1"].shape == (4, 100)
    assert face.network.params["W1"].dtype == np.float32


def test_several_hidden_sizes_are_the_books_multi_layer_net(quick):
    face = BookFace(TrainConfig(hidden=[16, 8]), input_size=4, classes=3,
                    rng=np.random.default_rng(0))
    assert type(face.network) is chainrule.models.MultiLayerNet
    assert [face.network.params[f"W{i}"].shape for i in (1, 2, 3)] == [(4, 16), (16, 8), (8, 3)]
    history = train(quick(hidden=[32, 16], weight_init_std="he", lr=0.5, iters=1000))
    assert list(history["param_dtypes"]) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert history["config"]["hidden"] == [32, 16]
    assert history["final"]["test_acc"] > 0.9


def test_the_same_network_either_way_for_one_hidden_size(quick):
    """TwoLayerNet and a one-hidden-layer MultiLayerNet draw the same weights."""
    two = BookFace(quick(), 2, 3, np.random.default_rng(1)).network
    multi = BookFace(quick(weight_init_std="he"), 2, 3, np.random.default_rng(1)).network
    assert type(multi) is chainrule.models.MultiLayerNet
    np.testing.assert_allclose(multi.params["W1"] / np.sqrt(2 / 2),
                               two.params["W1"] / 0.1, rtol=1e-6)


def test_an_upcast_gradient_is_an_error_not_a_silent_cast(monkeypatch, quick):
    gradient = chainrule.models.TwoLayerNet.gradient

    def upcasting_gradient(self, x, t):
        grads = gradient(self, x, t)
        grads["b2"] = grads["b2"].astype(np.float64)
        return grads

    monkeypatch.setattr(chainrule.models.TwoLayerNet, "gradient", upcasting_gradient)
    with pytest.raises(TypeError, match="gradient of b2 is float64 but the parameter is float32"):
        train(quick(iters=2))


def test_the_update_is_in_place_so_the_layers_train(quick):
    face = BookFace(quick(), 2, 3, np.random.default_rng(0))
    w1 = face.network.params["W1"]
    before = w1.copy()
    x, t = np.ones((4, 2), np.float32), np.array([0, 1, 2, 0])
    face.loss(x, t)
    grads = face.backward()
    face.step()
    assert face.network.layers["Affine1"].W is w1
    np.testing.assert_allclose(w1, before - 1.0 * grads["W1"], rtol=1e-6)


def test_save_writes_the_trained_parameters(tmp_path, quick):
    target = tmp_path / "sub" / "model.safetensors"
    history = train(quick(iters=5, save=str(target)))
    saved = cr.load(target)
    assert list(saved) == ["W1", "b1", "W2", "b2"]
    assert set(history["param_dtypes"]) == set(saved)
