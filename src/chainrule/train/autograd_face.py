"""The loop's stepper for the autograd face: an MLP of chainrule.nn layers, PyTorch's
default initialisation, CrossEntropyLoss, and a chainrule.optim optimizer."""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import nn
from chainrule.nn import optim
from chainrule.engine import as_tensor, no_grad
from chainrule.train.checkpoints import resume_from, save_checkpoint
from chainrule.train.config import OPTIMIZERS, TrainConfig

__all__ = ["AutogradFace", "build_mlp", "make_optimizer", "accuracy"]


def build_mlp(input_size: int, hidden: Any, classes: int,
              dtype: Any = np.float32) -> nn.Sequential:
    """Linear -> ReLU -> ... -> Linear, PyTorch's default initialisation."""
    layers: list[nn.Module] = []
    sizes = [input_size, *hidden]
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out, dtype=dtype), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], classes, dtype=dtype))
    return nn.Sequential(*layers)


def make_optimizer(name: str, params: Any, lr: float) -> optim.Optimizer:
    """The optimizer a config names; "momentum"/"nesterov" are SGD with momentum 0.9."""
    if name == "sgd":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "nesterov":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose from {list(OPTIMIZERS)}")


def accuracy(model: nn.Module, x: np.ndarray, t: np.ndarray, batch: int = 10000) -> float:
    """Fraction of rows whose largest logit is the label, in big batches without a graph."""
    was_training = model.training
    model.eval()
    correct = 0
    with no_grad():
        for i in range(0, len(x), batch):
            logits = model(as_tensor(x[i:i + batch])).numpy()
            correct += int((logits.argmax(axis=1) == t[i:i + batch]).sum())
    model.train(was_training)
    return correct / len(x)


class AutogradFace:
    """The MLP a config describes and its optimizer, driven by the loop: `loss(x, t)`,
    then `backward()` (loss.backward()), then `step()` (optimizer.step()).

    The initial weights come from chainrule's global generator seeded with config.seed
    (the minibatches from the loop's own generator), so a seed gives one run."""

    checkpoints = True      # it saves a resumable checkpoint during the run

    def __init__(self, config: TrainConfig, input_size: int, classes: int,
                 rng: np.random.Generator) -> None:
        from chainrule.random import manual_seed

        manual_seed(config.seed)                       # the initial weights
        self.model = build_mlp(input_size, config.hidden, classes, np.dtype(config.dtype))
        self.optimizer = make_optimizer(config.optimizer, self.model.parameters(), config.lr)
        self.loss_fn = nn.CrossEntropyLoss()
        self.params = list(self.model.parameters())
        self._loss: Any = None
        self._dtypes_checked = False

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        self._loss = self.loss_fn(self.model(as_tensor(x)), t)
        return float(self._loss.numpy())

    def backward(self):
        """The named parameters, holding this batch's gradients."""
        self.optimizer.zero_grad()
        self._loss.backward()
        return self.model.named_parameters()

    def step(self) -> None:
        if not self._dtypes_checked:       # the first step of a run (or of a resumed one)
            for p in self.params:
                if p.grad.dtype != p.dtype:
                    raise TypeError(f"a gradient is {p.grad.dtype} but its parameter is "
                                    f"{p.dtype}: something in backward upcast it")
            self._dtypes_checked = True
        self.optimizer.step()

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        return accuracy(self.model, x, t)

    def arrays(self) -> list[np.ndarray]:
        return [p.numpy() for p in self.params]

    def param_dtypes(self) -> dict[str, str]:
        return {name: str(p.dtype) for name, p in self.model.named_parameters()}

    def save(self, path: str, iteration: int, rng: np.random.Generator,
             history: dict[str, Any]) -> None:
        save_checkpoint(path, self.model, self.optimizer, iteration, rng, history)

    def resume(self, config: TrainConfig, rng: np.random.Generator,
               history: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Continue from config.resume: (iterations already done, the history so far)."""
        return resume_from(config, self.model, self.optimizer, rng, history)
