"""The book's chapter 7 layers: Convolution and (max) Pooling, as matrix products over im2col.

Both unfold their input with `chainrule.numerics.im2col` into one row per output position
(receptive field), so the forward pass is a single matrix product (Convolution) or a row-wise
max (Pooling), and fold gradients back with `col2im`: no Python loop runs over pixels. The
layout is the book's: rows ordered (n, out_y, out_x), columns (channel, filter_y, filter_x),
filters W of shape (FN, C, FH, FW), a bias b of shape (FN,).

As the other book layers: backward never modifies its `dout`, float32 in gives float32 out,
and misuse (backward before forward, a dout or input of the wrong shape, a filter larger
than the padded input) raises a ValueError naming the layer and the shapes.
"""
from __future__ import annotations

import numpy as np

from chainrule.book.layer_checks import CheckedLayer, check_int
from chainrule.numerics import as_float, col2im, conv_out_size, im2col

__all__ = ["Convolution", "Pooling"]


def _check_image(name: str, x: np.ndarray) -> None:
    if x.ndim != 4:
        raise ValueError(f"{name}.forward: x of shape {x.shape} is not a batch of images; "
                         f"pass (N, C, H, W)")


def _out_hw(name: str, x_shape: tuple, kh: int, kw: int, stride: int, pad: int) -> tuple:
    """(out_h, out_w), or a ValueError when the window does not fit the padded input."""
    h, w = x_shape[2:]
    oh, ow = conv_out_size(h, kh, stride, pad), conv_out_size(w, kw, stride, pad)
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}.forward: a {kh}x{kw} window does not fit x of shape "
                         f"{x_shape} padded by {pad} ({h + 2 * pad}x{w + 2 * pad})")
    return oh, ow


class Convolution(CheckedLayer):
    """out[n, f] = sum over c, i, j of W[f, c, i, j] * x_padded[n, c, y*s + i, x*s + j] + b[f].

    forward(x): x (N, C, H, W) -> (N, FN, OH, OW) with OH = (H + 2*pad - FH) // stride + 1.
    It unfolds x into `col` (N*OH*OW, C*FH*FW) and multiplies by `col_W` = W reshaped to
    (FN, C*FH*FW) and transposed. backward(dout) stores dW = (col.T @ dout) in W's shape and
    db = dout summed over n, y, x, and returns dx = col2im(dout @ col_W.T): the gradient of
    each unfolded row is added back onto the pixels it was copied from.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0):
        self.W, self.b = W, b
        self.stride = check_int("Convolution", "stride", stride, 1)
        self.pad = check_int("Convolution", "pad", pad, 0)
        self.x = self.col = self.col_W = self.dW = self.db = None

    def forward(self, x):
        x = as_float(x)
        _check_image("Convolution", x)
        if np.ndim(self.W) != 4 or x.shape[1] != self.W.shape[1]:
            raise ValueError(f"Convolution.forward: x of shape {x.shape} does not fit W of "
                             f"shape {np.shape(self.W)}; W is (FN, C, FH, FW) with C = the "
                             f"input's channels")
        fn, _, fh, fw = self.W.shape
        if np.shape(self.b) not in ((fn,), (1, fn)):
            raise ValueError(f"Convolution.forward: b has shape {np.shape(self.b)} but W of "
                             f"shape {self.W.shape} has {fn} filters; pass b of shape ({fn},)")
        oh, ow = _out_hw("Convolution", x.shape, fh, fw, self.stride, self.pad)
        self.x = x
        self.col = im2col(x, fh, fw, self.stride, self.pad)      # (N*OH*OW, C*FH*FW)
        self.col_W = self.W.reshape(fn, -1).T                     # (C*FH*FW, FN)
        out = self.col @ self.col_W + self.b                       # (N*OH*OW, FN)
        out = out.reshape(x.shape[0], oh, ow, fn).transpose(0, 3, 1, 2)
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        self._check_dout(dout)
        fn, _, fh, fw = self.W.shape
        dout = np.asarray(dout).transpose(0, 2, 3, 1).reshape(-1, fn)  # a new array
        self.db = dout.sum(axis=0)
        self.dW = (self.col.T @ dout).T.reshape(self.W.shape)
        dcol = dout @ self.col_W.T
        return col2im(dcol, self.x.shape, fh, fw, self.stride, self.pad)


class Pooling(CheckedLayer):
    """Max pooling: out[n, c, y, x] = the max of x over each pool_h x pool_w window.

    The default stride is 1, as the printed book's Pooling has it (its code repository
    changed the default to 2 in 2020); the book's networks always pass `stride=2`.
    forward(x): x (N, C, H, W) -> (N, C, OH, OW); it remembers each window's argmax, and
    backward(dout) routes each dout element to that one input position (the first one if
    several tie, as the book's np.argmax), summing where windows overlap.

    Padding: the book's code leaves `pad` out of its output size (any pad > 0 fails there);
    here OH = (H + 2*pad - pool_h) // stride + 1 and the padding counts as -inf, so it is
    never the max (PyTorch's max_pool2d); as PyTorch, pad may be at most half the window.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 1, pad: int = 0):
        self.pool_h = check_int("Pooling", "pool_h", pool_h, 1)
        self.pool_w = check_int("Pooling", "pool_w", pool_w, 1)
        self.stride = check_int("Pooling", "stride", stride, 1)
        self.pad = check_int("Pooling", "pad", pad, 0)
        if self.pad > min(self.pool_h, self.pool_w) // 2:
            raise ValueError(f"Pooling: pad {pad} must be at most half the window "
                             f"{pool_h}x{pool_w}, or a window could hold padding only")
        self.x = self.arg_max = None

    def forward(self, x):
        x = as_float(x)
        _check_image("Pooling", x)
        n, c = x.shape[:2]
        oh, ow = _out_hw("Pooling", x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad, pad_value=-np.inf)
        col = col.reshape(-1, self.pool_h * self.pool_w)          # rows (n, y, x, c)
        self.arg_max = col.argmax(axis=1)
        out = col[np.arange(col.shape[0]), self.arg_max]
        out = out.reshape(n, oh, ow, c).transpose(0, 3, 1, 2)
        self.x = x
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        self._check_dout(dout)
        dout = as_float(dout)
        n, oh, ow = dout.shape[0], dout.shape[2], dout.shape[3]
        window = self.pool_h * self.pool_w
        dmax = np.zeros((self.arg_max.size, window), dtype=dout.dtype)
        dmax[np.arange(self.arg_max.size), self.arg_max] = dout.transpose(0, 2, 3, 1).ravel()
        dcol = dmax.reshape(n * oh * ow, -1)                       # (N*OH*OW, C*ph*pw)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
