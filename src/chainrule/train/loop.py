"""The one training loop: minibatches, evaluations, nan guard and saves, with the face
(book or autograd) supplying the steps; `train(config)` returns the history."""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Callable

import numpy as np

from chainrule.train.autograd_face import AutogradFace
from chainrule.train.book_face import BookFace
from chainrule.train.config import CONVNETS, TRAIN_SIZES, TrainConfig
from chainrule.train.convnet_face import ConvNetFace
from chainrule.train.data import Data, check_data, load_data
from chainrule.train.guards import stop_if_not_finite, worst_value
from chainrule.train.history import finish_history, new_history
from chainrule.train.progress import Progress

__all__ = ["train", "train_book", "train_autograd", "make_evaluator", "FACES", "TRAINERS",
           "OnIter", "OnEval", "OnGrads"]

OnIter = Callable[[int, float], None]          # (iterations done, batch loss)
OnEval = Callable[[dict[str, float]], None]    # {"iter", "epoch", "train_acc", "test_acc"}
OnGrads = Callable[[int, Any], None]           # (iterations done, {name: grad} or named params)

# config.api -> the stepper that trains that face
FACES: dict[str, type] = {"book": BookFace, "autograd": AutogradFace}


def train(config: TrainConfig, data: Data | None = None, *, on_iter: OnIter | None = None,
          on_eval: OnEval | None = None, on_grads: OnGrads | None = None,
          progress: bool | None = None) -> dict[str, Any]:
    """Train the network `config` describes and return its history.

    The tutorial's loop for both faces: minibatches drawn with replacement from a
    generator seeded by config.seed, train/test accuracy on the full sets before
    training, after every epoch and at the end. Every entry of the history except
    "seconds" is a pure function of the config and data, so one seed gives one history.
    A loss that becomes nan or inf stops the run with NonFiniteLossError, and parameters
    of nan or inf are never saved (a checkpoint written earlier stays as it was).
    Progress (a bar in a terminal or notebook, a line per evaluation otherwise) shows
    unless `progress=False`, or when callbacks are given and `progress` is left None (the
    caller then reports progress itself, as `chainrule train` does).
    """
    data = data if data is not None else load_data(config)
    classes = check_data(data, np.dtype(config.dtype))
    if config.epochs is not None and len(data[0][0]) != (config.train_size
                                                         or TRAIN_SIZES[config.dataset]):
        # epochs count passes over the data at hand (given here, or cut to train_size)
        config = dataclasses.replace(config, train_size=len(data[0][0]), iters=None)
    if not (progress or (progress is None and on_iter is None and on_eval is None)):
        return _run(config, data, classes, on_iter, on_eval, on_grads)
    shown = Progress(config.iters)
    try:
        return _run(config, data, classes, _both(on_iter, shown.step),
                    _both(on_eval, shown.epoch), on_grads)
    finally:
        shown.close()


def _run(config: TrainConfig, data: Data, classes: int, on_iter: OnIter | None,
         on_eval: OnEval | None, on_grads: OnGrads | None) -> dict[str, Any]:
    """The loop itself, on checked data and a config whose iters are final."""
    (x_train, t_train), (x_test, t_test) = data
    rng = np.random.default_rng(config.seed)       # the minibatches (and the book's weights)
    face_type = ConvNetFace if config.model in CONVNETS else FACES[config.api]
    face = face_type(config, x_train.shape[1], classes, rng)

    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / config.batch_size, 1)
    history = new_history(config, x_train, x_test, classes, iter_per_epoch)
    start_iter = 0
    if config.resume is not None:
        start_iter, history = face.resume(config, rng, history)
    evaluate = make_evaluator(face.accuracy, history, (x_train, t_train, x_test, t_test),
                              on_eval)

    def save(done: int) -> None:        # never a model of nan or inf
        stop_if_not_finite(worst_value(face.arrays()), done, history, start,
                           what="a parameter")
        face.save(config.save, done, rng, history)

    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked: loss
        if start_iter == 0:
            evaluate(0)
        for i in range(start_iter, config.iters):
            done = i + 1
            batch_mask = rng.choice(train_size, config.batch_size)
            loss = face.loss(x_train[batch_mask], t_train[batch_mask])
            stop_if_not_finite(loss, done, history, start)
            grads = face.backward()
            if on_grads is not None:
                on_grads(done, grads)
            face.step()

            history["loss"].append(loss)
            if on_iter is not None:
                on_iter(done, loss)
            epoch_end = math.floor(done / iter_per_epoch) > math.floor(i / iter_per_epoch)
            if epoch_end:
                evaluate(done)
            if face.checkpoints and config.save is not None and (
                    done == config.iters or (epoch_end if config.checkpoint_every is None
                                             else done % config.checkpoint_every == 0)):
                save(done)
        if not history["eval_iters"] or history["eval_iters"][-1] != config.iters:
            evaluate(config.iters)
    finish_history(history, start)     # seconds of this session (after a resume)
    history["param_dtypes"] = face.param_dtypes()
    if not face.checkpoints and config.save is not None:
        save(config.iters)
    return history


def make_evaluator(accuracy: Callable[[np.ndarray, np.ndarray], float],
                   history: dict[str, Any], data: tuple, on_eval: OnEval | None
                   ) -> Callable[[int], None]:
    """`evaluate(done)`: train and test accuracy on the full sets, appended to the history
    and passed to on_eval."""
    x_train, t_train, x_test, t_test = data

    def evaluate(done: int) -> None:
        record = {"iter": done, "epoch": done / history["iter_per_epoch"],
                  "train_acc": accuracy(x_train, t_train),
                  "test_acc": accuracy(x_test, t_test)}
        for key, column in (("iter", "eval_iters"), ("epoch", "epochs"),
                            ("train_acc", "train_acc"), ("test_acc", "test_acc")):
            history[column].append(record[key])
        if on_eval is not None:
            on_eval(record)
    return evaluate


def _both(first: Callable | None, second: Callable) -> Callable:
    """A callback calling the caller's `first` (if any), then `second`."""
    if first is None:
        return second
    return lambda *args: (first(*args), second(*args))[-1]


def _on_face(config: TrainConfig, api: str) -> TrainConfig:
    """The config with `api` set (weight_init_std, a book-face option, dropped for autograd)."""
    if config.api == api:
        return config
    extra = {"weight_init_std": None} if api == "autograd" else {}
    return dataclasses.replace(config, api=api, **extra)


def train_book(config: TrainConfig, data: Data | None = None, **callbacks) -> dict[str, Any]:
    """`train` on the book face, whatever config.api says."""
    return train(_on_face(config, "book"), data, **callbacks)


def train_autograd(config: TrainConfig, data: Data | None = None,
                   **callbacks) -> dict[str, Any]:
    """`train` on the autograd face, whatever config.api says."""
    return train(_on_face(config, "autograd"), data, **callbacks)


# config.api -> the function that trains it (the name the former modules had)
TRAINERS: dict[str, Callable[..., dict[str, Any]]] = {"book": train_book,
                                                      "autograd": train_autograd}
