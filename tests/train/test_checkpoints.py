"""Autograd checkpoints: a resumed run equals the uninterrupted one bit for bit; a
checkpoint of another run, or a damaged one, is refused by name before anything changes."""
import json
import os
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule import serialization
from chainrule.train import NonFiniteLossError, load_checkpoint, train_autograd


@pytest.mark.parametrize("name", ["momentum", "adam", "rmsprop"])
def test_resume_equals_uninterrupted(tmp_path, name, autograd, toy):
    lr = 1e-2 if name != "momentum" else 0.05
    whole = tmp_path / "whole.safetensors"
    part = tmp_path / "part.safetensors"
    straight = train_autograd(autograd(optimizer=name, lr=lr, save=str(whole)), toy)
    first = train_autograd(autograd(optimizer=name, lr=lr, iters=17, save=str(part)), toy)
    assert first["eval_iters"][-1] == 17        # the end of a run is always evaluated ...
    ck = load_checkpoint(str(part))
    assert ck["iteration"] == 17
    assert ck["history"]["eval_iters"] == [0, 12]   # ... but that extra evaluation is not saved
    resumed = train_autograd(autograd(optimizer=name, lr=lr, resume=str(part),
                                      save=str(part)), toy)
    for key in ("loss", "eval_iters", "epochs", "train_acc", "test_acc", "final"):
        assert resumed[key] == straight[key], key
    a, b = cr.load(whole), cr.load(part)
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)
    assert any(k.startswith("optimizer.state.") for k in a) or name == "sgd"


def test_checkpoint_every_and_resume_checks(tmp_path, autograd, toy):
    path = tmp_path / "ck.safetensors"
    train_autograd(autograd(iters=10, save=str(path), checkpoint_every=4), toy)
    assert load_checkpoint(str(path))["iteration"] == 10
    before = path.read_bytes()
    with pytest.raises(ValueError, match="hidden"):
        train_autograd(autograd(hidden=[16, 9], resume=str(path)), toy)
    with pytest.raises(ValueError, match="optimizer"):
        train_autograd(autograd(optimizer="adam", resume=str(path)), toy)
    with pytest.raises(ValueError, match="beyond"):
        train_autograd(autograd(iters=5, resume=str(path)), toy)
    assert path.read_bytes() == before
    done = train_autograd(autograd(iters=10, resume=str(path)), toy)
    assert len(done["loss"]) == 10 and done["eval_iters"][-1] == 10
    cr.save({"w": np.ones(1)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a chainrule"):
        train_autograd(autograd(resume=str(tmp_path / "other.safetensors")), toy)


def test_parameters_of_inf_never_overwrite_a_checkpoint(tmp_path, monkeypatch, autograd, toy):
    from chainrule.train import autograd_face

    path = tmp_path / "ck.safetensors"
    make = autograd_face.make_optimizer

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

    monkeypatch.setattr(autograd_face, "make_optimizer", exploding)
    with pytest.raises(NonFiniteLossError, match="a parameter became inf at iteration 8:"):
        train_autograd(autograd(iters=30, save=str(path), checkpoint_every=4), toy)
    assert load_checkpoint(str(path))["iteration"] == 4


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch, autograd,
                                                          toy):
    path = tmp_path / "ck.safetensors"
    train_autograd(autograd(iters=4, save=str(path)), toy)
    before = path.read_bytes()

    def disk_full(f, arr):
        f.write(b"\0" * 8)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization, "_write_array", disk_full)
    with pytest.raises(OSError, match="No space left"):
        train_autograd(autograd(iters=8, save=str(path), resume=str(path)), toy)
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
def checkpoint(tmp_path, autograd, toy):
    path = tmp_path / "ck.safetensors"
    train_autograd(autograd(iters=12, save=str(path), optimizer="adam", lr=1e-2), toy)
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
                                                                  message, autograd, toy):
    def damage(meta):
        if value is None:
            del meta[field]
        else:
            meta[field] = value
    rewrite_metadata(checkpoint, damage)
    before = checkpoint.read_bytes()
    with pytest.raises(ValueError, match=f"^{checkpoint}: {message}"):
        train_autograd(autograd(iters=20, optimizer="adam", lr=1e-2, resume=str(checkpoint)),
                       toy)
    assert checkpoint.read_bytes() == before


def test_a_corrupted_checkpoint_tensor_is_refused_by_name(checkpoint, autograd, toy):
    raw = bytearray(checkpoint.read_bytes())
    raw[-3] ^= 0x10                     # inside the last tensor written
    checkpoint.write_bytes(bytes(raw))
    with pytest.raises(serialization.SafetensorsError,
                       match=rf"^load: {checkpoint}: tensor 'optimizer\.state\.5\.exp_avg_sq' "
                             r"does not match the SHA-256"):
        train_autograd(autograd(iters=20, optimizer="adam", lr=1e-2, resume=str(checkpoint)),
                       toy)
    assert checkpoint.read_bytes() == bytes(raw)


def test_a_checkpoint_without_checksums_still_resumes(checkpoint, autograd, toy):
    """Checkpoints written before the SHA-256 record existed."""
    straight = train_autograd(autograd(iters=20, optimizer="adam", lr=1e-2), toy)
    rewrite_metadata(checkpoint, lambda meta: meta.pop(serialization.HASH_KEY))
    resumed = train_autograd(autograd(iters=20, optimizer="adam", lr=1e-2,
                                      resume=str(checkpoint)), toy)
    assert resumed["loss"] == straight["loss"] and resumed["final"] == straight["final"]


def test_one_hidden_size_resumes_whether_recorded_as_a_number_or_a_list(tmp_path, autograd,
                                                                        toy):
    """Checkpoints of the former autograd config may record hidden=[16] for hidden=16."""
    path = tmp_path / "ck.safetensors"
    straight = train_autograd(autograd(hidden=16, iters=20), toy)
    train_autograd(autograd(hidden=16, iters=12, save=str(path)), toy)

    def as_list(meta):
        history = json.loads(meta["history"])
        assert history["config"]["hidden"] == 16
        history["config"]["hidden"] = [16]
        meta["history"] = json.dumps(history)
    rewrite_metadata(path, as_list)
    resumed = train_autograd(autograd(hidden=[16], iters=20, resume=str(path)), toy)
    assert resumed["loss"] == straight["loss"]
