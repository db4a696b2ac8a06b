"""The book's `Trainer`: mini-batch training of a book network with one of its optimizers.

Each `train_step()` draws a random mini-batch (with replacement, as the book), takes
`network.gradient`, lets the optimizer update `network.params` in place, and records the
loss on that batch after the update in `train_loss_list`. At the first step of every epoch
it records `network.accuracy` on the training and test data (or on their first
`evaluate_sample_num_per_epoch` samples) in `train_acc_list` and `test_acc_list`, so a run of
`epochs` epochs records exactly `epochs` accuracies (also when the batch size does not
divide the training set, where the book's `iter % (size / batch) == 0` skipped epochs).
With `verbose=True` it prints as the book does:

    train loss:2.30...
    === epoch:1, train acc:0.11, test acc:0.1 ===
    ...
    =============== Final Test Accuracy ===============
    test acc:0.98

Optimizers are named as in the book, in any case: 'sgd', 'momentum', 'nesterov',
'adagrad', 'rmsprop', 'adam'; `optimizer_param` holds their arguments. An optimizer object
with an `update(params, grads)` method is accepted too.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from chainrule.book.optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

__all__ = ["Trainer", "OPTIMIZERS"]

OPTIMIZERS = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov,
              "adagrad": AdaGrad, "rmsprop": RMSprop, "adam": Adam}


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Trainer: {name} must be a positive int, got {value!r}")
    return int(value)


class Trainer:
    """Trains `network` (params, gradient, loss, accuracy) on (x_train, t_train), reporting
    accuracy on the training and test sets once per epoch.

    `seed`/`rng` make the mini-batch draws reproducible (the book used np.random).
    """

    def __init__(self, network, x_train, t_train, x_test, t_test,
                 epochs: int = 20, mini_batch_size: int = 100,
                 optimizer="SGD", optimizer_param={"lr": 0.01},
                 evaluate_sample_num_per_epoch: int | None = None, verbose: bool = True,
                 seed: int | None = None, rng: np.random.Generator | None = None):
        for name in ("params", "gradient", "loss", "accuracy"):
            if not hasattr(network, name):
                raise TypeError(f"Trainer: network must have params, gradient, loss and "
                                f"accuracy, as the book's networks do; "
                                f"{type(network).__name__} has no {name!r}")
        x_train, t_train = np.asarray(x_train), np.asarray(t_train)
        x_test, t_test = np.asarray(x_test), np.asarray(t_test)
        for split, x, t in (("train", x_train, t_train), ("test", x_test, t_test)):
            if x.ndim == 0 or t.ndim == 0 or len(x) != len(t) or len(x) == 0:
                raise ValueError(f"Trainer: x_{split} of shape {x.shape} and t_{split} of shape "
                                 f"{t.shape} must hold the same number (> 0) of samples")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"Trainer: epochs must be an int >= 0, got {epochs!r}")
        self.batch_size = _positive_int(mini_batch_size, "mini_batch_size")
        if evaluate_sample_num_per_epoch is not None:
            evaluate_sample_num_per_epoch = _positive_int(evaluate_sample_num_per_epoch,
                                                          "evaluate_sample_num_per_epoch")
        self.network, self.verbose = network, verbose
        self.x_train, self.t_train, self.x_test, self.t_test = x_train, t_train, x_test, t_test
        self.epochs = int(epochs)
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.optimizer = self._make_optimizer(optimizer, optimizer_param)
        self.rng = rng if rng is not None else np.random.default_rng(seed)

        self.train_size = x_train.shape[0]
        self._iter_per_epoch = max(Fraction(self.train_size, self.batch_size), Fraction(1))
        self.iter_per_epoch = float(self._iter_per_epoch)
        self.max_iter = int(self.epochs * self._iter_per_epoch)
        self.current_iter = 0
        self.current_epoch = 0

        self.train_loss_list: list[float] = []
        self.train_acc_list: list[float] = []
        self.test_acc_list: list[float] = []
        self.final_test_acc: float | None = None

    @staticmethod
    def _make_optimizer(optimizer, optimizer_param):
        if not isinstance(optimizer, str):
            if not callable(getattr(optimizer, "update", None)):
                raise TypeError(f"Trainer: optimizer must be a name ({', '.join(OPTIMIZERS)}) or "
                                f"an object with update(params, grads), got "
                                f"{type(optimizer).__name__}")
            return optimizer
        cls = OPTIMIZERS.get(optimizer.lower())
        if cls is None:
            raise ValueError(f"Trainer: unknown optimizer {optimizer!r}; choose one of "
                             f"{', '.join(OPTIMIZERS)} (any case)")
        params = dict(optimizer_param or {})
        try:
            return cls(**params)
        except TypeError as err:
            raise TypeError(f"Trainer: optimizer_param {params} does not fit {cls.__name__}: "
                            f"{err}") from None

    def train_step(self) -> float:
        """One mini-batch update; at the first step of an epoch, record both accuracies.
        Returns the batch's loss after the update."""
        batch_mask = self.rng.choice(self.train_size, self.batch_size)
        x_batch, t_batch = self.x_train[batch_mask], self.t_train[batch_mask]

        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)

        loss = float(self.network.loss(x_batch, t_batch))
        self.train_loss_list.append(loss)
        if self.verbose:
            print("train loss:" + str(loss))

        if self.current_iter >= self.current_epoch * self._iter_per_epoch:
            self.current_epoch += 1
            x_train, t_train, x_test, t_test = (self.x_train, self.t_train,
                                                self.x_test, self.t_test)
            n = self.evaluate_sample_num_per_epoch
            if n is not None:
                x_train, t_train, x_test, t_test = x_train[:n], t_train[:n], x_test[:n], t_test[:n]
            train_acc = float(self.network.accuracy(x_train, t_train))
            test_acc = float(self.network.accuracy(x_test, t_test))
            self.train_acc_list.append(train_acc)
            self.test_acc_list.append(test_acc)
            if self.verbose:
                print("=== epoch:" + str(self.current_epoch) + ", train acc:" + str(train_acc)
                      + ", test acc:" + str(test_acc) + " ===")
        self.current_iter += 1
        return loss

    def train(self) -> float:
        """Run the remaining steps up to `max_iter`, then measure accuracy on the whole test
        set (kept as `final_test_acc` and returned)."""
        while self.current_iter < self.max_iter:
            self.train_step()
        self.final_test_acc = float(self.network.accuracy(self.x_test, self.t_test))
        if self.verbose:
            print("=============== Final Test Accuracy ===============")
            print("test acc:" + str(self.final_test_acc))
        return self.final_test_acc
