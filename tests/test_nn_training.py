"""The autograd-face training loop: history shape, float32, optimizers, and checkpoints
whose resumed run equals the uninterrupted one bit for bit."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import training
from chainrule.nn_training import (OPTIMIZERS, AutogradConfig, load_checkpoint, train_autograd)


def toy_data(n_train=240, n_test=90, d=12, classes=3):
    rng = np.random.default_rng(5)
    centers = rng.normal(size=(classes, d)) * 2
    t_train, t_test = rng.integers(0, classes, n_train), rng.integers(0, classes, n_test)
    x_train = (centers[t_train] + rng.normal(size=(n_train, d))).astype(np.float32)
    x_test = (centers[t_test] + rng.normal(size=(n_test, d))).astype(np.float32)
    return (x_train, t_train), (x_test, t_test)


DATA = toy_data()


def config(**kw):
    base = dict(hidden=[16, 8], batch_size=20, iters=30, lr=0.1, seed=3)
    return AutogradConfig(**{**base, **kw})


def test_history_like_the_book_face_and_learning():
    h = train_autograd(config(iters=60), DATA)
    assert h["api"] == "autograd" and len(h["loss"]) == 60
    assert h["eval_iters"] == [0, 12, 24, 36, 48, 60]            # 240 / 20 = 12 per epoch
    assert h["epochs"][-1] == 5.0 and len(h["train_acc"]) == len(h["test_acc"]) == 6
    assert h["final"]["test_acc"] > 0.9 and h["loss"][-1] < h["loss"][0]
    assert set(h["param_dtypes"].values()) == {"float32"}
    assert list(h["param_dtypes"]) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                       "4.weight", "4.bias"]
    again = train_autograd(config(iters=60), DATA)
    assert again["loss"] == h["loss"] and again["test_acc"] == h["test_acc"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains(name):
    lr = {"adam": 1e-2, "rmsprop": 1e-2, "adagrad": 0.1}.get(name, 0.1)
    h = train_autograd(config(optimizer=name, lr=lr, iters=36), DATA)
    assert h["final"]["test_acc"] > 0.8, name
    assert h["config"]["optimizer"] == name


@pytest.mark.parametrize("name", ["momentum", "adam", "rmsprop"])
def test_resume_equals_uninterrupted(tmp_path, name):
    lr = 1e-2 if name != "momentum" else 0.05
    whole = tmp_path / "whole.safetensors"
    part = tmp_path / "part.safetensors"
    straight = train_autograd(config(optimizer=name, lr=lr, checkpoint=str(whole)), DATA)
    first = train_autograd(config(optimizer=name, lr=lr, iters=17, checkpoint=str(part)), DATA)
    assert first["eval_iters"][-1] == 17        # the end of a run is always evaluated ...
    ck = load_checkpoint(str(part))
    assert ck["iteration"] == 17
    assert ck["history"]["eval_iters"] == [0, 12]   # ... but that extra evaluation is not saved
    resumed = train_autograd(config(optimizer=name, lr=lr, resume=str(part),
                                    checkpoint=str(part)), DATA)
    for key in ("loss", "eval_iters", "epochs", "train_acc", "test_acc", "final"):
        assert resumed[key] == straight[key], key
    a, b = cr.load(whole), cr.load(part)
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)
    assert any(k.startswith("optimizer.state.") for k in a) or name == "sgd"


def test_checkpoint_every_and_resume_checks(tmp_path):
    path = tmp_path / "ck.safetensors"
    train_autograd(config(iters=10, checkpoint=str(path), checkpoint_every=4), DATA)
    assert load_checkpoint(str(path))["iteration"] == 10
    before = path.read_bytes()
    with pytest.raises(ValueError, match="hidden"):
        train_autograd(config(hidden=[16, 9], resume=str(path)), DATA)
    with pytest.raises(ValueError, match="optimizer"):
        train_autograd(config(optimizer="adam", resume=str(path)), DATA)
    with pytest.raises(ValueError, match="beyond"):
        train_autograd(config(iters=5, resume=str(path)), DATA)
    assert path.read_bytes() == before
    done = train_autograd(config(iters=10, resume=str(path)), DATA)
    assert len(done["loss"]) == 10 and done["eval_iters"][-1] == 10
    cr.save({"w": np.ones(1)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a chainrule"):
        train_autograd(config(resume=str(tmp_path / "other.safetensors")), DATA)


def test_config_validation_and_dispatch():
    with pytest.raises(ValueError, match="optimizer"):
        AutogradConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="hidden"):
        AutogradConfig(hidden=[10, 0])
    with pytest.raises(ValueError, match="lr"):
        AutogradConfig(lr=-1.0)
    assert AutogradConfig(hidden=(5, 4)).hidden == [5, 4]
    assert AutogradConfig(hidden=7).hidden_sizes == [7]
    h = training.train(config(iters=12), DATA)
    assert h["api"] == "autograd" and len(h["loss"]) == 12


def test_float64_config():
    (xa, ta), (xb, tb) = DATA
    h = train_autograd(config(dtype="float64", iters=12),
                       ((xa.astype(np.float64), ta), (xb.astype(np.float64), tb)))
    assert set(h["param_dtypes"].values()) == {"float64"}
