"""A loss (or a parameter about to be saved) that stops being finite ends the run cleanly,
on either face, and keeps the run so far."""
import json
import os
import warnings

import numpy as np
import pytest

import chainrule.models
from chainrule import nn
from chainrule.train import NonFiniteLossError, load_checkpoint, save_history, train, \
    train_autograd


def test_a_nan_loss_stops_at_that_iteration_and_keeps_the_history(monkeypatch, tmp_path,
                                                                  quick):
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


def test_a_huge_learning_rate_ends_in_the_error_without_numpy_warnings(quick):
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


def test_a_model_of_infinities_is_not_saved(monkeypatch, tmp_path, quick):
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
                                                                           monkeypatch,
                                                                           autograd, toy):
    path = tmp_path / "ck.safetensors"
    monkeypatch.setattr(nn, "CrossEntropyLoss", lambda: NanAfter(14))
    with pytest.raises(NonFiniteLossError) as info:
        train_autograd(autograd(iters=30, save=str(path), checkpoint_every=4), toy)
    err = info.value
    assert str(err) == "loss became nan at iteration 15: try a smaller learning rate"
    assert len(err.history["loss"]) == 14 and err.history["stopped"]["iteration"] == 15
    ck = load_checkpoint(str(path))                 # the one from iteration 12, untouched
    assert ck["iteration"] == 12 and len(ck["history"]["loss"]) == 12
    assert all(np.isfinite(v.numpy()).all() for v in ck["model"].values())
    assert os.listdir(tmp_path) == ["ck.safetensors"]


def test_a_huge_learning_rate_ends_in_the_error_without_numpy_warnings_autograd(autograd,
                                                                                toy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NonFiniteLossError, match="loss became nan at iteration"):
            train_autograd(autograd(lr=1e30), toy)
