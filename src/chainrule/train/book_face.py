"""The loop's stepper for the book face: TwoLayerNet (MultiLayerNet for several hidden
sizes) from chainrule.book.models, updated the book's way, W -= lr * dW, in place."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from chainrule.book.models import MultiLayerNet, TwoLayerNet
from chainrule.train.config import TrainConfig

__all__ = ["BookFace"]


class BookFace:
    """One network of the book and its update, driven by the loop: `loss(x, t)`, then
    `backward()` (the gradients, by the layers' hand-written backward), then `step()`.

    Everything stays in the config's dtype: a gradient of another dtype (a silent upcast
    somewhere in backward) is an error, not something the update quietly casts away."""

    checkpoints = False     # it saves its parameters once, at the end of the run

    def __init__(self, config: TrainConfig, input_size: int, classes: int,
                 rng: np.random.Generator) -> None:
        dtype = np.dtype(config.dtype)
        std = config.weight_init_std
        if len(config.hidden) == 1 and not isinstance(std, str):
            self.network: Any = TwoLayerNet(input_size=input_size, hidden_size=config.hidden[0],
                                            output_size=classes, weight_init_std=std,
                                            dtype=dtype, rng=rng)
        else:
            self.network = MultiLayerNet(input_size=input_size,
                                         hidden_size_list=list(config.hidden),
                                         output_size=classes, activation="relu",
                                         weight_init_std=std, dtype=dtype, rng=rng)
        self.lr = config.lr
        self.batch: tuple[np.ndarray, np.ndarray] | None = None
        self.grads: dict[str, np.ndarray] = {}

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        self.batch = (x, t)
        return float(self.network.loss(x, t))

    def backward(self) -> dict[str, np.ndarray]:
        """Every parameter's gradient on the last batch, by name (W1, b1, ...)."""
        self.grads = self.network.gradient(*self.batch)
        return self.grads

    def check_grad_dtypes(self) -> None:
        """A gradient in another dtype than its parameter is an error, not a silent cast."""
        for key, param in self.network.params.items():
            if self.grads[key].dtype != param.dtype:
                raise TypeError(f"gradient of {key} is {self.grads[key].dtype} but the "
                                f"parameter is {param.dtype}: something in backward upcast it")

    def step(self) -> None:
        self.check_grad_dtypes()
        for key, param in self.network.params.items():
            param -= self.lr * self.grads[key]      # in place: the layers hold these arrays

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        return self.network.accuracy(x, t)

    def arrays(self) -> list[np.ndarray]:
        return list(self.network.params.values())

    def param_dtypes(self) -> dict[str, str]:
        return {key: str(p.dtype) for key, p in self.network.params.items()}

    def save(self, path: str, iteration: int, rng: np.random.Generator,
             history: dict[str, Any]) -> None:
        """The trained parameters, as safetensors (W1, b1, ...)."""
        from chainrule.serialization import save
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save(dict(self.network.params), path)
