"""Gradient flow: the recorder (both faces, JSON + PNG) and the vanishing-gradient experiment."""
import json
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import is_mnist_cached
from chainrule.glassbox.flow import GradFlowRecorder, grad_arrays, vanishing
from chainrule.models import TwoLayerNet


def test_recorder_with_the_book_face(tmp_path):
    rng = np.random.default_rng(0)
    net = TwoLayerNet(4, 5, 3, seed=0)
    x, t = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    rec = GradFlowRecorder(["W1", "b1", "W2", "b2"])
    for it in range(3):
        grads = net.gradient(x, t)
        norms = rec.record(it, grads)
        for k in net.params:
            net.params[k] -= 0.5 * grads[k]
    assert len(rec) == 3 and rec.iterations == [0, 1, 2]
    assert norms["W2"] == pytest.approx(np.linalg.norm(grads["W2"]))
    assert rec.mean_abs["b1"][-1] == pytest.approx(np.abs(grads["b1"]).mean())
    paths = rec.save(tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["layers"] == ["W1", "b1", "W2", "b2"] and data["iterations"] == [0, 1, 2]
    assert data["norm"]["W2"][-1] == pytest.approx(norms["W2"])
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"
    assert "first ‖grad‖" in rec.summary() and "W2" in rec.summary()


def test_recorder_with_autograd_tensors_and_missing_grads(tmp_path):
    w = cr.tensor(np.array([[1.0, -2.0]]), requires_grad=True)
    unused = cr.tensor(np.ones(3), requires_grad=True)
    (w * 3).sum().backward()
    rec = GradFlowRecorder()
    rec.record(10, [("0.weight", w), ("1.bias", unused)])
    assert rec.layer_names == ["0.weight", "1.bias"]
    assert rec.norm["0.weight"] == [pytest.approx(math.sqrt(18))]
    assert math.isnan(rec.norm["1.bias"][0])
    data = json.loads(rec.save(tmp_path, prefix="flow", plot=False)["json"].read_text())
    assert data["norm"]["1.bias"] == [None]
    assert not (tmp_path / "flow.png").exists()
    with pytest.raises(KeyError, match="unknown layer"):
        rec.record(11, {"2.weight": np.ones(2)})


def test_grad_arrays_reads_modules():
    class Mod:
        def __init__(self):
            self.p = cr.tensor(np.ones(2), requires_grad=True)
            (self.p * 2).sum().backward()

        def named_parameters(self):
            return [("p", self.p)]

    np.testing.assert_allclose(grad_arrays(Mod())["p"], [2.0, 2.0])


def test_sigmoid_starves_the_layers_near_the_input():
    res = vanishing(depth=10, activation="sigmoid", data="toy", width=50)
    first, last = res.layers[0].mean_abs, res.layers[-1].mean_abs
    assert first / last < 1e-4  # orders of magnitude
    assert res.ratios[-1] == 1.0
    assert res.layers[0].shape == (50, 2) and len(res.layers) == 10
    # monotone enough: the deeper half gets more than the shallower half
    assert sum(lg.mean_abs for lg in res.layers[5:]) > 10 * sum(lg.mean_abs for lg in res.layers[:5])


def test_relu_with_he_init_keeps_the_gradient_alive():
    sig = vanishing(depth=10, activation="sigmoid", data="toy", width=50)
    relu = vanishing(depth=10, activation="relu", data="toy", width=50)
    assert relu.init == "he" and sig.init == "xavier"
    assert relu.ratios[0] > 1e-2
    assert relu.ratios[0] > 1000 * sig.ratios[0]


def test_gradients_match_the_functional_api():
    res = vanishing(depth=3, activation="tanh", data="toy", width=4, batch_size=6)
    assert len(res.layers) == 3 and res.batch_size == 6
    assert all(np.isfinite(lg.norm) and lg.norm > 0 for lg in res.layers)
    assert res.to_dict()["layers"][0]["ratio_to_last"] == pytest.approx(res.ratios[0])


@pytest.mark.skipif(not is_mnist_cached(), reason="MNIST is not in the local cache")
def test_mnist_batch():
    res = vanishing(depth=10, activation="sigmoid", data="mnist", download=False)
    assert res.data == "MNIST" and res.layers[0].shape == (100, 784)
    assert res.ratios[0] < 1e-4


def test_mnist_falls_back_to_the_toy_set(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path))  # an empty cache, no download
    res = vanishing(depth=3, data="mnist", download=False, width=8)
    assert res.data == "spiral (toy)" and "could not be loaded" in res.note


def test_text_report():
    text = str(vanishing(depth=4, activation="sigmoid", data="toy", width=10))
    assert "mean |∂L/∂W|" in text and "÷ last" in text and "█" in text
    assert "orders of magnitude less" in text


@pytest.mark.parametrize("kwargs, message", [
    (dict(activation="softplus"), "activation must be"),
    (dict(depth=1), "depth must be"),
    (dict(init="glorot"), "init must be"),
    (dict(data="cifar"), "data must be"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        vanishing(**{"data": "toy", **kwargs})
