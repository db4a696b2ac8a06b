"""TrainConfig: every training option, its choices, defaults and checks, in one place.

The library and `chainrule train` build the same object, so they agree on every default
(the learning rate follows the optimizer: 0.1 for SGD, 0.001 for Adam, as PyTorch) and
a bad value gets the same message from both. This module imports no NumPy, so the
command line can read the choices and defaults without loading the numerics.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import InitVar, dataclass
from numbers import Integral, Real
from typing import Any, Callable

__all__ = ["TrainConfig", "AutogradConfig", "ConfigError", "APIS", "DATASETS", "OPTIMIZERS",
           "DEFAULT_LR", "DTYPES", "WEIGHT_INITS", "NEEDS", "MODELS", "CONVNETS",
           "TRAIN_SIZES", "parse_hidden", "from_text"]

APIS = ("book", "autograd")             # which face trains: the book's networks, or nn + optim
DATASETS = ("mnist", "spiral", "blobs")
# what trains: an MLP (either face), or the book's chapter 7-8 convolutional networks
MODELS = ("mlp", "convnet", "deepconvnet")
CONVNETS = {"convnet": "SimpleConvNet", "deepconvnet": "DeepConvNet"}   # model -> the book's
# each set's training-set size, so that epochs give a number of iterations up front
TRAIN_SIZES = {"mnist": 60000, "spiral": 1000, "blobs": 1000}
DEFAULT_ITERS = 10000
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
# the learning rate an optimizer gets when none is given (PyTorch's own defaults, and the
# tutorial's 0.1 for plain SGD)
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.01,
              "rmsprop": 0.01, "adam": 0.001}
DTYPES = ("float32", "float64")
# the book's named initialisations (MultiLayerNet): he = sqrt(2/fan_in), xavier = sqrt(1/fan_in)
WEIGHT_INITS = ("he", "xavier", "relu", "sigmoid")
# what a numeric option must be, in words (the command line's messages use them too)
NEEDS = {"batch_size": "a positive integer", "iters": "a positive integer",
         "train_size": "a positive integer", "test_size": "a positive integer",
         "checkpoint_every": "a positive integer", "seed": "a non-negative integer",
         "epochs": "a positive integer",
         "lr": "a positive finite number"}
HIDDEN_NEEDS = "a positive integer, or a list of them for a deeper network"


class ConfigError(ValueError):
    """An option TrainConfig refuses. `field` names it; `problem` says why, and may name
    other options as ``{api}``: `explain(name)` spells them as the caller calls them
    (``api`` in Python, ``--api`` on the command line)."""

    def __init__(self, field: str, problem: str, owner: str = "TrainConfig") -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{owner}.{field} {self.explain()}")

    def explain(self, name: Callable[[str], str] = str) -> str:
        return self.problem.format_map(_Names(name))


class _Names(dict):
    def __init__(self, name: Callable[[str], str]) -> None:
        super().__init__()
        self.name = name

    def __missing__(self, key: str) -> str:
        return self.name(key)


def _shown(value: Any) -> str:
    """repr(value), safe inside a ConfigError problem (which is a format string)."""
    return repr(value).replace("{", "{{").replace("}", "}}")


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def parse_hidden(value: Any, owner: str = "TrainConfig") -> tuple[int, ...]:
    """The hidden layer sizes as a tuple of positive ints, from an int, a sequence of ints
    or the command line's text "256,128"; the one place they are checked."""
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",")]
        sizes = []
        for part in parts:
            if not part.isdigit():
                raise ConfigError("hidden", f"must be {HIDDEN_NEEDS}, got {_shown(part)}", owner)
            sizes.append(int(part))
    elif _is_int(value):
        sizes = [value]
    elif isinstance(value, (list, tuple)):
        sizes = list(value)
    else:
        raise ConfigError("hidden", f"must be {HIDDEN_NEEDS}, got {_shown(value)}", owner)
    if not sizes:
        raise ConfigError("hidden", "must name at least one hidden layer size", owner)
    for size in sizes:
        if not _is_int(size) or size < 1:
            raise ConfigError("hidden", f"must be {HIDDEN_NEEDS}, got {_shown(size)}", owner)
    return tuple(int(size) for size in sizes)


def from_text(field: str, text: str) -> Any:
    """A numeric option typed on the command line, as the number it names (its range is
    TrainConfig's to check); ConfigError when the text is not a number of that kind."""
    kind = float if field == "lr" else int
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(field, f"must be {NEEDS[field]}, got {_shown(text)}") from None


@dataclass
class TrainConfig:
    """What to train and how. The defaults are the tutorial's experiment (784-100-10,
    batch 100, SGD lr 0.1, 10000 iterations), run in float32.

    model: "mlp", or the book's "convnet" (SimpleConvNet: conv 30x5x5 - relu - pool -
    affine `hidden` - relu - affine) or "deepconvnet" (DeepConvNet, hidden 50), both on
    MNIST images with the book's optimizers (default Adam, lr 0.001 as the book's
    train_convnet.py); `resume` then loads their parameters from a safetensors file (e.g.
    the book's weights, converted by `chainrule convert`) and iters may be 0 to only
    evaluate them. epochs: when given, the run is that many passes over the training set
    and iters follows from it (iters None means 10000 otherwise).

    api: "book" trains the book's TwoLayerNet (MultiLayerNet for several hidden sizes)
    with the book's update, W -= lr * dW; "autograd" trains an MLP of chainrule.nn layers
    with a chainrule.optim optimizer. hidden: one size or several, kept as a tuple.
    lr: None means the optimizer's DEFAULT_LR. weight_init_std (book face only): a number
    or a WEIGHT_INITS name; None means the tutorial's 0.01 for one hidden layer and "he"
    for more. save: the trained parameters (book face, at the end) or a checkpoint with
    the optimizer state (autograd face, after every epoch or every `checkpoint_every`
    iterations, and at the end) that `resume` continues from, bit for bit.
    """
    api: str = "book"
    dataset: str = "mnist"
    hidden: Any = None                # None: 100 (50 for deepconvnet)
    optimizer: str | None = None      # None: sgd (adam for the convnets)
    lr: float | None = None
    batch_size: int = 100
    iters: int | None = None          # None: from epochs, else 10000
    seed: int = 0
    train_size: int | None = None     # None: the whole training set
    test_size: int | None = None      # None: the whole test set
    weight_init_std: float | str | None = None
    dtype: str = "float32"
    save: str | None = None
    checkpoint_every: int | None = None
    resume: str | None = None
    model: str = "mlp"
    epochs: int | None = None

    def __post_init__(self) -> None:
        owner = type(self).__name__

        def fail(field: str, problem: str) -> None:
            raise ConfigError(field, problem, owner)

        if self.model in CONVNETS and self.optimizer is None:
            self.optimizer = "adam"
        elif self.optimizer is None:
            self.optimizer = "sgd"
        for field, choices in (("api", APIS), ("dataset", DATASETS), ("model", MODELS),
                               ("optimizer", OPTIMIZERS), ("dtype", DTYPES)):
            if getattr(self, field) not in choices:
                fail(field, f"must be one of {_shown(list(choices))}, "
                            f"got {_shown(getattr(self, field))}")
        if self.hidden is None:
            self.hidden = 50 if self.model == "deepconvnet" else 100
        self.hidden = parse_hidden(self.hidden, owner)
        only_evaluate = (_is_int(self.iters) and self.iters == 0 and self.model in CONVNETS
                         and self.resume is not None)
        for field in ("batch_size", "iters", "seed", "train_size", "test_size",
                      "checkpoint_every", "epochs"):
            value = getattr(self, field)
            if value is None and field in ("train_size", "test_size", "checkpoint_every",
                                           "epochs", "iters"):
                continue
            if field == "iters" and only_evaluate:
                continue
            if not _is_int(value) or value < (0 if field == "seed" else 1):
                problem = f"must be {NEEDS[field]}, got {_shown(value)}"
                if field == "iters" and value == 0 and self.model in CONVNETS:
                    problem += " (0, to only evaluate, needs {resume})"
                fail(field, problem)
            setattr(self, field, int(value))
        if self.epochs is not None:
            size = self.train_size or TRAIN_SIZES[self.dataset]
            iters = self.epochs * size // self.batch_size + bool(
                self.epochs * size % self.batch_size) if size > self.batch_size else self.epochs
            if self.iters is not None and self.iters != iters:
                fail("iters", f"is {self.iters} but {{epochs}} {self.epochs} means {iters} "
                              f"iterations of batch {self.batch_size}: give one of them")
            self.iters = iters
        elif self.iters is None:
            self.iters = DEFAULT_ITERS
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer]
        elif not _is_number(self.lr) or self.lr <= 0:
            fail("lr", f"must be {NEEDS['lr']}, got {_shown(self.lr)}")
        self.lr = float(self.lr)
        for field in ("save", "resume"):
            value = getattr(self, field)
            if value is not None:
                if not isinstance(value, (str, os.PathLike)):
                    fail(field, f"must be a file path or None, got {_shown(value)}")
                setattr(self, field, os.fspath(value))
        std = self.weight_init_std
        if std is not None and std not in WEIGHT_INITS and not (_is_number(std) and std > 0):
            fail("weight_init_std", f"must be a positive finite number or one of "
                                    f"{_shown(list(WEIGHT_INITS))}, got {_shown(std)}")
        if self.model in CONVNETS:
            self._check_convnet(fail)
        elif self.api == "book":
            if self.optimizer != "sgd":
                fail("optimizer", f"{_shown(self.optimizer)} needs {{api}} 'autograd': the "
                                  f"book's networks update with plain SGD")
            for field in ("resume", "checkpoint_every"):
                if getattr(self, field) is not None:
                    fail(field, "needs {api} 'autograd': the book face saves its parameters "
                                "once, at the end, and keeps no checkpoints")
            if std is None:
                self.weight_init_std = 0.01 if len(self.hidden) == 1 else "he"
            elif _is_number(std):
                self.weight_init_std = float(std)
        elif std is not None:
            fail("weight_init_std", "is for {api} 'book': the autograd face initialises its "
                                    "layers as PyTorch does")

    def _check_convnet(self, fail: Callable[[str, str], None]) -> None:
        name = CONVNETS[self.model]
        if self.api != "book":
            fail("api", f"must be 'book' for {{model}} {self.model!r}: {name} is the book's "
                        f"network, with hand-written backward")
        if self.dataset != "mnist":
            fail("dataset", f"must be 'mnist' for {{model}} {self.model!r}: {name} takes "
                            f"images")
        if len(self.hidden) != 1:
            fail("hidden", f"{name} has one hidden (affine) layer: give one size, got "
                           f"{_shown(list(self.hidden))}")
        if self.checkpoint_every is not None:
            fail("checkpoint_every", "needs {api} 'autograd': the book face saves its "
                                     "parameters once, at the end, and keeps no checkpoints")
        std = self.weight_init_std
        if self.model == "deepconvnet" and std is not None:
            fail("weight_init_std", "is not used by DeepConvNet, which draws He-scaled "
                                    "weights")
        if self.model == "convnet":
            self.weight_init_std = 0.01 if std is None else (
                float(std) if _is_number(std) else std)

    @property
    def hidden_sizes(self) -> list[int]:
        return list(self.hidden)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON values, as history.json and checkpoints record it:
        one hidden size is written as a number, several as a list."""
        record = dataclasses.asdict(self)
        record["hidden"] = self.hidden[0] if len(self.hidden) == 1 else list(self.hidden)
        return record


@dataclass
class AutogradConfig(TrainConfig):
    """A TrainConfig for the autograd face (api="autograd" by default); `checkpoint` is
    the former name of `save`."""
    api: str = "autograd"
    checkpoint: InitVar[str | None] = None

    def __post_init__(self, checkpoint: str | None) -> None:
        if checkpoint is not None:
            if self.save is not None and os.fspath(self.save) != os.fspath(checkpoint):
                raise ConfigError("checkpoint", "is the former name of {save}: give one of "
                                                "them", type(self).__name__)
            self.save = checkpoint
        super().__post_init__()
