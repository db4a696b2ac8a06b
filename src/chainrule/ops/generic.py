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
    """Sign as a constant array (its derivative is zero almost everywhere)."""
    return np.sign(x.data if _is_t(x) else x)


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
