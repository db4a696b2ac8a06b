"""The book's functions module: activations and losses as plain functions of NumPy arrays.

The definitions are the book's (its chapters 3-5); sigmoid and softmax are the stable
kernels of `chainrule.numerics`, which give the book's values without its overflow warnings
(the book's sigmoid overflows in exp(-x) for x < -709; its softmax already subtracts the max).
The layers in `chainrule.book.layers` compute their losses from the logits, exactly; the
functions here take probabilities, as the book's do, with the book's 1e-7 inside the log.
"""
from __future__ import annotations

import numpy as np

from chainrule.numerics import as_float
from chainrule.numerics import sigmoid as _stable_sigmoid
from chainrule.numerics import softmax as _stable_softmax

__all__ = ["identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu",
           "relu_grad", "softmax", "mean_squared_error", "sum_squared_error",
           "cross_entropy_error", "softmax_loss"]

CROSS_ENTROPY_DELTA = 1e-7  # the book's guard against log(0)


def identity_function(x):
    """x itself (the output activation for regression)."""
    return x


def step_function(x) -> np.ndarray:
    """1 where x > 0, else 0, as integers (the perceptron's activation)."""
    return np.array(np.asarray(x) > 0, dtype=int)


def sigmoid(x) -> np.ndarray:
    """1 / (1 + exp(-x)), computed without overflow for any x."""
    return _stable_sigmoid(as_float(x))


def sigmoid_grad(x) -> np.ndarray:
    """d sigmoid(x) / dx = (1 - sigmoid(x)) * sigmoid(x)."""
    y = sigmoid(x)
    return (1.0 - y) * y


def relu(x) -> np.ndarray:
    """max(0, x)."""
    return np.maximum(0, x)


def relu_grad(x) -> np.ndarray:
    """1 where x >= 0, else 0, in x's dtype. At x == 0 the book's function says 1 (its Relu
    layer, PyTorch and `chainrule.book.layers.Relu` pass 0 there); both are subgradients."""
    x = np.asarray(x)
    return (x >= 0).astype(x.dtype if x.dtype.kind == "f" else np.float64)


def softmax(x) -> np.ndarray:
    """exp(x) / sum(exp(x)) over the last axis, shifted by the max so it never overflows."""
    return _stable_softmax(x, axis=-1)


def sum_squared_error(y, t):
    """0.5 * sum((y - t)**2): summed over everything (batch included), not averaged."""
    diff = as_float(y) - np.asarray(t)
    return 0.5 * np.sum(diff * diff)


def mean_squared_error(y, t):
    """The book's chapter 4 name for the same 0.5 * sum((y - t)**2): despite the name, a sum
    (its common/functions.py calls it sum_squared_error; PyTorch's MSELoss is a mean)."""
    return sum_squared_error(y, t)


def cross_entropy_error(y, t):
    """-sum(log(y[n, t_n] + 1e-7)) / N for probabilities y (N, C) or one sample y (C,).

    t is one-hot (y's shape), class indices (N,), or a column of them (N, 1). The 1e-7 is
    the book's, so log(0) never happens and a confident right answer gives about -1e-7.
    """
    y, t = as_float(y), np.asarray(t)
    if y.ndim == 1:
        y, t = y.reshape(1, -1), t.reshape(1, -1)
    if y.ndim != 2:
        raise ValueError(f"cross_entropy_error: y of shape {y.shape} must be (N, C) or (C,)")
    n, classes = y.shape
    if t.size == y.size:
        t = t.reshape(y.shape).argmax(axis=1)  # one-hot rows -> indices
    if t.size != n:
        raise ValueError(f"cross_entropy_error: labels of shape {t.shape} fit neither one-hot "
                         f"rows {y.shape} nor {n} class indices")
    t = t.reshape(n)
    if t.dtype.kind not in "iu" or (n and (t.min() < 0 or t.max() >= classes)):
        raise ValueError(f"cross_entropy_error: class indices must be integers in "
                         f"[0, {classes}), got {t.dtype} values {t[:5].tolist()}...")
    return -np.sum(np.log(y[np.arange(n), t] + CROSS_ENTROPY_DELTA)) / n


def softmax_loss(X, t):
    """cross_entropy_error(softmax(X), t), as the book composes them."""
    return cross_entropy_error(softmax(X), t)
