"""The autograd face's stepper: chainrule.nn + chainrule.optim in the shared loop."""
import numpy as np
import pytest

from chainrule.train import OPTIMIZERS, build_mlp, make_optimizer, train_autograd


def test_history_like_the_book_face_and_learning(autograd, toy):
    h = train_autograd(autograd(iters=60), toy)
    assert h["api"] == "autograd" and len(h["loss"]) == 60
    assert h["eval_iters"] == [0, 12, 24, 36, 48, 60]            # 240 / 20 = 12 per epoch
    assert h["epochs"][-1] == 5.0 and len(h["train_acc"]) == len(h["test_acc"]) == 6
    assert h["final"]["test_acc"] > 0.9 and h["loss"][-1] < h["loss"][0]
    assert set(h["param_dtypes"].values()) == {"float32"}
    assert list(h["param_dtypes"]) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                       "4.weight", "4.bias"]
    again = train_autograd(autograd(iters=60), toy)
    assert again["loss"] == h["loss"] and again["test_acc"] == h["test_acc"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains(name, autograd, toy):
    lr = {"adam": 1e-2, "rmsprop": 1e-2, "adagrad": 0.1}.get(name, 0.1)
    h = train_autograd(autograd(optimizer=name, lr=lr, iters=36), toy)
    assert h["final"]["test_acc"] > 0.8, name
    assert h["config"]["optimizer"] == name


def test_float64_config(autograd, toy):
    (xa, ta), (xb, tb) = toy
    h = train_autograd(autograd(dtype="float64", iters=12),
                       ((xa.astype(np.float64), ta), (xb.astype(np.float64), tb)))
    assert set(h["param_dtypes"].values()) == {"float64"}


def test_build_mlp_and_make_optimizer():
    model = build_mlp(5, (4, 3), 2)
    assert [tuple(p.shape) for p in model.parameters()] == [(4, 5), (4,), (3, 4), (3,), (2, 3),
                                                            (2,)]
    opt = make_optimizer("nesterov", model.parameters(), 0.1)
    assert type(opt).__name__ == "SGD" and opt.param_groups[0]["momentum"] == 0.9
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs", model.parameters(), 0.1)


def test_an_upcast_gradient_is_an_error(autograd, toy, monkeypatch):
    from chainrule.train import autograd_face

    backward = autograd_face.AutogradFace.backward

    def upcasting(self):
        named = backward(self)
        last = self.params[-1]
        last.grad = last.grad.astype(np.float64)
        return named

    monkeypatch.setattr(autograd_face.AutogradFace, "backward", upcasting)
    with pytest.raises(TypeError, match="a gradient is float64 but its parameter is float32"):
        train_autograd(autograd(iters=2), toy)
