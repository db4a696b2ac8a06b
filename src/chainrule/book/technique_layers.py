"""The book's chapter 6 layers, which act differently in training and at test time.

`forward(x, train_flg=True)` as in the book: the networks pass `train_flg=False` to predict.
Both layers remember which mode their last forward ran in, and `backward` differentiates that
forward (the book's backward always used the training-mode caches, stale or missing after a
test-mode forward). As the other book layers: backward never modifies its `dout`, float32 in
gives float32 out, and misuse raises a ValueError naming the layer and the shapes.
"""
from __future__ import annotations

import numbers

import numpy as np

from chainrule.book.layer_checks import CheckedLayer
from chainrule.numerics import as_float

__all__ = ["Dropout", "BatchNormalization"]

BN_EPS = 10e-7  # the book writes 10e-7, which is 1e-6 (PyTorch's default eps is 1e-5)


def _check_fraction(where: str, what: str, value) -> float:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not 0.0 <= value <= 1.0):
        raise ValueError(f"{where}: {what} must be a number in [0, 1], got {value!r}")
    return float(value)


class Dropout(CheckedLayer):
    """The book's dropout (Srivastava et al.), NOT inverted: training keeps, test scales.

    Training (`train_flg=True`): each element is kept where a fresh uniform draw
    `np.random.rand(*x.shape)` exceeds `dropout_ratio` (NumPy's global generator, as the
    book, so `np.random.seed` reproduces its runs) and zeroed elsewhere; the kept elements
    are NOT rescaled: out = x * mask, and backward gives dout * mask.
    Test (`train_flg=False`): out = x * (1 - dropout_ratio), the expected training output,
    and backward gives dout * (1 - dropout_ratio).
    PyTorch's `nn.Dropout` (and `chainrule.nn.Dropout`) is inverted instead: it scales the
    kept elements by 1 / (1 - p) in training and is the identity in eval, so its outputs
    are this layer's divided by (1 - dropout_ratio), in both modes.
    """

    def __init__(self, dropout_ratio: float = 0.5):
        self.dropout_ratio = _check_fraction("Dropout", "dropout_ratio", dropout_ratio)
        self.mask = None
        self.train_flg = True

    def forward(self, x, train_flg: bool = True):
        x = as_float(x)
        self.train_flg = bool(train_flg)
        if self.train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            out = x * self.mask
        else:
            out = x * (1.0 - self.dropout_ratio)
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        self._check_dout(dout)
        if self.train_flg:
            return dout * self.mask
        return dout * (1.0 - self.dropout_ratio)


class BatchNormalization(CheckedLayer):
    """The book's batch normalization (Ioffe & Szegedy) over the batch axis, per feature.

    x is (N, D), or (N, C, H, W), which the book flattens to (N, C*H*W): every one of the
    C*H*W values is a feature with its own statistics, gamma and beta of shape (D,) — not
    PyTorch's BatchNorm2d, which shares them per channel.
    Training: mu, var = the batch mean and (biased) variance; xn = (x - mu) / sqrt(var + eps);
    out = gamma * xn + beta, with eps = 10e-7 (= 1e-6) as the book writes it; the running
    statistics move as running = momentum * running + (1 - momentum) * batch, with the biased
    variance (PyTorch's momentum 0.1 is this layer's 0.9, and PyTorch keeps the unbiased
    variance). They start at zeros (mean and variance) when not given, as in the book.
    Test: xn = (x - running_mean) / sqrt(running_var + eps).
    backward stores dgamma and dbeta; in training it returns the book's step-by-step
    dx (through xc, std and var), at test time dout * gamma / sqrt(running_var + eps).
    """

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9,
                 running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None):
        self.gamma, self.beta = gamma, beta
        self.momentum = _check_fraction("BatchNormalization", "momentum", momentum)
        self.running_mean, self.running_var = running_mean, running_var
        self.input_shape = None
        self.train_flg = True
        self.batch_size = self.xc = self.xn = self.std = None
        self.dgamma = self.dbeta = None

    def _check(self, x: np.ndarray) -> np.ndarray:
        """x as (N, D), with gamma, beta and the running statistics of shape (D,)."""
        if x.ndim not in (2, 4) or x.shape[0] == 0:
            raise ValueError(f"BatchNormalization.forward: x of shape {x.shape} must be a "
                             f"non-empty batch (N, D) or (N, C, H, W)")
        x = x.reshape(x.shape[0], -1)
        d = x.shape[1]
        if self.running_mean is None:
            self.running_mean = np.zeros(d, dtype=x.dtype)
            self.running_var = np.zeros(d, dtype=x.dtype)
        for what in ("gamma", "beta", "running_mean", "running_var"):
            shape = np.shape(getattr(self, what))
            if shape != (d,):
                raise ValueError(f"BatchNormalization.forward: x of shape {self.input_shape} "
                                 f"has {d} features per sample (each normalised on its own) "
                                 f"but {what} has shape {shape}; pass {what} of shape ({d},)")
        return x

    def forward(self, x, train_flg: bool = True):
        x = as_float(x)
        self.input_shape = x.shape
        x = self._check(x)
        self.train_flg = bool(train_flg)
        if self.train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            self.batch_size = x.shape[0]
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            var = self.running_var
        self.xc = xc
        self.std = np.sqrt(var + BN_EPS)
        self.xn = xc / self.std
        out = self.gamma * self.xn + self.beta
        self.out_shape = self.input_shape
        return out.reshape(self.input_shape)

    def backward(self, dout):
        self._check_dout(dout)
        dout = np.asarray(dout).reshape(self.xn.shape)
        self.dbeta = dout.sum(axis=0)
        self.dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        if self.train_flg:  # the book's graph: xc feeds xn directly and through var and std
            dstd = -np.sum(dxn * self.xc / (self.std * self.std), axis=0)
            dvar = 0.5 * dstd / self.std
            dxc += (2.0 / self.batch_size) * self.xc * dvar
            dmu = np.sum(dxc, axis=0)
            dxc -= dmu / self.batch_size
        return dxc.reshape(self.input_shape)
