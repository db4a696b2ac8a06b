"""conv2d and max_pool2d as one node each (the modules Conv2d and MaxPool2d in
chainrule.nn.layers call these), and avg_pool2d through im2col, as the book builds it.

conv2d is the `conv2d` primitive of `chainrule.ops.conv` (a batched product over the
unfolded input; its gradients are the transposed convolution and the weight correlation,
primitives too) and max_pool2d the `max_pool2d` primitive of `chainrule.ops.pool` (a
running maximum over strided views; its gradient goes to each window's first maximum, as
PyTorch's). Both run on the kernels the book's face uses, and have gradients of any order.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import numerics
from chainrule.engine import Tensor, as_tensor
from chainrule.ops import conv as _conv_ops, pool as _pool_ops
from chainrule.ops.conv import COL2IM, IM2COL, col2im, im2col  # noqa: F401  (re-exported)

__all__ = ["im2col", "col2im", "conv2d", "max_pool2d", "avg_pool2d"]


def _out_size(size: int, k: int, stride: int, pad: int) -> int:
    return numerics.conv_out_size(size, k, stride, pad)


def square(v: Any, name: str) -> int:
    """Square kernels/strides only: an int, or a pair of equal ints."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2 or v[0] != v[1]:
            raise ValueError(f"{name}: only square values are supported, got {v!r}")
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {v!r}")
    return int(v)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """2-d cross-correlation of (N, C, H, W) input with (O, C, kh, kw) filters (+ bias (O,));
    stride and padding are ints or pairs of equal ints."""
    x, weight = as_tensor(x), as_tensor(weight)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input {x.shape} and weight {weight.shape} do not fit "
                         f"(expected (N, C, H, W) and (O, C, kh, kw) with the same C)")
    stride, padding = square(stride, "conv2d stride"), square(padding, "conv2d padding")
    if stride < 1 or padding < 0:
        raise ValueError(f"conv2d: stride must be at least 1 and padding at least 0, got "
                         f"stride={stride}, padding={padding}")
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    oh, ow = _out_size(h, kh, stride, padding), _out_size(w, kw, stride, padding)
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: kernel {kh}x{kw} is larger than the padded input "
                         f"{h + 2 * padding}x{w + 2 * padding}")
    if bias is not None:
        bias = as_tensor(bias)
        if bias.shape != (o,):
            raise ValueError(f"conv2d: bias has shape {bias.shape}, expected ({o},) for "
                             f"weight of shape {weight.shape}")
    return _conv_ops.conv2d(x, weight, bias, stride, padding)


def _pool_args(name: str, x: Any, kernel_size: Any, stride: Any, padding: Any) -> tuple:
    """(x, k, stride, padding, output shape) checked: square windows that fit the input,
    padding at most half the window (as PyTorch)."""
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected (N, C, H, W) input, got shape {x.shape}")
    k = square(kernel_size, f"{name} kernel_size")
    stride = k if stride is None else square(stride, f"{name} stride")
    padding = square(padding, f"{name} padding")
    if k < 1 or stride < 1 or padding < 0:
        raise ValueError(f"{name}: kernel_size and stride must be at least 1 and padding at "
                         f"least 0, got {k}, {stride}, {padding}")
    if padding > k // 2:
        raise ValueError(f"{name}: padding {padding} should be at most half the kernel "
                         f"size {k}")
    n, c, h, w = x.shape
    oh, ow = _out_size(h, k, stride, padding), _out_size(w, k, stride, padding)
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}: kernel {k} is larger than the input {h}x{w}")
    return x, k, stride, padding, (n, c, oh, ow)


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max over each kernel window (an int or a square pair); padding counts as -inf (never
    the max); the gradient goes to each window's first maximum, as PyTorch's."""
    x, k, stride, padding, _ = _pool_args("max_pool2d", x, kernel_size, stride, padding)
    return _pool_ops.max_pool2d(x, k, stride, padding)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over each kernel window; padding counts as zeros (PyTorch's default
    count_include_pad=True)."""
    x, k, stride, padding, shape = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    n, c, h, w = x.shape
    cols = im2col(x.reshape(n * c, 1, h, w), k, k, stride, padding)
    return cols.mean(axis=1).reshape(shape)
