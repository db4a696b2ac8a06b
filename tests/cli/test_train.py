"""`chainrule train`: outputs, progress display, and clear errors for bad options."""
from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import warnings

import pytest

from chainrule.cli import main
from chainrule.datasets import MnistUnavailableError, load_mnist

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
HAS_TQDM = importlib.util.find_spec("tqdm") is not None
QUICK = ["train", "--dataset", "spiral", "--iters", "30", "--train-size", "300",
         "--test-size", "100", "--lr", "1.0"]


@pytest.fixture(scope="module")
def mnist_available():
    try:
        load_mnist()
    except MnistUnavailableError as err:
        pytest.skip(f"real MNIST unavailable: {str(err).splitlines()[0]}")


class FakeTerminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_smoke_on_mnist_writes_history_and_plot(mnist_available, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--iters", "50", "--train-size", "500", "--test-size", "200",
                 "--out", str(out), "--quiet"])
    assert code == 0
    history = json.loads((out / "history.json").read_text())
    assert history["iters"] == 50 and len(history["loss"]) == 50
    assert history["data"] == {"name": "mnist", "train_size": 500, "test_size": 200,
                               "input_size": 784, "classes": 10}
    assert history["config"]["hidden"] == 100 and history["config"]["lr"] == 0.1
    assert (out / "curves.png").is_file() == HAS_MATPLOTLIB
    stdout = capsys.readouterr().out
    assert "final train accuracy" in stdout and "epoch " not in stdout   # quiet: summary only


def test_options_reach_the_config(tmp_path):
    out = tmp_path / "run"
    assert main(QUICK + ["--hidden", "7", "--batch-size", "20", "--seed", "5",
                         "--out", str(out), "--quiet"]) == 0
    config = json.loads((out / "history.json").read_text())["config"]
    assert (config["hidden"], config["batch_size"], config["seed"], config["lr"],
            config["iters"], config["dataset"]) == (7, 20, 5, 1.0, 30, "spiral")


HEADER = ("training TwoLayerNet (hidden 100) on the book face: spiral 300 train / 100 test, "
          "sgd lr 1, batch 100, 30 iterations (10 epochs), float32 -> {out}")


def test_same_seed_gives_identical_history_files(tmp_path):
    for name in ("a", "b"):
        assert main(QUICK + ["--seed", "11", "--out", str(tmp_path / name), "--quiet"]) == 0
    assert (tmp_path / "a" / "history.json").read_bytes() == \
        (tmp_path / "b" / "history.json").read_bytes()


def test_not_a_terminal_prints_epoch_lines_and_no_bar(tmp_path, capsys):
    assert main(QUICK + ["--out", str(tmp_path / "run")]) == 0
    stdout = capsys.readouterr().out
    assert stdout.splitlines()[0] == HEADER.format(out=tmp_path / "run")
    assert "epoch   0.00  iter      0  train acc" in stdout
    assert "\r" not in stdout and "it/s" not in stdout
    assert "final train accuracy" in stdout and "history.json" in stdout


@pytest.mark.skipif(not HAS_TQDM, reason="needs tqdm: pip install chainrule[progress]")
def test_terminal_gets_a_tqdm_bar(tmp_path, monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(QUICK + ["--out", str(tmp_path / "run")]) == 0
    text = terminal.getvalue()
    assert "30/30" in text and "loss=" in text and "train acc" in text


def test_terminal_without_tqdm_gets_a_text_bar(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)          # import tqdm -> ImportError
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(QUICK + ["--out", str(tmp_path / "run")]) == 0
    text = terminal.getvalue()
    assert "\r[" + "#" * 30 + "] 30/30  loss" in text
    assert "train acc" in text and "final train accuracy" in text


def test_quiet_terminal_shows_no_bar(tmp_path, monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(QUICK + ["--out", str(tmp_path / "run"), "--quiet"]) == 0
    text = terminal.getvalue()
    assert "\r" not in text and "epoch " not in text and "final train accuracy" in text


def test_without_matplotlib_the_plot_is_skipped_with_a_note(tmp_path, monkeypatch, capsys):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    out = tmp_path / "run"
    assert main(QUICK + ["--out", str(out), "--quiet"]) == 0
    assert (out / "history.json").is_file() and not (out / "curves.png").exists()
    assert "pip install chainrule[plot]" in capsys.readouterr().out


@pytest.mark.parametrize("option, value, message", [
    ("--batch-size", "0", "argument --batch-size: must be a positive integer, got 0"),
    ("--iters", "ten", "argument --iters: must be a positive integer, got 'ten'"),
    ("--lr", "-0.1", "argument --lr: must be a positive finite number, got -0.1"),
    ("--lr", "inf", "argument --lr: must be a positive finite number, got inf"),
    ("--hidden", "0", "argument --hidden: must be a positive integer"),
    ("--train-size", "-3", "argument --train-size: must be a positive integer"),
    ("--seed", "-1", "argument --seed: must be a non-negative integer"),
    ("--api", "torch", "argument --api: invalid choice: 'torch'"),
])
def test_bad_options_are_clear_errors(option, value, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", option, value])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_subset_larger_than_mnist_is_a_clear_error(mnist_available, tmp_path, capsys):
    code = main(["train", "--train-size", "70000", "--iters", "1", "--quiet",
                 "--out", str(tmp_path / "run")])
    assert code == 2
    assert "--train-size 70000 is larger than the 60000 train samples" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_unavailable_mnist_exits_1_with_the_loader_report(tmp_path, monkeypatch, capsys):
    def unavailable(**kwargs):
        raise MnistUnavailableError("MNIST could not be loaded. Tried, in order: ...")

    monkeypatch.setattr("chainrule.datasets.load_mnist", unavailable)
    assert main(["train", "--iters", "1", "--out", str(tmp_path / "run")]) == 1
    assert "MNIST could not be loaded" in capsys.readouterr().err


def test_importing_the_command_stays_light():
    code = "import sys, chainrule.cli.train; print('numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--hidden", "--lr", "--batch-size", "--iters", "--seed", "--out",
                   "--quiet", "--train-size", "--test-size", "--api", "--dataset"):
        assert option in text


# ---- nothing lost: paths checked before any work, a nan loss ends cleanly ---------------

@pytest.fixture
def no_data(monkeypatch):
    """Fails the test if the command loads MNIST; the list records attempts."""
    calls = []

    def load_mnist(**kwargs):
        calls.append(kwargs)
        raise AssertionError("the data was loaded before the paths were checked")

    monkeypatch.setattr("chainrule.datasets.load_mnist", load_mnist)
    return calls


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


def test_a_missing_resume_file_is_refused_before_any_work(tmp_path, capsys, no_data):
    missing = tmp_path / "nope.safetensors"
    code = main(["train", "--api", "autograd", "--resume", str(missing),
                 "--out", str(tmp_path / "run")])
    assert code == 2 and no_data == []
    assert one_error_line(capsys) == f"chainrule train: error: --resume {missing}: no such file"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("flag, target, message", [
    ("--out", "afile/run", "{tmp}/afile is not a directory"),
    ("--out", "afile", "exists and is not a directory"),
    ("--save", "afile/m.safetensors", "{tmp}/afile is not a directory"),
    ("--save", "adir", "is a directory"),
])
def test_unusable_out_or_save_is_refused_before_any_work(tmp_path, capsys, no_data, flag,
                                                         target, message):
    (tmp_path / "afile").write_bytes(b"keep me")
    (tmp_path / "adir").mkdir()
    path = tmp_path / target
    code = main(["train", flag, str(path)] + (["--out", str(tmp_path / "run")]
                                              if flag == "--save" else []))
    assert code == 2 and no_data == []
    assert one_error_line(capsys) == \
        f"chainrule train: error: {flag} {path}: {message.format(tmp=tmp_path)}"
    assert sorted(os.listdir(tmp_path)) == ["adir", "afile"]
    assert (tmp_path / "afile").read_bytes() == b"keep me"
    assert not any((tmp_path / "adir").iterdir())


def test_an_unwritable_out_directory_is_refused_before_any_work(tmp_path, capsys, no_data,
                                                                monkeypatch):
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", denied)   # the probe write fails
    out = tmp_path / "runs" / "a"
    assert main(["train", "--out", str(out)]) == 2 and no_data == []
    assert one_error_line(capsys) == \
        f"chainrule train: error: --out {out}: cannot write in {tmp_path} (Permission denied)"
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs file permissions that apply (not root)")
def test_a_read_only_directory_is_refused(tmp_path, capsys, no_data):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert main(["train", "--save", str(locked / "m.safetensors")]) == 2
    finally:
        locked.chmod(0o700)
    assert "cannot write in" in one_error_line(capsys) and no_data == []


def test_a_corrupted_resume_checkpoint_is_refused_before_any_work(tmp_path, capsys, no_data):
    ck = tmp_path / "ck.safetensors"
    assert main(QUICK + ["--api", "autograd", "--save", str(ck), "--out", str(tmp_path / "a"),
                         "--quiet"]) == 0
    capsys.readouterr()
    raw = bytearray(ck.read_bytes())
    raw[-2] ^= 0xFF
    ck.write_bytes(bytes(raw))
    code = main(["train", "--api", "autograd", "--resume", str(ck), "--save", str(ck),
                 "--out", str(tmp_path / "b")])
    assert code == 2 and no_data == []
    line = one_error_line(capsys)
    assert line.startswith(f"chainrule train: error: --resume: load: {ck}: tensor '")
    assert line.endswith("the file is corrupted (restore it from a copy or save it again)")
    assert ck.read_bytes() == bytes(raw) and not (tmp_path / "b").exists()


@pytest.mark.parametrize("api", ["book", "autograd"])
def test_a_nan_loss_stops_with_one_line_and_keeps_the_run_so_far(tmp_path, capsys, api):
    out, model = tmp_path / "run", tmp_path / "model.safetensors"
    model.write_bytes(b"an earlier model")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no NumPy RuntimeWarning on the way
        code = main(QUICK[:-1] + ["1e30", "--api", api, "--out", str(out),
                                  "--save", str(model), "--quiet"])
    assert code == 1
    captured = capsys.readouterr()
    history = json.loads((out / "history.json").read_text())
    stopped = history["stopped"]["iteration"]
    assert captured.err == f"chainrule train: error: loss became nan at iteration {stopped}: " \
                           f"try a smaller --lr\n"
    assert len(history["loss"]) == stopped - 1 and history["config"]["lr"] == 1e30
    assert f"saved the {stopped - 1} iteration" in captured.out
    assert model.read_bytes() == b"an earlier model"
    assert sorted(os.listdir(tmp_path)) == ["model.safetensors", "run"]


def test_an_inf_loss_is_named_as_such(tmp_path, capsys, monkeypatch):
    from chainrule import training

    def diverge(config, **kwargs):
        raise training.NonFiniteLossError(3, float("inf"))

    monkeypatch.setattr(training, "train", diverge)
    assert main(QUICK + ["--out", str(tmp_path / "run")]) == 1
    assert one_error_line(capsys) == \
        "chainrule train: error: loss became inf at iteration 3: try a smaller --lr"
    assert not (tmp_path / "run").exists()


def test_a_failed_save_is_one_line_and_leaves_the_old_file_alone(tmp_path, capsys,
                                                                  monkeypatch):
    from chainrule import serialization

    model = tmp_path / "model.safetensors"
    model.write_bytes(b"an earlier model")

    def disk_full(f, arr):
        f.write(b"\0" * 8)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(serialization, "_write_array", disk_full)
    assert main(QUICK + ["--save", str(model), "--out", str(tmp_path / "run"), "--quiet"]) == 1
    assert one_error_line(capsys) == \
        f"chainrule train: error: could not save {model} (No space left on device)"
    assert model.read_bytes() == b"an earlier model"
    assert sorted(os.listdir(tmp_path)) == ["model.safetensors"]     # no temporary file


# ---- one TrainConfig: the command and the library agree --------------------------------

def history_config(out) -> dict:
    return json.loads((out / "history.json").read_text())["config"]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_the_default_learning_rate_is_the_librarys(tmp_path, optimizer):
    from chainrule.train import TrainConfig

    out = tmp_path / "run"
    assert main(QUICK[:-2] + ["--api", "autograd", "--optimizer", optimizer, "--out", str(out),
                              "--quiet"]) == 0
    expected = TrainConfig(api="autograd", optimizer=optimizer).lr
    assert history_config(out)["lr"] == expected
    assert expected == {"sgd": 0.1, "adam": 0.001, "rmsprop": 0.01}[optimizer]


def test_every_default_is_the_librarys(tmp_path):
    from chainrule.train import TrainConfig

    out = tmp_path / "run"
    assert main(["train", "--dataset", "spiral", "--train-size", "300", "--test-size", "100",
                 "--iters", "3", "--out", str(out), "--quiet"]) == 0
    expected = TrainConfig(dataset="spiral", train_size=300, test_size=100, iters=3).to_dict()
    assert history_config(out) == expected


@pytest.mark.parametrize("text", ["0", "abc", "10,0", "256,,128", "-3", ""])
def test_a_bad_hidden_size_is_the_configs_one_error(text, capsys, no_data):
    from chainrule.train import ConfigError, TrainConfig

    with pytest.raises(ConfigError) as info:
        TrainConfig(hidden=text)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--hidden", text])
    assert exit_info.value.code == 2 and no_data == []
    err = capsys.readouterr().err
    assert err.endswith(f"chainrule train: error: argument --hidden: {info.value.problem}\n")
    assert "must be a positive integer" in err or "at least one" in err


def test_hidden_is_checked_once_and_reaches_the_model_as_given(tmp_path, monkeypatch):
    from chainrule.train import config as config_module

    calls = []
    parse = config_module.parse_hidden

    def counting(value, *args):
        calls.append(value)
        return parse(value, *args)

    monkeypatch.setattr(config_module, "parse_hidden", counting)
    out = tmp_path / "run"
    assert main(QUICK + ["--api", "autograd", "--hidden", "16,8", "--out", str(out),
                         "--quiet"]) == 0
    assert calls == ["16,8"]                     # the text, parsed and checked once
    history = json.loads((out / "history.json").read_text())
    assert history["config"]["hidden"] == [16, 8]
    assert list(history["param_dtypes"]) == ["0.weight", "0.bias", "2.weight", "2.bias",
                                             "4.weight", "4.bias"]


def test_the_book_face_takes_several_hidden_sizes(tmp_path):
    out = tmp_path / "run"
    assert main(QUICK + ["--hidden", "16,8", "--out", str(out), "--quiet"]) == 0
    history = json.loads((out / "history.json").read_text())
    assert history["api"] == "book" and history["config"]["hidden"] == [16, 8]
    assert list(history["param_dtypes"]) == ["W1", "b1", "W2", "b2", "W3", "b3"]


@pytest.mark.parametrize("args, message", [
    (["--optimizer", "adam"], "argument --optimizer: 'adam' needs --api 'autograd': the book's "
                              "networks update with plain SGD"),
    (["--resume", "ck.safetensors"], "argument --resume: needs --api 'autograd'"),
])
def test_autograd_only_options_on_the_book_face_are_clear_errors(args, message, capsys,
                                                                  no_data):
    with pytest.raises(SystemExit) as info:
        main(["train"] + args)
    assert info.value.code == 2 and no_data == []
    assert f"chainrule train: error: {message}" in capsys.readouterr().err


# ---- the book's convnets: --model, --epochs, --resume of converted weights ---------------

def test_convnet_on_an_mnist_subset_by_epochs(mnist_available, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--model", "convnet", "--epochs", "1", "--train-size", "200",
                 "--test-size", "100", "--out", str(out), "--save", str(out / "p.safetensors")])
    assert code == 0
    history = json.loads((out / "history.json").read_text())
    assert history["iters"] == 2 and history["eval_iters"] == [0, 2]
    assert (history["config"]["model"], history["config"]["optimizer"],
            history["config"]["lr"], history["config"]["epochs"]) == ("convnet", "adam",
                                                                      0.001, 1)
    assert json.loads((out / "summary.json").read_text())["test_acc"] == \
        history["final"]["test_acc"]
    assert (out / "curves.png").is_file() == HAS_MATPLOTLIB
    assert "epoch   1.00" in capsys.readouterr().out


def test_deepconvnet_reports_the_accuracy_of_converted_weights(mnist_available, tmp_path,
                                                               capsys):
    import pickle

    from chainrule.book.deep_convnet import DeepConvNet
    net = DeepConvNet(seed=0)
    pkl, weights = tmp_path / "deep_convnet_params.pkl", tmp_path / "params.safetensors"
    pkl.write_bytes(pickle.dumps({k: v.copy() for k, v in net.params.items()}))
    assert main(["convert", str(pkl), str(weights)]) == 0
    out = tmp_path / "eval"
    assert main(["train", "--model", "deepconvnet", "--resume", str(weights), "--iters", "0",
                 "--train-size", "100", "--test-size", "100", "--out", str(out),
                 "--quiet"]) == 0
    history = json.loads((out / "history.json").read_text())
    (_, _), (x_test, t_test) = load_mnist(flatten=False)
    net32 = DeepConvNet(dtype="float32")            # the run's dtype, the converted weights
    net32.load_params(weights)
    expected = net32.accuracy(x_test[:100].astype("float32"), t_test[:100])
    assert history["loss"] == [] and history["final"]["test_acc"] == expected
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--model", "convnet", "--iters", "0"], "needs --resume"),
    (["--model", "convnet", "--epochs", "2", "--iters", "7"], "give one of them"),
    (["--model", "convnet", "--dataset", "spiral"], "takes images"),
    (["--epochs", "0"], "--epochs"),
])
def test_bad_convnet_options_exit_2(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["train", *args, "--out", str(tmp_path / "run")])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_resume_file_that_is_not_safetensors_exits_2(tmp_path, capsys):
    bad = tmp_path / "params.pkl"
    bad.write_bytes(b"\x80\x04not safetensors")
    code = main(["train", "--model", "deepconvnet", "--resume", str(bad), "--iters", "0",
                 "--out", str(tmp_path / "run")])
    assert code == 2 and "--resume" in capsys.readouterr().err
