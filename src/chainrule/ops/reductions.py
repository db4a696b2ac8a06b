"""Reductions: sum mean max min logsumexp, each with `axis` and `keepdims`."""
from __future__ import annotations

import numpy as np

from chainrule.engine import Primitive, Tensor, apply, as_tensor
from chainrule.ops.generic import broadcast_to, exp


def _axes(axis, ndim: int, name: str) -> tuple | None:
    """Normalise `axis` (None, int or tuple) to a sorted tuple of non-negative axes."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    n = ndim or 1  # NumPy lets a 0-d array reduce over axis 0 / -1
    out = []
    for ax in axes:
        if not -n <= ax < n:
            raise ValueError(f"{name}: axis {ax} is out of range for a tensor with {ndim} dims")
        out.append(int(ax) % n)
    return tuple(sorted(set(out)))


def _kept_shape(shape: tuple, axes) -> tuple:
    """The reduced shape with keepdims=True."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(g, a, axes):
    """Broadcast a reduced gradient back over the reduced axes."""
    return broadcast_to(g.reshape(_kept_shape(a.shape, axes)), a.shape)


def _count(shape, axes) -> int:
    return int(np.prod([n for i, n in enumerate(shape) if axes is None or i in axes]))


SUM = Primitive(
    "sum", lambda a, axes, keepdims: np.sum(a, axis=axes, keepdims=keepdims),
    vjps=(lambda g, out, a, axes, keepdims: _spread(g, a, axes),),
    jvps=(lambda t, out, a, axes, keepdims: np.sum(t, axis=axes, keepdims=keepdims),))

MEAN = Primitive(
    "mean", lambda a, axes, keepdims: np.mean(a, axis=axes, keepdims=keepdims),
    vjps=(lambda g, out, a, axes, keepdims: _spread(g / _count(a.shape, axes), a, axes),),
    jvps=(lambda t, out, a, axes, keepdims: np.mean(t, axis=axes, keepdims=keepdims),))


def _argext_weights(out, a, axes):
    """Where the extremum was attained, ties sharing the gradient evenly (as PyTorch)."""
    a_data = a.data if isinstance(a, Tensor) else a
    o_data = out.data if isinstance(out, Tensor) else out
    hit = a_data == o_data.reshape(_kept_shape(a_data.shape, axes))
    return hit / hit.sum(axis=axes, keepdims=True).astype(a_data.dtype)


def _extremum(name, forward) -> Primitive:
    return Primitive(
        name, lambda a, axes, keepdims: forward(a, axis=axes, keepdims=keepdims),
        vjps=(lambda g, out, a, axes, keepdims:
              _spread(g, a, axes) * _argext_weights(out, a, axes).astype(a.dtype),),
        jvps=(lambda t, out, a, axes, keepdims:
              np.sum(t * _argext_weights(out, a, axes), axis=axes, keepdims=keepdims),))


MAX = _extremum("max", np.max)
MIN = _extremum("min", np.min)


def _logsumexp(a, axes, keepdims):
    m = np.max(a, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True)) + m
    return out if keepdims else out.reshape(np.sum(a, axis=axes).shape)


def _lse_weights(out, a, axes):
    """softmax(a) along axes: d logsumexp / d a."""
    return exp(a - out.reshape(_kept_shape(a.shape, axes)))


LOGSUMEXP = Primitive(
    "logsumexp", _logsumexp,
    vjps=(lambda g, out, a, axes, keepdims: _spread(g, a, axes) * _lse_weights(out, a, axes),),
    jvps=(lambda t, out, a, axes, keepdims:
          np.sum(t * _lse_weights(out, a, axes), axis=axes, keepdims=keepdims),))


def _reduce(prim: Primitive, x, axis, keepdims) -> Tensor:
    x = as_tensor(x)
    if prim in (MAX, MIN) and x.size == 0:
        raise ValueError(f"{prim.name}: cannot reduce an empty tensor of shape {x.shape}")
    return apply(prim, (x,), {"axes": _axes(axis, x.ndim, prim.name), "keepdims": keepdims})


def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _reduce(SUM, x, axis, keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    return _reduce(MEAN, x, axis, keepdims)


def max(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _reduce(MAX, x, axis, keepdims)


def min(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return _reduce(MIN, x, axis, keepdims)


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) computed without overflow."""
    return _reduce(LOGSUMEXP, x, axis, keepdims)
