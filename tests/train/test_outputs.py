"""A run's paths, checked before any work, and the files written after it."""
import importlib.util
import json

import pytest

from chainrule.train import (AutogradConfig, TrainConfig, check_paths, default_out_dir,
                             grad_flow_recorder, train, write_outputs)

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def test_good_paths_pass_and_create_nothing(tmp_path):
    config = TrainConfig(save=str(tmp_path / "new" / "m.safetensors"))
    assert check_paths(config, tmp_path / "runs" / "a") is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make, expected", [
    (lambda tmp: (AutogradConfig(resume=str(tmp / "nope")), None),
     ("resume", "{tmp}/nope", "no such file")),
    (lambda tmp: (AutogradConfig(resume=str(tmp / "adir")), None),
     ("resume", "{tmp}/adir", "not a file")),
    (lambda tmp: (TrainConfig(), tmp / "afile"), ("out", "{tmp}/afile",
                                                  "exists and is not a directory")),
    (lambda tmp: (TrainConfig(save=str(tmp / "adir")), None), ("save", "{tmp}/adir",
                                                               "is a directory")),
    (lambda tmp: (TrainConfig(save=str(tmp / "afile" / "m")), None),
     ("save", "{tmp}/afile/m", "{tmp}/afile is not a directory")),
])
def test_each_problem_names_its_option_and_path(tmp_path, make, expected):
    (tmp_path / "afile").write_bytes(b"keep me")
    (tmp_path / "adir").mkdir()
    config, out = make(tmp_path)
    option, path, problem = expected
    assert check_paths(config, out) == (option, path.format(tmp=tmp_path),
                                        problem.format(tmp=tmp_path))


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    option, path, problem = check_paths(AutogradConfig(resume=str(bad)))
    assert option == "resume" and path is None and str(bad) in problem


def test_the_default_output_directory_is_new(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = default_out_dir()
    assert first.parent.name == "runs" and first.name.startswith("train-")
    first.mkdir(parents=True)
    assert default_out_dir() != first


def test_outputs_and_grad_flow_are_written(tmp_path, quick):
    flow, on_grads = grad_flow_recorder(iters=12)
    history = train(quick(iters=12), on_grads=on_grads)
    saved, notes = write_outputs(history, tmp_path / "run", flow)
    names = {path.name for path in saved}
    assert {"history.json", "grad_flow.json"} <= names
    assert ("curves.png" in names) == HAS_MATPLOTLIB
    assert json.loads((tmp_path / "run" / "history.json").read_text())["iters"] == 12
    assert notes and notes[-1] == flow.summary()
