"""The book's layers: NumPy in, NumPy out, each with a hand-written `backward(dout)`.

Every layer caches what its backward pass needs during `forward`, and `backward(dout)`
returns the gradient of the loss with respect to the forward inputs (a tuple for layers with
two inputs). Parameter gradients are stored on the layer (`Affine.dW`, `Affine.db`).

Rules that the original tutorial code broke and these layers keep:
- `backward` never modifies the `dout` it is given (the book's Relu zeroed it in place);
- dtypes are kept: a float32 input gives float32 outputs and gradients (an int64 one-hot
  label does not turn a float32 backward into float64);
- `backward` before `forward`, or a `dout` of the wrong shape, raises a ValueError that names
  the layer and both shapes;
- the loss layers are numerically stable (logits of +-1e4, sigmoid(+-1000): finite values,
  no NumPy warnings).

The forward math (stable sigmoid, softmax, cross-entropy, label checks) is the kernels of
`chainrule.numerics` that the autograd face shares; the backward formulas are the book's,
written out by hand in each layer.
"""
from __future__ import annotations

import numpy as np

# the chapters 6-7 layers live in their own modules; this is their public path too, as the
# book keeps all its layers in one common/layers.py
from chainrule.book.conv_layers import Convolution, Pooling
from chainrule.book.layer_checks import CheckedLayer
from chainrule.book.technique_layers import BatchNormalization, Dropout
from chainrule.numerics import (as_float, binary_cross_entropy_with_logits,
                                check_class_target, log_softmax_and_softmax, matmul, nll_loss,
                                sigmoid, sum_to)

__all__ = ["MulLayer", "AddLayer", "Relu", "Sigmoid", "Tanh", "Affine",
           "SoftmaxWithLoss", "IdentityWithLoss", "SigmoidWithLoss",
           "Dropout", "BatchNormalization", "Convolution", "Pooling"]


def _fresh_sum_to(grad, shape: tuple) -> np.ndarray:
    """A broadcast gradient summed back to an input's shape, never the caller's own array."""
    out = sum_to(grad, shape)
    return out.copy() if out is grad else out


Layer = CheckedLayer  # the shared checks: a forward first, a dout shaped like the output


class MulLayer(Layer):
    """out = x * y; each input's gradient is dout times the other input (the apple's tax node)."""

    def forward(self, x, y):
        self.x, self.y = x, y
        out = x * y
        self.out_shape = np.shape(out)
        return out

    def backward(self, dout):
        self._check_dout(dout)
        dx = dout * self.y
        dy = dout * self.x
        if np.shape(dx) != np.shape(self.x):  # x was broadcast: sum its gradient back
            dx = sum_to(dx, np.shape(self.x))
        if np.shape(dy) != np.shape(self.y):
            dy = sum_to(dy, np.shape(self.y))
        return dx, dy


class AddLayer(Layer):
    """out = x + y; the gradient passes through unchanged to both inputs."""

    def forward(self, x, y):
        self.x_shape, self.y_shape = np.shape(x), np.shape(y)
        out = x + y
        self.out_shape = np.shape(out)
        return out

    def backward(self, dout):
        self._check_dout(dout)
        if self.out_shape == ():  # scalars, as in the apple example: keep them scalars
            return dout * 1, dout * 1
        return _fresh_sum_to(dout, self.x_shape), _fresh_sum_to(dout, self.y_shape)


class Relu(Layer):
    """out = max(x, 0); the gradient flows only where x > 0 (zero at x == 0, as PyTorch)."""

    def forward(self, x):
        x = as_float(x)
        self.mask = x > 0
        self.out_shape = x.shape
        return np.maximum(x, 0)

    def backward(self, dout):
        self._check_dout(dout)
        return dout * self.mask  # the boolean mask multiplies as 0/1, keeping dout's dtype


class Sigmoid(Layer):
    """out = 1 / (1 + exp(-x)); dx = dout * out * (1 - out), from the cached output."""

    def forward(self, x):
        self.out = sigmoid(as_float(x))
        self.out_shape = self.out.shape
        return self.out

    def backward(self, dout):
        self._check_dout(dout)
        return dout * (1 - self.out) * self.out


class Tanh(Layer):
    """out = tanh(x); dx = dout * (1 - out**2), from the cached output."""

    def forward(self, x):
        self.out = np.tanh(as_float(x))
        self.out_shape = self.out.shape
        return self.out

    def backward(self, dout):
        self._check_dout(dout)
        return dout * (1 - self.out * self.out)


class Affine(Layer):
    """out = x @ W + b on a batch; N-d inputs are flattened to (N, -1) as in the book.

    Stores dW = x.T @ dout and db = dout.sum(axis=0) (the gradient of b is the sum of dout
    over the batch, not a sum of b). With `input_grad=False` (for a first layer fed with
    data) backward skips dx = dout @ W.T and returns None.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, input_grad: bool = True):
        self.W, self.b = W, b
        self.input_grad = input_grad
        self.x = self.x_shape = self.dW = self.db = None

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim < 2 or x[0].size != self.W.shape[0]:
            raise ValueError(f"Affine.forward: x of shape {x.shape} does not fit W of shape "
                             f"{self.W.shape}; pass a batch (N, ...) with {self.W.shape[0]} "
                             f"values per sample")
        self.x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        out = matmul(self.x, self.W)
        out += self.b
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        self._check_dout(dout)
        self.dW = matmul(self.x.T, dout)
        self.db = dout.sum(axis=0)
        if not self.input_grad:
            return None
        return matmul(dout, self.W.T).reshape(self.x_shape)


class _LossLayer(Layer):
    """A layer ending the network: forward(x, t) -> scalar loss; backward(dout=1) -> dx."""

    def _check_dout(self, dout) -> None:
        if self.out_shape is None:
            raise ValueError(f"{type(self).__name__}.backward called before forward: run "
                             f"forward(x, t) first, it caches what backward needs")
        if np.shape(dout) != ():
            raise ValueError(f"{type(self).__name__}.backward: dout has shape "
                             f"{np.shape(dout)} but the loss is a scalar (shape ()); pass "
                             f"a scalar dout such as 1")

    def _targets_like(self, x, t) -> tuple[np.ndarray, np.ndarray]:
        """x as floats and targets t of x's shape (batch axis first), in x's dtype."""
        x, t = as_float(x), np.asarray(t)
        if x.ndim == 0 or t.shape != x.shape:
            raise ValueError(f"{type(self).__name__}.forward: x of shape {x.shape} and targets "
                             f"of shape {t.shape} must have the same shape, with a batch axis")
        return x, t.astype(x.dtype, copy=False)

    def backward(self, dout=1):
        """dx = dout * (y - t) / batch, in the input's dtype."""
        self._check_dout(dout)
        dx = self.y - self.t
        dx *= dout / self.batch
        return dx


class SoftmaxWithLoss(_LossLayer):
    """Softmax over the last axis then cross-entropy, averaged over the batch.

    Labels `t` are one-hot (same shape as x) or class indices (shape x.shape[:-1], or
    x.shape[:-1] + (1,): a column of labels, as the book's chapter 7 gradient check passes).
    The loss uses log-softmax (x - max - log(sum(exp(x - max)))) instead of log(softmax),
    so logits of +-1e4 give the exact finite value (no log(0), no +1e-7 fudge); it equals
    PyTorch's CrossEntropyLoss.
    A 1-d x is one sample (batch 1), as in the book.
    """

    def forward(self, x, t):
        x = as_float(x)
        t = np.asarray(t)
        if x.ndim and x.shape[-1] != 1 and t.shape == x.shape[:-1] + (1,):
            t = t[..., 0]  # a column of class indices
        self.t = check_class_target("SoftmaxWithLoss.forward", x, t, one_hot=True)  # x's dtype
        log_y, self.y = log_softmax_and_softmax(x)
        self.batch, self.out_shape = x.size // x.shape[-1], ()
        return nll_loss(log_y, self.t)  # -sum(t * log y) / N, with log y exact (no log(0))


class IdentityWithLoss(_LossLayer):
    """Identity output with the book's mean squared error: 0.5 * sum((x - t)**2) / batch.

    The 0.5 makes the gradient simply (x - t) / batch. The batch is the first axis. This is
    0.5 * (number of outputs per sample) times PyTorch's MSELoss(reduction="mean").
    """

    def forward(self, x, t):
        x, t = self._targets_like(x, t)
        self.y, self.t = x, t
        self.batch, self.out_shape = x.shape[0], ()
        diff = self.y - self.t
        return 0.5 * (diff * diff).sum() / x.dtype.type(self.batch)


class SigmoidWithLoss(_LossLayer):
    """Sigmoid then binary cross-entropy, summed over outputs and averaged over the batch.

    Computed from the logits as max(x, 0) - x * t + log(1 + exp(-|x|)), finite for any x
    (PyTorch's BCEWithLogitsLoss; equal to its "mean" reduction for one output per sample).
    The batch is the first axis.
    """

    def forward(self, x, t):
        x, t = self._targets_like(x, t)
        self.t = t
        self.y = sigmoid(x)
        self.batch, self.out_shape = x.shape[0], ()
        return binary_cross_entropy_with_logits(x, t, "sum") / x.dtype.type(self.batch)
