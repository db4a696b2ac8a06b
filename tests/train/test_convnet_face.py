"""The book's convnets in the training loop: their config (Adam lr 0.001, epochs), the
stepper's one forward pass per step, and evaluating loaded (converted) parameters."""
import pickle

import numpy as np
import pytest

from chainrule.book.deep_convnet import DeepConvNet
from chainrule.book.simple_convnet import SimpleConvNet
from chainrule.train import ConfigError, TrainConfig, train
from chainrule.train.book_weights import convert_pickle
from chainrule.train.convnet_face import ConvNetFace, image_shape


def images(n_train=200, n_test=60, side=8, classes=3, seed=0):
    """Flat side x side images: each class a bright bar in its own rows, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n):
        t = rng.integers(0, classes, n)
        x = rng.uniform(0, 0.3, (n, side, side))
        for i, c in enumerate(t):
            x[i, 2 * c:2 * c + 2, 1:-1] += 0.7
        return x.reshape(n, -1).astype(np.float32), t
    return make(n_train), make(n_test)


def test_convnet_config_takes_the_books_settings():
    config = TrainConfig(model="convnet")
    assert (config.optimizer, config.lr, config.batch_size, config.hidden,
            config.weight_init_std, config.iters) == ("adam", 0.001, 100, (100,), 0.01, 10000)
    assert TrainConfig(model="deepconvnet").hidden == (50,)
    assert TrainConfig().optimizer == "sgd" and TrainConfig().hidden == (100,)   # the mlp
    assert TrainConfig(model="convnet", optimizer="momentum").lr == 0.1


@pytest.mark.parametrize("settings, iters", [
    (dict(epochs=3), 1800), (dict(epochs=2, train_size=250), 5),
    (dict(epochs=2, train_size=50), 2), (dict(epochs=1, batch_size=7, train_size=70), 10),
    (dict(epochs=3, iters=1800), 1800),
])
def test_epochs_give_the_iterations(settings, iters):
    config = TrainConfig(model="convnet", **settings)
    assert config.iters == iters and config.to_dict()["epochs"] == settings["epochs"]


@pytest.mark.parametrize("settings, field, message", [
    (dict(epochs=3, iters=100), "iters", "give one of them"),
    (dict(epochs=0), "epochs", "must be a positive integer"),
    (dict(api="autograd"), "api", "must be 'book' for model 'convnet'"),
    (dict(dataset="spiral"), "dataset", "takes images"),
    (dict(hidden=[10, 5]), "hidden", "one size"),
    (dict(iters=0), "iters", "needs resume"),
    (dict(checkpoint_every=5), "checkpoint_every", "no checkpoints"),
    (dict(model="deepconvnet", weight_init_std=0.1), "weight_init_std", "He"),
    (dict(model="resnet"), "model", "must be one of"),
])
def test_bad_convnet_settings_are_clear_errors(settings, field, message):
    settings = {"model": "convnet", **settings}
    with pytest.raises(ConfigError, match=message) as info:
        TrainConfig(**settings)
    assert info.value.field == field


def test_iters_0_with_resume_only_evaluates():
    assert TrainConfig(model="deepconvnet", iters=0, resume="p.safetensors").iters == 0
    with pytest.raises(ConfigError):
        TrainConfig(iters=0, resume="p.safetensors")       # the mlp: still positive


def test_image_shape_needs_square_images():
    assert image_shape(784) == (1, 28, 28)
    with pytest.raises(ValueError, match="square"):
        image_shape(12)


def test_backward_gives_the_networks_gradient_from_one_forward_pass():
    (x, t), _ = images(n_train=10)
    config = TrainConfig(model="convnet", dtype="float64", weight_init_std=0.3)
    face = ConvNetFace(config, 64, 3, np.random.default_rng(1))
    x = x.astype(np.float64)
    loss = face.loss(x, t)
    grads = {k: v.copy() for k, v in face.backward().items()}
    assert loss == pytest.approx(face.network.loss(x.reshape(-1, 1, 8, 8), t))
    expected = face.network.gradient(x.reshape(-1, 1, 8, 8), t)
    assert list(grads) == list(face.network.params)
    for key in expected:
        np.testing.assert_allclose(grads[key], expected[key], rtol=1e-12, atol=1e-15)


def test_a_convnet_learns_synthetic_images_in_a_few_epochs():
    data = images()
    config = TrainConfig(model="convnet", epochs=4, batch_size=20, lr=0.01, hidden=16,
                         weight_init_std="he")
    history = train(config, data)
    assert config.iters == 4 * 60000 // 20            # epochs of MNIST's 60000 images...
    assert history["iters"] == 40                       # ...become epochs of the 200 given
    assert history["eval_iters"] == [0, 10, 20, 30, 40]
    assert history["epochs"] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert history["config"]["model"] == "convnet" and history["config"]["train_size"] == 200
    assert history["test_acc"][-1] > 0.8 > history["test_acc"][0]
    assert set(history["param_dtypes"]) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    assert set(history["param_dtypes"].values()) == {"float32"}


def test_one_seed_gives_one_history():
    data = images(n_train=60, n_test=20)
    config = TrainConfig(model="deepconvnet", iters=4, batch_size=10, seed=3)
    np.random.seed(0)
    outside = np.random.get_state()
    first, second = train(config, data), train(config, data)
    first.pop("seconds"), second.pop("seconds")
    assert first == second
    assert np.array_equal(np.random.get_state()[1], outside[1])   # the global generator


def test_deepconvnet_evaluates_converted_book_weights(tmp_path):
    _, (x_test, t_test) = data = images()
    net = DeepConvNet(input_dim=(1, 8, 8), hidden_size=50, output_size=3, seed=7)
    src, dst = tmp_path / "deep_convnet_params.pkl", tmp_path / "params.safetensors"
    src.write_bytes(pickle.dumps({k: v.copy() for k, v in net.params.items()}))
    assert sorted(convert_pickle(src, dst)) == sorted(f"{w}{i}" for w in "Wb"
                                                      for i in range(1, 9))
    config = TrainConfig(model="deepconvnet", iters=0, resume=str(dst), dtype="float64")
    history = train(config, ((data[0][0].astype(np.float64), data[0][1]),
                             (x_test.astype(np.float64), t_test)))
    assert history["eval_iters"] == [0] and history["loss"] == []
    assert history["final"]["test_acc"] == net.accuracy(x_test.reshape(-1, 1, 8, 8)
                                                        .astype(np.float64), t_test)
    assert history["resumed_from"] == "params.safetensors"


def test_trained_parameters_are_saved_with_the_books_names(tmp_path):
    data = images(n_train=40, n_test=20)
    path = tmp_path / "convnet.safetensors"
    train(TrainConfig(model="convnet", iters=2, batch_size=10, save=str(path)), data)
    net = SimpleConvNet(input_dim=(1, 8, 8), output_size=3)
    net.load_params(path)
    with pytest.raises(ValueError, match="W3"):
        DeepConvNet(input_dim=(1, 8, 8), output_size=3).load_params(path)
