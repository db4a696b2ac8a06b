"""conv2d and max_pool2d through im2col, as the book builds them (the modules Conv2d and
MaxPool2d in chainrule.nn.layers call these).

`im2col` turns every receptive field of an (N, C, H, W) input into one row, so a
convolution is one matrix product (the fused `linear` primitive) and max pooling a max
over each row. im2col and col2im are primitives in `chainrule.ops.conv`, so convolution
gets gradients of any order from the existing ops.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import numerics, ops
from chainrule.engine import Tensor, as_tensor
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


def conv2d(x: Any, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0) -> Tensor:
    """2-d cross-correlation of (N, C, H, W) input with (O, C, kh, kw) filters."""
    x, weight = as_tensor(x), as_tensor(weight)
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input {x.shape} and weight {weight.shape} do not fit "
                         f"(expected (N, C, H, W) and (O, C, kh, kw) with the same C)")
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    oh, ow = _out_size(h, kh, stride, padding), _out_size(w, kw, stride, padding)
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: kernel {kh}x{kw} is larger than the padded input "
                         f"{h + 2 * padding}x{w + 2 * padding}")
    cols = im2col(x, kh, kw, stride, padding)
    out = ops.linear(cols, weight.reshape(o, -1), bias)            # (N*OH*OW, O)
    return out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)


def _pool_windows(name: str, x: Any, kernel_size: Any, stride: Any, padding: Any,
                  pad_value: float) -> tuple:
    """Every pooling window of x as one row: (rows (N*C*OH*OW, k*k), output shape)."""
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected (N, C, H, W) input, got shape {x.shape}")
    k = square(kernel_size, f"{name} kernel_size")
    stride = k if stride is None else square(stride, f"{name} stride")
    padding = square(padding, f"{name} padding")
    if padding > k // 2:
        raise ValueError(f"{name}: padding {padding} should be at most half the kernel "
                         f"size {k}")
    n, c, h, w = x.shape
    oh, ow = _out_size(h, k, stride, padding), _out_size(w, k, stride, padding)
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}: kernel {k} is larger than the input {h}x{w}")
    cols = im2col(x.reshape(n * c, 1, h, w), k, k, stride, padding, pad_value=pad_value)
    return cols, (n, c, oh, ow)


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Max over each kernel window (an int or a square pair); padding counts as -inf
    (never the max)."""
    cols, shape = _pool_windows("max_pool2d", x, kernel_size, stride, padding, -np.inf)
    return cols.max(axis=1).reshape(shape)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Tensor:
    """Mean over each kernel window; padding counts as zeros (PyTorch's default
    count_include_pad=True)."""
    cols, shape = _pool_windows("avg_pool2d", x, kernel_size, stride, padding, 0.0)
    return cols.mean(axis=1).reshape(shape)
