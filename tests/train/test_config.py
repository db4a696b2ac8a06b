"""TrainConfig: one set of options for both faces, its defaults and its checks."""
import dataclasses
import subprocess
import sys

import pytest

from chainrule.train import (APIS, DEFAULT_LR, FACES, OPTIMIZERS, AutogradConfig, ConfigError,
                             TrainConfig, parse_hidden)


def test_the_defaults_are_the_tutorials_experiment():
    config = TrainConfig()
    assert (config.api, config.dataset, config.hidden, config.optimizer, config.lr,
            config.batch_size, config.iters, config.weight_init_std, config.dtype) == \
        ("book", "mnist", (100,), "sgd", 0.1, 100, 10000, 0.01, "float32")


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_the_learning_rate_follows_the_optimizer_unless_given(optimizer):
    assert TrainConfig(api="autograd", optimizer=optimizer).lr == DEFAULT_LR[optimizer]
    assert TrainConfig(api="autograd", optimizer=optimizer, lr=0.5).lr == 0.5


def test_adam_defaults_to_pytorchs_learning_rate_on_every_path():
    assert DEFAULT_LR["sgd"] == 0.1 and DEFAULT_LR["adam"] == 0.001
    assert TrainConfig(api="autograd", optimizer="adam").lr == 0.001
    assert AutogradConfig(optimizer="adam").lr == 0.001          # was 0.1 before
    assert set(DEFAULT_LR) == set(OPTIMIZERS)


def test_every_api_has_a_face():
    assert set(FACES) == set(APIS)


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 0, "batch_size must be a positive integer"),
    ("iters", -5, "iters must be a positive integer"),
    ("hidden", 2.5, "hidden must be a positive integer"),
    ("lr", 0.0, "lr must be a positive finite number"),
    ("lr", float("nan"), "lr must be a positive finite number"),
    ("train_size", 0, "train_size must be a positive integer"),
    ("seed", -1, "seed must be a non-negative integer"),
    ("api", "keras", "api must be one of"),
    ("dataset", "cifar", "dataset must be one of"),
    ("dtype", "float16", r"dtype must be one of \['float32', 'float64'\]"),
    ("optimizer", "lbfgs", "optimizer must be one of"),
    ("checkpoint_every", 0, "checkpoint_every must be a positive integer"),
    ("weight_init_std", -0.1, "weight_init_std must be a positive finite number or one of"),
    ("save", 3, "save must be a file path"),
])
def test_bad_config_is_a_clear_error(field, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        TrainConfig(**{field: value})
    assert isinstance(info.value, ValueError) and info.value.field == field
    assert str(info.value).startswith(f"TrainConfig.{field} ")


def test_autograd_config_checks_and_names_itself():
    with pytest.raises(ValueError, match="optimizer"):
        AutogradConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="hidden"):
        AutogradConfig(hidden=[10, 0])
    with pytest.raises(ValueError, match="^AutogradConfig.lr "):
        AutogradConfig(lr=-1.0)
    assert AutogradConfig().api == "autograd"


@pytest.mark.parametrize("value, sizes", [
    (7, (7,)), ([7], (7,)), ((5, 4), (5, 4)), ([16, 8], (16, 8)), ("256,128", (256, 128)),
    ("64", (64,)), (" 32 , 16 ", (32, 16)),
])
def test_hidden_has_one_form_a_tuple_of_sizes(value, sizes):
    config = TrainConfig(api="autograd", hidden=value)
    assert config.hidden == sizes and config.hidden_sizes == list(sizes)
    assert parse_hidden(value) == sizes


@pytest.mark.parametrize("value, shown", [
    (0, "got 0"), ([10, 0], "got 0"), ("10,0", "got 0"), ("abc", "got 'abc'"),
    ("256,,128", "got ''"), ("-3", "got '-3'"), (True, "got True"), ([2.5], "got 2.5"),
    ({}, "got {}"),
])
def test_bad_hidden_sizes_are_one_clear_error(value, shown):
    with pytest.raises(ConfigError) as info:
        TrainConfig(hidden=value)
    assert info.value.field == "hidden"
    assert str(info.value) == f"TrainConfig.hidden must be a positive integer, or a list of " \
                              f"them for a deeper network, {shown}"


def test_no_hidden_size_at_all():
    with pytest.raises(ConfigError, match="hidden must name at least one hidden layer size"):
        TrainConfig(hidden=[])


def test_the_record_writes_one_hidden_size_as_a_number():
    assert TrainConfig().to_dict()["hidden"] == 100
    assert TrainConfig(hidden=[16, 8]).to_dict()["hidden"] == [16, 8]
    assert TrainConfig(hidden=[7]).to_dict()["hidden"] == 7


@pytest.mark.parametrize("field, value, problem", [
    ("optimizer", "adam", "'adam' needs {api} 'autograd'"),
    ("resume", "ck.safetensors", "needs {api} 'autograd'"),
    ("checkpoint_every", 5, "needs {api} 'autograd'"),
])
def test_the_book_face_refuses_what_only_the_autograd_face_does(field, value, problem):
    with pytest.raises(ConfigError) as info:
        TrainConfig(api="book", **{field: value})
    err = info.value
    assert err.field == field and err.problem.startswith(problem)
    assert str(err).startswith(f"TrainConfig.{field} " + problem.format(api="api"))
    assert err.explain(lambda name: "--" + name).startswith(problem.format(api="--api"))


def test_weight_init_std_is_the_book_faces_and_has_a_default_per_depth():
    assert TrainConfig(hidden=[16, 8]).weight_init_std == "he"   # the book's MultiLayerNet
    assert TrainConfig(weight_init_std="xavier").weight_init_std == "xavier"
    assert TrainConfig(api="autograd").weight_init_std is None
    with pytest.raises(ConfigError, match="weight_init_std is for api 'book'"):
        TrainConfig(api="autograd", weight_init_std=0.01)


def test_numbers_of_any_kind_are_stored_as_python_numbers():
    np = pytest.importorskip("numpy")
    config = TrainConfig(iters=np.int64(5), lr=np.float32(0.5), hidden=[np.int32(3)])
    assert type(config.iters) is int and type(config.lr) is float
    assert config.hidden == (3,) and type(config.hidden[0]) is int


def test_paths_are_kept_as_text(tmp_path):
    config = AutogradConfig(save=tmp_path / "ck.safetensors", resume=tmp_path / "old")
    assert config.save == str(tmp_path / "ck.safetensors") and config.resume == \
        str(tmp_path / "old")


def test_checkpoint_is_the_former_name_of_save():
    assert AutogradConfig(checkpoint="ck.safetensors").save == "ck.safetensors"
    with pytest.raises(ConfigError, match="checkpoint is the former name of save"):
        AutogradConfig(checkpoint="a", save="b")


def test_replace_checks_again():
    config = TrainConfig(api="autograd", optimizer="adam")
    assert dataclasses.replace(config, iters=5).iters == 5
    with pytest.raises(ConfigError, match="optimizer 'adam' needs api 'autograd'"):
        dataclasses.replace(config, api="book")


def test_reading_the_config_imports_no_numpy():
    code = ("import sys; from chainrule.train import TrainConfig; TrainConfig(); "
            "print('numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
