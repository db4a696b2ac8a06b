"""The book's chapter 7 layers: Convolution and (max) Pooling, as matrix products over im2col.

Convolution unfolds its input into one column per output position (receptive field), per
image (`chainrule.numerics.unfold`: the book's im2col, transposed per image, made in one
copy from a strided window view), so its forward pass is one batched matrix product whose
result is already in (N, FN, OH, OW) order, and its backward folds gradients back
(`numerics.fold`). Pooling takes a running maximum over the strided views of each window
position (`numerics.max_pool`), never copying the windows. No Python loop runs over pixels;
the book's `col` (rows (n, out_y, out_x), columns (channel, filter_y, filter_x)) is still
there, made on access. Filters W have shape (FN, C, FH, FW), the bias b shape (FN,).

As the other book layers: backward never modifies its `dout`, float32 in gives float32 out,
and misuse (backward before forward, a dout or input of the wrong shape, a filter larger
than the padded input) raises a ValueError naming the layer and the shapes.
"""
from __future__ import annotations

import numpy as np

from chainrule.book.layer_checks import CheckedLayer, check_int
from chainrule.numerics import (as_float, conv2d, conv2d_input_grad, conv2d_weight_grad,
                                conv_out_size, max_pool, max_pool_backward)

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
    It is the book's `col @ col_W + b` with `col` (N*OH*OW, C*FH*FW) the unfolded input and
    `col_W` = W reshaped to (FN, C*FH*FW) and transposed, computed per image as
    W_rows @ cols[n] on cols = unfold(x) (N, C*FH*FW, OH*OW). backward(dout) stores
    dW = col.T @ dout in W's shape and db = dout summed over n, y, x, and returns
    dx = col2im(dout @ col_W.T): each unfolded row's gradient added back onto the pixels it
    was copied from.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0):
        self.W, self.b = W, b
        self.stride = check_int("Convolution", "stride", stride, 1)
        self.pad = check_int("Convolution", "pad", pad, 0)
        self.x = self.cols = self.col_W = self.dW = self.db = None

    @property
    def col(self) -> np.ndarray | None:
        """The book's im2col matrix of the last input, (N*OH*OW, C*FH*FW) (built on access)."""
        return None if self.cols is None else \
            self.cols.transpose(0, 2, 1).reshape(-1, self.cols.shape[1])

    def forward(self, x):
        x = as_float(x)
        _check_image("Convolution", x)
        if np.ndim(self.W) != 4 or x.shape[1] != self.W.shape[1]:
            raise ValueError(f"Convolution.forward: x of shape {x.shape} does not fit W of "
                             f"shape {np.shape(self.W)}; W is (FN, C, FH, FW) with C = the "
                             f"input's channels")
        fn, _, fh, fw = self.W.shape
        if np.shape(self.b) not in ((), (1,), (fn,), (1, fn)):  # a scalar b broadcasts
            raise ValueError(f"Convolution.forward: b has shape {np.shape(self.b)} but W of "
                             f"shape {self.W.shape} has {fn} filters; pass b of shape ({fn},)")
        oh, ow = _out_hw("Convolution", x.shape, fh, fw, self.stride, self.pad)
        self.x = x
        self.col_W = self.W.reshape(fn, -1).T                     # (C*FH*FW, FN)
        dtype = np.result_type(self.col_W, x)
        out, self.cols = conv2d(x, self.col_W.T, np.broadcast_to(self.b, (fn,)).astype(dtype),
                                fh, fw, self.stride, self.pad)    # (N, FN, OH*OW), unfolded x
        out = out.reshape(x.shape[0], fn, oh, ow)
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        dout = self._param_grads(dout)
        fh, fw = self.W.shape[2:]
        return conv2d_input_grad(dout, self.col_W.T, self.x.shape, fh, fw, self.stride, self.pad)

    def backward_params(self, dout) -> None:
        """dW and db only, without dx: a network's first layer, whose dx (the gradient of
        the images) no one takes, saves the product and the fold (13 % of a SimpleConvNet
        step)."""
        self._param_grads(dout)

    def _param_grads(self, dout) -> np.ndarray:
        """Set dW and db; dout as (N, FN, OH*OW), read only."""
        self._check_dout(dout)
        n, _, p = self.cols.shape
        dout = np.asarray(dout).reshape(n, self.W.shape[0], p)     # read only, never written
        self.db = dout.sum(axis=(0, 2))
        # dW = sum over images of dout[n] @ cols[n].T (batched products, no transposing copy)
        self.dW = conv2d_weight_grad(dout, self.cols).reshape(self.W.shape)
        return dout


class Pooling(CheckedLayer):
    """Max pooling: out[n, c, y, x] = the max of x over each pool_h x pool_w window.

    The default stride is 1, as the printed book's Pooling has it (its code repository
    changed the default to 2 in 2020); the book's networks always pass `stride=2`.
    forward(x): x (N, C, H, W) -> (N, C, OH, OW); it remembers each window's argmax in
    `arg_max` ((N, C, OH, OW), the position in the window in row-major order), and
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
        _out_hw("Pooling", x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
        out, self.arg_max = max_pool(x, self.pool_h, self.pool_w, self.stride, self.pad)
        self.x = x
        self.out_shape = out.shape
        return out

    def backward(self, dout):
        self._check_dout(dout)
        return max_pool_backward(as_float(dout), self.arg_max, self.x.shape, self.pool_h,
                                 self.pool_w, self.stride, self.pad)
