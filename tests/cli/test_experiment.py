"""`chainrule experiment NAME`: the summary on stdout, the files in --out (or
runs/experiment-NAME), exit 2 on bad usage, a clear message without matplotlib."""
import importlib.util
import json

import pytest

from chainrule.cli import main

pytest.importorskip("matplotlib")


def test_activations_writes_figure_and_summary(tmp_path, capsys):
    assert main(["experiment", "activations", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "relu with std 0.01: activations collapse toward 0" in out
    assert f"wrote {tmp_path / 'activations.png'}" in out
    assert (tmp_path / "activations.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "summary.txt").read_text().strip() in out


def test_optimizers_on_synthetic_data(tmp_path, capsys):
    assert main(["experiment", "optimizers", "--data", "synthetic", "--iters", "15",
                 "--train-size", "200", "--seed", "1", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "15 iterations" in captured.out and "Ranked:" in captured.out
    assert "SGD: final loss" in captured.err  # progress goes to stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["iters"] == 15 and data["train_size"] == 200
    assert data["final_loss"]["Adam"] < data["final_loss"]["SGD"]
    assert (tmp_path / "optimizers.png").read_bytes()[:4] == b"\x89PNG"


def test_default_out_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["experiment", "activations"]) == 0
    assert (tmp_path / "runs" / "experiment-activations" / "activations.png").is_file()


@pytest.mark.parametrize("argv, message", [
    (["batchnorm", "--iters", "3"], "batchnorm does not take --iters"),
    (["activations", "--epochs", "3"], "activations does not take --epochs"),
])
def test_options_an_experiment_does_not_take(capsys, argv, message):
    assert main(["experiment", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["adam"], ["optimizers", "--iters", "0"],
                                  ["optimizers", "--data", "cifar"], []])
def test_argparse_rejects(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(["experiment", *argv])
    assert info.value.code == 2


def test_missing_matplotlib(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["experiment", "activations"]) == 1
    assert "pip install 'chainrule[plot]'" in capsys.readouterr().err


def test_listed_in_help(capsys):
    with pytest.raises(SystemExit):
        main(["experiment", "--help"])
    out = capsys.readouterr().out
    for name in ("optimizers", "weight-init", "batchnorm", "overfitting", "activations"):
        assert name in out
