"""Reductions: sum mean max min logsumexp, each with `axis` and `keepdims`."""
from __future__ import annotations

import numpy as np

from chainrule.engine import Primitive, Tensor, apply, as_tensor
from chainrule.engine.graph import Notation
from chainrule.ops.elementwise import EXP
from chainrule.ops.shape import BROADCAST_TO

try:
    from numpy.exceptions import AxisError
except ImportError:  # NumPy < 1.25
    from numpy import AxisError  # type: ignore[attr-defined,no-redef]


def _axes(axis, shape: tuple, name: str) -> tuple | None:
    """Normalise `axis` (None, int or tuple) to a sorted tuple of non-negative axes.

    As in PyTorch, a 0-d tensor takes axis 0 or -1 (reducing it leaves it as it is), and
    an axis named twice is an error. None means every axis."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    if not isinstance(axes, (tuple, list)) or not all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes):
        raise TypeError(f"{name}: axis must be None, an int or a tuple of ints, got {axis!r} "
                        f"(tensor of shape {shape})")
    ndim = len(shape)
    n = ndim or 1
    out = []
    for ax in axes:
        if not -n <= ax < n:
            raise AxisError(f"{name}: axis {ax} is out of range for a tensor of shape {shape} "
                            f"(expected an axis in [{-n}, {n - 1}])")
        out.append(int(ax) % n)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: axis {axis} names a dimension twice "
                         f"(tensor of shape {shape})")
    if ndim == 0:
        return None
    return tuple(sorted(out))


def _kept_shape(shape: tuple, axes) -> tuple:
    """The reduced shape with keepdims=True."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(g, a, axes):
    """Broadcast a reduced gradient back over the reduced axes."""
    return BROADCAST_TO(g.reshape(_kept_shape(a.shape, axes)), shape=a.shape)


def _count(shape, axes) -> int:
    return int(np.prod([n for i, n in enumerate(shape) if axes is None or i in axes]))


SUM = Primitive(
    "sum", lambda a, axes, keepdims: np.sum(a, axis=axes, keepdims=keepdims),
    vjps=(lambda g, out, a, axes, keepdims: _spread(g, a, axes),),
    jvps=(lambda t, out, a, axes, keepdims: t.sum(axis=axes, keepdims=keepdims),),
    notation=Notation("Σ", ("1 for every element (g spread back), {shapes}",)))

def _mean(a, axes, keepdims):
    """np.mean without its warning: the mean of nothing is nan, quietly (as PyTorch)."""
    total = np.sum(a, axis=axes, keepdims=keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.true_divide(total, _count(a.shape, axes), dtype=total.dtype)


# The vjp spreads before dividing: with nothing to average over, the input is empty and
# so is the division (no 0/0 on the upstream gradient).
MEAN = Primitive(
    "mean", _mean,
    vjps=(lambda g, out, a, axes, keepdims: _spread(g, a, axes) / _count(a.shape, axes),),
    jvps=(lambda t, out, a, axes, keepdims: MEAN(t, axes=axes, keepdims=keepdims),),
    notation=Notation("mean", ("1/n for every element (n = {n})",)))


def _argext_weights(out, a, axes):
    """Where the extremum was attained, ties sharing the gradient evenly (as PyTorch)."""
    a_data = a._data if isinstance(a, Tensor) else a
    o_data = out._data if isinstance(out, Tensor) else out
    hit = a_data == o_data.reshape(_kept_shape(a_data.shape, axes))
    return hit / hit.sum(axis=axes, keepdims=True).astype(a_data.dtype)


def _extremum(name, forward, notation: Notation) -> Primitive:
    return Primitive(
        name, lambda a, axes, keepdims: forward(a, axis=axes, keepdims=keepdims),
        vjps=(lambda g, out, a, axes, keepdims:
              _spread(g, a, axes) * _argext_weights(out, a, axes).astype(a.dtype),),
        jvps=(lambda t, out, a, axes, keepdims:
              (t * _argext_weights(out, a, axes)).sum(axis=axes, keepdims=keepdims),),
        notation=notation)


MAX = _extremum("max", np.max, Notation("max", ("1 at the maximum, 0 elsewhere, {shapes}",)))
MIN = _extremum("min", np.min, Notation("min", ("1 at the minimum, 0 elsewhere, {shapes}",)))


def _logsumexp(a, axes, keepdims):
    if a.size == 0:  # log(0) = -inf over empty axes, an empty result otherwise (as PyTorch)
        return np.full(np.sum(a, axis=axes, keepdims=keepdims).shape, -np.inf, dtype=a.dtype)
    m = np.max(a, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True)) + m
    return out if keepdims else out.reshape(np.sum(a, axis=axes).shape)


def _lse_weights(out, a, axes):
    """softmax(a) along axes: d logsumexp / d a."""
    return EXP(a - out.reshape(_kept_shape(a.shape, axes)))


LOGSUMEXP = Primitive(
    "logsumexp", _logsumexp,
    vjps=(lambda g, out, a, axes, keepdims: _spread(g, a, axes) * _lse_weights(out, a, axes),),
    jvps=(lambda t, out, a, axes, keepdims:
          (t * _lse_weights(out, a, axes)).sum(axis=axes, keepdims=keepdims),),
    notation=Notation("logsumexp", ("softmax(a) (Jacobian-vector product), {shapes}",)))


def _reduce(prim: Primitive, x, axis, keepdims) -> Tensor:
    x = as_tensor(x)
    axes = _axes(axis, x.shape, prim.name)
    if prim in (MAX, MIN) and x._data.size == 0:
        # an empty tensor has a max along an axis of nonzero length (an empty result), as
        # in PyTorch, but no max over an axis of length 0 or over everything
        if axes is None:
            raise ValueError(f"{prim.name}: cannot reduce an empty tensor of shape {x.shape} "
                             f"over all its axes; name the axis to reduce")
        empty = [a for a in axes if x.shape[a] == 0]
        if empty:
            raise ValueError(f"{prim.name}: cannot reduce over axis {empty[0]} of length 0 "
                             f"(tensor of shape {x.shape})")
    return apply(prim, (x,), {"axes": axes, "keepdims": keepdims})


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
