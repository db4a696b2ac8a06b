"""The autograd-face training loop: history shape, float32, optimizers, and checkpoints
whose resumed run equals the uninterrupted one bit for bit."""
import json
import os
import struct
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, nn_training, serialization, training
from chainrule.nn_training import (OPTIMIZERS, AutogradConfig, load_checkpoint, train_autograd)
from chainrule.training import NonFiniteLossError


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


# ---- a loss that stops being finite; checkpoints that are damaged -----------------------

class NanAfter(nn.CrossEntropyLoss):
    """CrossEntropyLoss whose value turns nan once `calls` reaches `after`."""

    def __init__(self, after):
        super().__init__()
        self.after, self.calls = after, 0

    def forward(self, logits, target):
        self.calls += 1
        loss = super().forward(logits, target)
        return loss * float("nan") if self.calls > self.after else loss


def test_a_nan_loss_stops_at_that_iteration_and_keeps_the_last_checkpoint(tmp_path,
                                                                           monkeypatch):
    path = tmp_path / "ck.safetensors"
    monkeypatch.setattr(nn_training.nn, "CrossEntropyLoss", lambda: NanAfter(14))
    with pytest.raises(NonFiniteLossError) as info:
        train_autograd(config(iters=30, checkpoint=str(path), checkpoint_every=4), DATA)
    err = info.value
    assert str(err) == "loss became nan at iteration 15: try a smaller learning rate"
    assert len(err.history["loss"]) == 14 and err.history["stopped"]["iteration"] == 15
    ck = load_checkpoint(str(path))                 # the one from iteration 12, untouched
    assert ck["iteration"] == 12 and len(ck["history"]["loss"]) == 12
    assert all(np.isfinite(v.numpy()).all() for v in ck["model"].values())
    assert os.listdir(tmp_path) == ["ck.safetensors"]


def test_a_huge_learning_rate_ends_in_the_error_without_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteLossError, match="loss became nan at iteration"):
            train_autograd(config(lr=1e30), DATA)


def test_parameters_of_inf_never_overwrite_a_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    make = nn_training.make_optimizer

    def exploding(name, params, lr):            # the 8th step sends a weight to +inf
        opt = make(name, params, lr)
        step, steps = opt.step, []

        def step_then_blow_up():
            step()
            steps.append(1)
            if len(steps) == 8:
                opt.param_groups[0]["params"][0].numpy()[0, 0] = np.inf
        opt.step = step_then_blow_up
        return opt

    monkeypatch.setattr(nn_training, "make_optimizer", exploding)
    with pytest.raises(NonFiniteLossError, match="a parameter became inf at iteration 8:"):
        train_autograd(config(iters=30, checkpoint=str(path), checkpoint_every=4), DATA)
    assert load_checkpoint(str(path))["iteration"] == 4


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    train_autograd(config(iters=4, checkpoint=str(path)), DATA)
    before = path.read_bytes()

    def disk_full(f, arr):
        f.write(b"\0" * 8)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization, "_write_array", disk_full)
    with pytest.raises(OSError, match="No space left"):
        train_autograd(config(iters=8, checkpoint=str(path), resume=str(path)), DATA)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ck.safetensors"]


def rewrite_metadata(path, change) -> None:
    """Apply `change` to a checkpoint's metadata dict and write the file back."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    change(header["__metadata__"])
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "ck.safetensors"
    train_autograd(config(iters=12, checkpoint=str(path), optimizer="adam", lr=1e-2), DATA)
    return path


@pytest.mark.parametrize("field, value, message", [
    ("iteration", "twelve", "checkpoint field 'iteration' is not valid JSON"),
    ("iteration", "-3", "checkpoint field 'iteration' must be a non-negative integer"),
    ("iteration", "12.0", "checkpoint field 'iteration' must be a JSON integer, got float"),
    ("optimizer", "{'type': 'Adam'", "checkpoint field 'optimizer' is not valid JSON"),
    ("optimizer", "[]", "checkpoint field 'optimizer' must be a JSON object, got list"),
    ("optimizer", '{"type": "Adam", "param_groups": {}, "scalars": {}}',
     "checkpoint field 'optimizer.param_groups' must be a JSON array, got dict"),
    ("history", '"a string"', "checkpoint field 'history' must be a JSON object, got str"),
    ("history", '{"config": {}, "loss": {}}', "checkpoint field 'history.loss' must be a JSON "
                                              "array"),
    ("rng", '{"state": 1}', "checkpoint field 'rng' is not a random generator state"),
    ("global_rng", "[" * 100_000, "checkpoint field 'global_rng' is not valid JSON"),
    ("history", None, "checkpoint has no 'history' field"),
])
def test_damaged_checkpoint_metadata_names_the_file_and_the_field(checkpoint, field, value,
                                                                  message):
    def damage(meta):
        if value is None:
            del meta[field]
        else:
            meta[field] = value
    rewrite_metadata(checkpoint, damage)
    before = checkpoint.read_bytes()
    with pytest.raises(ValueError, match=f"^{checkpoint}: {message}"):
        train_autograd(config(iters=20, optimizer="adam", lr=1e-2, resume=str(checkpoint)),
                       DATA)
    assert checkpoint.read_bytes() == before


def test_a_corrupted_checkpoint_tensor_is_refused_by_name(checkpoint):
    raw = bytearray(checkpoint.read_bytes())
    raw[-3] ^= 0x10                     # inside the last tensor written
    checkpoint.write_bytes(bytes(raw))
    with pytest.raises(serialization.SafetensorsError,
                       match=rf"^load: {checkpoint}: tensor 'optimizer\.state\.5\.exp_avg_sq' "
                             r"does not match the SHA-256"):
        train_autograd(config(iters=20, optimizer="adam", lr=1e-2, resume=str(checkpoint)),
                       DATA)
    assert checkpoint.read_bytes() == bytes(raw)


def test_a_checkpoint_without_checksums_still_resumes(tmp_path, checkpoint):
    """Checkpoints written before the SHA-256 record existed."""
    straight = train_autograd(config(iters=20, optimizer="adam", lr=1e-2), DATA)
    rewrite_metadata(checkpoint, lambda meta: meta.pop(serialization.HASH_KEY))
    resumed = train_autograd(config(iters=20, optimizer="adam", lr=1e-2,
                                    resume=str(checkpoint)), DATA)
    assert resumed["loss"] == straight["loss"] and resumed["final"] == straight["final"]
