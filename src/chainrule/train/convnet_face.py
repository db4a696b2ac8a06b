"""The loop's stepper for the book's convolutional networks (chapters 7-8): SimpleConvNet
or DeepConvNet from chainrule.book, updated by the book's optimizers (Adam by default, as
the book's train_convnet.py), on MNIST images reshaped from the loop's flat rows."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.book import optimizer as book_optimizer
from chainrule.book.deep_convnet import DeepConvNet
from chainrule.book.simple_convnet import SimpleConvNet
from chainrule.train.book_face import BookFace
from chainrule.train.config import CONVNETS, TrainConfig

__all__ = ["ConvNetFace", "BOOK_OPTIMIZERS", "image_shape"]

# config.optimizer -> the book's optimizer class of that name
BOOK_OPTIMIZERS = {"sgd": book_optimizer.SGD, "momentum": book_optimizer.Momentum,
                   "nesterov": book_optimizer.Nesterov, "adagrad": book_optimizer.AdaGrad,
                   "rmsprop": book_optimizer.RMSprop, "adam": book_optimizer.Adam}


def image_shape(input_size: int) -> tuple[int, int, int]:
    """(1, side, side) for flat rows of `input_size` square one-channel images."""
    side = math.isqrt(input_size)
    if side * side != input_size:
        raise ValueError(f"the convolutional networks take square one-channel images, but "
                         f"the inputs have {input_size} values (not a square)")
    return (1, side, side)


class ConvNetFace(BookFace):
    """One of the book's convnets and its optimizer, driven by the loop: `loss(x, t)` (a
    training-mode forward pass, dropout on for DeepConvNet), `backward()` (the layers'
    hand-written backward of that same pass), `step()` (optimizer.update); the rest as the
    book face's."""

    def __init__(self, config: TrainConfig, input_size: int, classes: int,
                 rng: np.random.Generator) -> None:
        self.input_dim = image_shape(input_size)
        dtype = np.dtype(config.dtype)
        if config.model == "deepconvnet":
            self.network: Any = DeepConvNet(input_dim=self.input_dim,
                                            hidden_size=config.hidden[0],
                                            output_size=classes, dtype=dtype, rng=rng)
        else:
            self.network = SimpleConvNet(input_dim=self.input_dim, hidden_size=config.hidden[0],
                                         output_size=classes,
                                         weight_init_std=config.weight_init_std,
                                         dtype=dtype, rng=rng)
        self.name = CONVNETS[config.model]
        self.optimizer = BOOK_OPTIMIZERS[config.optimizer](lr=config.lr)
        self.grads: dict[str, np.ndarray] = {}
        # the book's Dropout draws its masks from NumPy's global generator: the face keeps
        # that generator's state of its own, seeded by config.seed, and swaps it in for each
        # forward pass, so a seed gives one run and the caller's global state is untouched
        self._dropout_state = np.random.RandomState(config.seed).get_state()

    def _images(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), *self.input_dim)

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        outside = np.random.get_state()
        np.random.set_state(self._dropout_state)
        try:
            return float(self.network.loss(self._images(x), t, train_flg=True))
        finally:
            self._dropout_state = np.random.get_state()
            np.random.set_state(outside)

    def backward(self) -> dict[str, np.ndarray]:
        """Every parameter's gradient on the last batch, by name (W1, b1, ...): the
        backward half of the network's `gradient`, so the forward pass runs once."""
        net = self.network
        net._backward()
        self.grads = {key: getattr(layer, attr) for key, layer, attr in net._grad_sources}
        return self.grads

    def step(self) -> None:
        self.check_grad_dtypes()
        self.optimizer.update(self.network.params, self.grads)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        # the book's 100 at a time: larger batches were slower (500: 1.94 s per 20,000
        # images against 1.56 s), their arrays too large for the allocator to keep
        return self.network.accuracy(self._images(x), t, batch_size=100)

    def save(self, path: str, iteration: int, rng: np.random.Generator,
             history: dict[str, Any]) -> None:
        """The trained parameters, as safetensors with the book's names (W1, b1, ...)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.network.save_params(path)

    def resume(self, config: TrainConfig, rng: np.random.Generator,
               history: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Start from the parameters in config.resume (names, shapes checked; nothing
        changes on an error); the optimizer starts afresh. Returns (0, history)."""
        self.network.load_params(config.resume)
        history["resumed_from"] = Path(config.resume).name
        return 0, history
