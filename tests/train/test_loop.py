"""The one training loop: it learns, it is deterministic, it evaluates on schedule, and
it runs either face."""
import numpy as np
import pytest

from chainrule.train import (TRAINERS, TrainConfig, load_data, save_history, train,
                             train_autograd, train_book)


def test_mnist_subset_accuracy_rises_far_above_chance(mnist_subset):
    history = train(TrainConfig(iters=500, train_size=2000, test_size=1000), data=mnist_subset)
    assert history["test_acc"][0] < 0.2                       # chance before training
    assert history["final"]["test_acc"] > 0.8
    assert history["final"]["train_acc"] > 0.85
    assert history["loss"][-1] < history["loss"][0] / 3


def test_spiral_needs_and_gets_the_hidden_layer(quick):
    history = train(quick(iters=1000))
    assert history["test_acc"][0] < 0.5                       # 3 classes: chance is 1/3
    assert history["final"]["test_acc"] > 0.9                 # not linearly separable


def test_same_seed_same_history_json_and_another_seed_differs(tmp_path, quick):
    paths = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        paths.append(save_history(train(quick(seed=seed)), tmp_path / name))
    a, b, c = (path.read_bytes() for path in paths)
    assert a == b
    assert a != c


def test_float32_end_to_end(quick):
    data = load_data(quick())
    (x_train, _), (x_test, _) = data
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    history = train(quick(iters=20), data=data)
    assert set(history["param_dtypes"].values()) == {"float32"}
    assert all(isinstance(value, float) for value in history["loss"])


def test_float64_can_be_asked_for(quick):
    history = train(quick(iters=5, dtype="float64"))
    assert set(history["param_dtypes"].values()) == {"float64"}


def test_evaluations_at_start_every_epoch_and_end(quick):
    # 300 samples / batch 100 -> 3 iterations per epoch; 10 iterations end mid-epoch
    history = train(quick(iters=10, batch_size=100))
    assert history["iter_per_epoch"] == 3
    assert history["eval_iters"] == [0, 3, 6, 9, 10]
    np.testing.assert_allclose(history["epochs"], [0, 1, 2, 3, 10 / 3])
    assert len(history["loss"]) == 10
    assert len(history["train_acc"]) == len(history["test_acc"]) == 5
    assert history["final"]["test_acc"] == history["test_acc"][-1]


def test_iter_per_epoch_is_at_least_one(quick):
    history = train(quick(iters=3, batch_size=500))       # batch larger than the set
    assert history["iter_per_epoch"] == 1
    assert history["eval_iters"] == [0, 1, 2, 3]


@pytest.mark.parametrize("api", ["book", "autograd"])
def test_callbacks_see_every_iteration_and_evaluation(quick, api):
    config = quick(iters=7) if api == "book" else \
        TrainConfig(api="autograd", dataset="spiral", iters=7, train_size=300, test_size=150)
    seen_iters, seen_evals, seen_grads = [], [], []
    history = train(config, on_iter=lambda n, loss: seen_iters.append((n, loss)),
                    on_eval=seen_evals.append, on_grads=lambda n, _: seen_grads.append(n))
    assert [n for n, _ in seen_iters] == list(range(1, 8)) == seen_grads
    assert [loss for _, loss in seen_iters] == history["loss"]
    assert [record["iter"] for record in seen_evals] == history["eval_iters"]


def test_the_config_chooses_the_face(autograd, toy):
    h = train(autograd(iters=12), toy)
    assert h["api"] == "autograd" and len(h["loss"]) == 12
    assert list(h["param_dtypes"])[0] == "0.weight"               # chainrule.nn names
    assert TRAINERS["autograd"](autograd(iters=12), toy)["loss"] == h["loss"]


def test_train_book_and_train_autograd_choose_their_face_whatever_the_config_says(quick):
    book = quick(iters=5)
    h = train_autograd(book)
    assert h["api"] == "autograd" and h["config"]["weight_init_std"] is None
    assert list(h["param_dtypes"]) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    back = train_book(TrainConfig(api="autograd", dataset="spiral", iters=5, train_size=300,
                                  test_size=150))
    assert back["api"] == "book" and list(back["param_dtypes"]) == ["W1", "b1", "W2", "b2"]
    assert TRAINERS["book"](book)["loss"] == train(book)["loss"]


def test_train_book_refuses_what_the_book_face_cannot_do():
    with pytest.raises(ValueError, match="optimizer 'adam' needs api 'autograd'"):
        train_book(TrainConfig(api="autograd", optimizer="adam", dataset="spiral", iters=1))


def test_the_history_records_the_config(quick):
    config = quick(iters=4, seed=2)
    history = train(config)
    assert history["config"] == config.to_dict()
    assert history["data"] == {"name": "spiral", "train_size": 300, "test_size": 150,
                               "input_size": 2, "classes": 3}


def test_training_from_python_shows_progress_unless_told_not_to(quick, capsys):
    """Called from Python (a script or a notebook) the loop reports each evaluation; with
    progress=False, or with callbacks of the caller's own, it prints nothing."""
    history = train(quick(iters=60, train_size=300))   # 300 / 100 = 3 iterations an epoch
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(history["eval_iters"]) == 21
    assert lines[0].split() == ["epoch", "0.00", "iter", "0", "train", "acc",
                                f"{history['train_acc'][0]:.4f}", "test", "acc",
                                f"{history['test_acc'][0]:.4f}"]
    assert lines[-1].split()[3] == "60"
    train(quick(iters=60, train_size=300), progress=False)
    seen = []
    train(quick(iters=6, train_size=300), on_eval=seen.append)
    assert capsys.readouterr().out == "" and len(seen) == 3
    train(quick(iters=6, train_size=300), on_eval=seen.append, progress=True)
    assert len(capsys.readouterr().out.splitlines()) == 3 and len(seen) == 6
