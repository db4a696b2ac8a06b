"""Helpers that derivative rules call on either NumPy arrays or Tensors.

The reverse pass hands rules plain arrays when the backward need not be differentiated
(fast) and Tensors when it must be (create_graph, forward-over-reverse). Operators and
the methods arrays and Tensors share (`reshape`, `sum`, `swapaxes`, `T`, indexing) work on
both as they are; the few functions below pick NumPy or the matching chainrule op.
"""
from __future__ import annotations

import numpy as np

from chainrule.engine import Tensor


def _is_t(x) -> bool:
    return isinstance(x, Tensor)


def exp(x):
    return x.exp() if _is_t(x) else np.exp(x)


def log(x):
    return x.log() if _is_t(x) else np.log(x)


def sin(x):
    return x.sin() if _is_t(x) else np.sin(x)


def cos(x):
    return x.cos() if _is_t(x) else np.cos(x)


def sign(x) -> np.ndarray:
    """Sign as a constant array (its derivative is zero almost everywhere); 0 at nan, as
    PyTorch's abs gradient."""
    x = x.data if _is_t(x) else x
    return (x > 0).astype(x.dtype) - (x < 0)


def softmax(x, axis):
    if _is_t(x):
        return x.softmax(axis)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def broadcast_to(x, shape):
    if _is_t(x):
        return x.broadcast_to(shape)
    return np.broadcast_to(x, shape)


def sum_to(x, shape: tuple):
    """Sum a broadcast result back down to `shape` (the gradient of broadcasting)."""
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    x = x.sum(axis=axes, keepdims=True)
    if lead:
        x = x.reshape(shape)
    return x


def scatter_add(g, index, shape: tuple):
    """A zero array of `shape` with `g` added at `index` (repeated indices accumulate)."""
    if _is_t(g):
        from chainrule.ops.shape import index_add
        return index_add(g, index, shape)
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def _is_basic_index(index) -> bool:
    """Slices, integers, None and Ellipsis never repeat an element."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in items)


def zeros_like(x):
    """Zeros of x's shape and dtype, as a constant (no gradient flows through it)."""
    if _is_t(x):
        from chainrule.engine import _wrap
        return _wrap(np.zeros_like(x.data))
    return np.zeros_like(x)


def where(cond, x, y):
    """`np.where` for arrays, the `where` op for Tensors; `cond` is a constant mask. Unlike
    `x * cond`, an inf or nan in the unselected branch does not leak through."""
    if _is_t(x) or _is_t(y):
        from chainrule.ops.elementwise import where as where_op
        return where_op(cond, x, y)
    return np.where(cond, x, y)


def zeroed_at(g, index):
    """g with the elements at `index` set to zero (the gradient of what an assignment
    overwrote)."""
    keep = np.ones(g.shape, dtype=bool)
    keep[index] = False
    return where(keep, g, 0)
