"""The book's optimizers (its chapter 6): `update(params, grads)` on dicts of NumPy arrays.

Each `update` changes every `params[key]` array IN PLACE (`-=`, `+=`), so the layers that
hold the same arrays see the new values: the tutorials' `params[key] = params[key] - ...`
rebinds the dict entry and the network silently stops learning. The formulas are the
book's, term for term (its 1e-7 guards included):

    SGD       W -= lr * g
    Momentum  v = momentum * v - lr * g;  W += v
    Nesterov  W += momentum**2 * v;  W -= (1 + momentum) * lr * g;  v = momentum * v - lr * g
              (Bengio et al.'s form: the same steps as PyTorch's SGD(nesterov=True))
    AdaGrad   h += g * g;  W -= lr * g / (sqrt(h) + 1e-7)
    RMSprop   h = decay_rate * h + (1 - decay_rate) * g * g;  W -= lr * g / (sqrt(h) + 1e-7)
    Adam      t += 1;  lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
              m += (1 - beta1) * (g - m);  v += (1 - beta2) * (g**2 - v)
              W -= lr_t * m / (sqrt(v) + 1e-7)
              (PyTorch's Adam adds its eps to sqrt(v / (1 - beta2**t)) instead, so the two
              differ slightly while v is tiny)

The state (v, h, m) is one zero array per key, made at a key's first update, in the
parameter's dtype. A plain number as a parameter (the book's chapter 6 optimises f(x, y)
with float x and y) is updated too, by rebinding its entry. Before changing anything,
`update` checks every key: a float ndarray (or a number), a gradient of its shape; a bad entry raises a ValueError or TypeError naming the
optimizer and the key, and leaves all the parameters as they were.
"""
from __future__ import annotations

import numpy as np

from chainrule.numerics import elementwise

# `np` too: the book's optimizer_compare_mnist.py uses np after `from common.optimizer import *`
__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "np"]


def _is_number(p) -> bool:
    """A plain real number (the book's chapter 6 optimises f(x, y) with float x and y)."""
    return isinstance(p, (int, float, np.integer, np.floating)) and not isinstance(p, bool)


class _BookOptimizer:
    """Checks the dicts, keeps one state array per key, and applies `_step` key by key."""

    state_names: tuple[str, ...] = ()

    def update(self, params: dict, grads: dict) -> None:
        """One step: every params[key] array changes in place by the optimizer's formula."""
        name = type(self).__name__
        numbers = {key for key, p in params.items() if _is_number(p)}
        for key in params:
            p = np.asarray(params[key], dtype=float) if key in numbers else params[key]
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(f"{name}.update: params[{key!r}] is a "
                                f"{type(p).__name__} {getattr(p, 'dtype', '')}; it must be a "
                                f"float ndarray, which update changes in place")
            if key not in grads:
                raise ValueError(f"{name}.update: grads has no entry {key!r} for the "
                                 f"parameter of that name (grads has {sorted(map(str, grads))})")
            if np.shape(grads[key]) != p.shape:
                raise ValueError(f"{name}.update: grads[{key!r}] has shape "
                                 f"{np.shape(grads[key])} but params[{key!r}] has shape "
                                 f"{p.shape}")
        self._begin_step()
        for key in params:
            p = np.array(params[key], dtype=float) if key in numbers else params[key]
            state = [self._state(s, key, p) for s in self.state_names]
            # in flat parts on idle cores when large (numerics.elementwise): the same bits
            elementwise(self._step, [p, np.asarray(grads[key]), *state], passes=6)
            if key in numbers:  # a plain number cannot change in place: the entry is rebound
                params[key] = float(p)

    def _state(self, which: str, key, p: np.ndarray) -> np.ndarray:
        store = getattr(self, which)
        if store is None:
            store = {}
            setattr(self, which, store)
        if key not in store:
            store[key] = np.zeros_like(p)
        return store[key]

    def _begin_step(self) -> None:
        """Once per update, before any key (Adam counts its steps here)."""

    def _step(self, p: np.ndarray, g: np.ndarray, *state: np.ndarray) -> None:
        raise NotImplementedError


class SGD(_BookOptimizer):
    """Stochastic gradient descent: W -= lr * g."""

    def __init__(self, lr: float = 0.01):
        self.lr = lr

    def _step(self, p, g):
        p -= self.lr * g


class Momentum(_BookOptimizer):
    """v = momentum * v - lr * g; W += v (v starts at zero: the first step is plain SGD)."""

    state_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        self.lr, self.momentum = lr, momentum
        self.v = None

    def _step(self, p, g, v):
        v *= self.momentum
        v -= self.lr * g
        p += v


class Nesterov(_BookOptimizer):
    """Nesterov's accelerated gradient in the book's form (Bengio et al., arXiv:1212.0901):
    W += momentum**2 * v; W -= (1 + momentum) * lr * g; v = momentum * v - lr * g."""

    state_names = ("v",)

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        self.lr, self.momentum = lr, momentum
        self.v = None

    def _step(self, p, g, v):
        p += self.momentum * self.momentum * v
        p -= (1 + self.momentum) * self.lr * g
        v *= self.momentum
        v -= self.lr * g


class AdaGrad(_BookOptimizer):
    """h += g * g; W -= lr * g / (sqrt(h) + 1e-7): each weight's step shrinks with its history."""

    state_names = ("h",)

    def __init__(self, lr: float = 0.01):
        self.lr = lr
        self.h = None

    def _step(self, p, g, h):
        h += g * g
        p -= self.lr * g / (np.sqrt(h) + 1e-7)


class RMSprop(_BookOptimizer):
    """h = decay_rate * h + (1 - decay_rate) * g * g; W -= lr * g / (sqrt(h) + 1e-7)."""

    state_names = ("h",)

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99):
        self.lr, self.decay_rate = lr, decay_rate
        self.h = None

    def _step(self, p, g, h):
        h *= self.decay_rate
        h += (1 - self.decay_rate) * g * g
        p -= self.lr * g / (np.sqrt(h) + 1e-7)


class Adam(_BookOptimizer):
    """Adam (Kingma & Ba) as the book writes it: the bias corrections folded into lr_t,
    lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t), and W -= lr_t * m / (sqrt(v) + 1e-7)."""

    state_names = ("m", "v")

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m = self.v = None
        self.lr_t = None

    def _begin_step(self):
        self.iter += 1
        self.lr_t = (self.lr * np.sqrt(1.0 - self.beta2 ** self.iter)
                     / (1.0 - self.beta1 ** self.iter))

    def _step(self, p, g, m, v):
        m += (1 - self.beta1) * (g - m)
        v += (1 - self.beta2) * (g ** 2 - v)
        p -= self.lr_t * m / (np.sqrt(v) + 1e-7)
