"""The book's chapter-6 experiments on tiny settings (synthetic MNIST-shaped data, never a
download): their numbers are sane, the book's result shows where it is robust even tiny, and
each writes a PNG, summary.txt and results.json."""
import json
import sys

import numpy as np
import pytest

from chainrule.train.experiments import (EXPERIMENTS, PlotUnavailableError, run_experiment,
                                         synthetic_mnist)
from chainrule.train.experiments.common import load_data

pytest.importorskip("matplotlib")

DATA = synthetic_mnist(300, 200, seed=0)


def assert_files(result, out, png):
    assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / png).stat().st_size > 5000
    assert (out / "summary.txt").read_text().strip() == result.summary
    saved = json.loads((out / "results.json").read_text())
    assert saved["experiment"] == result.name
    assert result.figure == out / png


def test_optimizers_adam_and_adagrad_end_below_sgd(tmp_path):
    r = run_experiment("optimizers", tmp_path, iters=40, data=DATA, hidden=(40,) * 4)
    assert_files(r, tmp_path, "optimizers.png")
    final, first = r.numbers["final_loss"], r.numbers["first_loss"]
    assert set(final) == {"SGD", "Momentum", "AdaGrad", "Adam"}
    for name in final:
        assert 0 <= final[name] < first[name] < 10
        assert len(r.numbers["losses"][name]) == 40
        assert 0 <= r.numbers["test_acc"][name] <= 1
    assert final["Adam"] < final["SGD"] and final["AdaGrad"] < final["SGD"]
    assert "Adam" in r.summary and f"{final['SGD']:.4f}" in r.summary


def test_weight_init_std_001_does_not_learn(tmp_path):
    r = run_experiment("weight-init", tmp_path, iters=40, data=DATA, hidden=(40,) * 4)
    assert_files(r, tmp_path, "weight_init.png")
    final = r.numbers["final_loss"]
    assert abs(final["std=0.01"] - np.log(10)) < 0.05   # stuck at chance
    assert final["He"] < final["std=0.01"] - 0.3
    assert "does not learn" in r.summary


def test_batchnorm_grid_of_16_scales(tmp_path):
    r = run_experiment("batchnorm", tmp_path, epochs=3, data=DATA, train_size=200,
                       hidden=(30,) * 5)
    assert_files(r, tmp_path, "batchnorm.png")
    n = r.numbers
    assert np.allclose(n["weight_scales"], np.logspace(0, -4, 16))
    assert len(n["curves"]) == 16 and all(len(c["plain"]) == 3 for c in n["curves"])
    for key in ("final_acc_batchnorm", "final_acc_plain", "mean_acc_batchnorm"):
        assert len(n[key]) == 16 and all(0 <= a <= 1 for a in n[key])
    # even this tiny, the small scales (1e-2 .. 1e-4) learn only with batch norm
    assert np.mean(n["mean_acc_batchnorm"][8:]) > np.mean(n["mean_acc_plain"][8:])
    assert f"at {n['batchnorm_faster']} of 16 scales" in r.summary


def test_overfitting_three_panels(tmp_path):
    r = run_experiment("overfitting", tmp_path, epochs=25, data=DATA, train_size=40,
                       hidden=(40,) * 6)
    assert_files(r, tmp_path, "overfitting.png")
    final = r.numbers["final"]
    assert set(final) == {"plain", "weight decay", "dropout"}
    for f in final.values():
        assert 0 <= f["test"] <= 1 and 0 <= f["train"] <= 1
        assert f["gap"] == pytest.approx(f["train"] - f["test"])
    assert final["plain"]["train"] > final["plain"]["test"]
    assert len(r.numbers["curves"]["dropout"]["test"]) == 25
    assert r.numbers["train_size"] == 40 and r.numbers["test_size"] == 200


def test_activation_histograms(tmp_path):
    r = run_experiment("activations", tmp_path, samples=200)
    assert_files(r, tmp_path, "activations.png")
    s = r.numbers["stats"]
    relu_small = [layer["mean"] for layer in s["relu, std=0.01"]]
    assert len(relu_small) == 5
    assert all(b < a / 5 for a, b in zip(relu_small, relu_small[1:]))  # collapse toward 0
    assert relu_small[-1] < 1e-4
    assert s["sigmoid, std=1"][-1]["saturated"] > 0.3               # piled at 0 and 1
    assert s["sigmoid, std=0.01"][-1]["std"] < 0.05                 # piled at 0.5
    assert s["sigmoid, Xavier"][-1]["std"] > 0.05
    he = [layer["std"] for layer in s["relu, He"]]
    assert max(he) / min(he) < 2                                    # alike in every layer
    assert "collapse toward 0" in r.summary


def test_no_out_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run_experiment("activations", samples=50)
    assert r.figure is None and r.files == [] and list(tmp_path.iterdir()) == []


def test_default_out_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run_experiment("activations", "default", samples=50)
    assert r.figure.resolve() == (tmp_path / "runs/experiment-activations/activations.png")


def test_bad_names_and_options():
    with pytest.raises(ValueError, match="unknown experiment 'adam'"):
        run_experiment("adam")
    with pytest.raises(ValueError, match="does not take iters"):
        run_experiment("batchnorm", iters=3)
    assert set(EXPERIMENTS) == {"optimizers", "weight-init", "batchnorm", "overfitting",
                                "activations"}


def test_missing_matplotlib_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(PlotUnavailableError, match=r"pip install 'chainrule\[plot\]'"):
        run_experiment("activations", tmp_path, samples=20)


def test_load_data_takes_one_hot_and_images():
    (x, t), (xt, tt) = synthetic_mnist(20, 10)
    onehot = np.eye(10)[t], np.eye(10)[tt]
    (x2, t2), (xt2, tt2) = load_data(((x.reshape(20, 1, 28, 28), onehot[0]),
                                      (xt.reshape(10, 1, 28, 28), onehot[1])), n_train=15)
    assert x2.shape == (15, 784) and np.array_equal(t2, t[:15]) and np.array_equal(tt2, tt)
    with pytest.raises(ValueError, match="data must be one of"):
        load_data("cifar")
