"""Reductions: sum mean max min logsumexp argmax argmin cumsum, each with PyTorch's `dim` and
`keepdim` (NumPy's `axis` and `keepdims` are aliases)."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from chainrule.engine import Primitive, Tensor, _wrap, apply, as_tensor
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
    return math.prod(n for i, n in enumerate(shape) if axes is None or i in axes)


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
    notation=Notation("logsumexp", ("softmax(a) (vector-Jacobian product), {shapes}",)))


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


def dims(name: str, dim, keepdim, axis, keepdims) -> tuple:
    """PyTorch's dim=/keepdim= with NumPy's axis=/keepdims= as aliases: (dim, keepdim)."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}: pass dim= or its alias axis=, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, list):
        dim = tuple(dim)
    return dim, bool(keepdim)


def sum(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None,  # noqa: A001
        dtype=None) -> Tensor:
    dim, keepdim = dims("sum", dim, keepdim, axis, keepdims)
    return _reduce(SUM, accumulating(x, dtype), dim, keepdim)


def accumulating(x, dtype=None) -> Tensor:
    """x in the dtype a sum, product or running sum accumulates in: `dtype` if given,
    int64 for bools and ints (as PyTorch), else its own."""
    x = as_tensor(x)
    if dtype is not None:
        return x.astype(dtype)
    return x.astype(np.int64) if x.dtype.kind in "biu" else x


def mean(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None, dtype=None) -> Tensor:
    dim, keepdim = dims("mean", dim, keepdim, axis, keepdims)
    x = as_tensor(x)
    if dtype is not None:
        x = x.astype(dtype)
    elif x.dtype.kind not in "fc":
        raise TypeError(f"mean: could not infer the output dtype: the input is {x.dtype}; "
                        f"pass dtype= or convert it first (x.float())")
    return _reduce(MEAN, x, dim, keepdim)


class MaxMin(NamedTuple):
    """max/min along a dim, as PyTorch's torch.return_types: (values, indices)."""
    values: Tensor
    indices: Tensor


def _extreme(prim: Primitive, pick, x, dim, keepdim, axis, keepdims):
    if isinstance(dim, Tensor) or (dim is not None and not isinstance(dim, (int, np.integer, tuple, list))):
        from chainrule.ops.elementwise import maximum, minimum
        return (maximum if prim is MAX else minimum)(x, dim)  # torch.max(a, b)
    by_dim = dim is not None and not isinstance(dim, (tuple, list))
    dim, keepdim = dims(prim.name, dim, keepdim, axis, keepdims)
    values = _reduce(prim, x, dim, keepdim)
    if not by_dim:  # the whole tensor, or NumPy's axis= spelling: the values only
        return values
    return MaxMin(values, _arg(pick, prim.name, as_tensor(x), dim, keepdim))


def max(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):  # noqa: A001
    """The largest element; with dim=, PyTorch's (values, indices); with a tensor, the
    elementwise maximum; with NumPy's axis=, the values along the axis."""
    return _extreme(MAX, np.argmax, x, dim, keepdim, axis, keepdims)


def min(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):  # noqa: A001
    """The smallest element; see max."""
    return _extreme(MIN, np.argmin, x, dim, keepdim, axis, keepdims)


def _arg(pick, name: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    """Indices of the extremum (int64, no gradient), the first one on ties."""
    data = x._data
    if dim is None:
        if data.size == 0:
            raise ValueError(f"{name}: cannot take the arg-extremum of an empty tensor")
        out = np.asarray(pick(data.reshape(-1)))
        return _wrap(out.reshape((1,) * data.ndim) if keepdim else out)
    axes = _axes(dim, data.shape, name)
    ax = axes[0] if axes else 0
    if data.ndim == 0:
        return _wrap(np.zeros((), np.int64))
    if data.shape[ax] == 0:
        raise ValueError(f"{name}: cannot reduce over dim {ax} of length 0 (shape {data.shape})")
    return _wrap(np.asarray(pick(data, axis=ax, keepdims=keepdim)).astype(np.int64))


def argmax(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    dim, keepdim = dims("argmax", dim, keepdim, axis, keepdims)
    return _arg(np.argmax, "argmax", as_tensor(x), dim, keepdim)


def argmin(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    dim, keepdim = dims("argmin", dim, keepdim, axis, keepdims)
    return _arg(np.argmin, "argmin", as_tensor(x), dim, keepdim)


def logsumexp(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """log(sum(exp(x))) computed without overflow."""
    dim, keepdim = dims("logsumexp", dim, keepdim, axis, keepdims)
    return _reduce(LOGSUMEXP, x, dim, keepdim)


def _reversed(x, axis: int):
    return x[(slice(None),) * axis + (slice(None, None, -1),)]


CUMSUM = Primitive(
    "cumsum", lambda a, axis: np.cumsum(a, axis=axis),
    vjps=(lambda g, out, a, axis: _reversed(CUMSUM(_reversed(g, axis), axis=axis), axis),),
    jvps=(lambda t, out, a, axis: CUMSUM(t, axis=axis),),
    notation=Notation("cumsum", ("1 for every element at or before the output's, {shapes}",)))


def cumsum(x, dim=None, *, axis=None, dtype=None) -> Tensor:
    """Running sums along dim (as torch.cumsum; ints accumulate as int64)."""
    dim, _ = dims("cumsum", dim, False, axis, None)
    x = accumulating(x, dtype)
    if dim is None:
        raise TypeError("cumsum: missing the dim to accumulate along (cumsum(x, dim=0))")
    axes = _axes(dim, x.shape, "cumsum")
    if axes is None:  # a 0-d tensor
        return x.reshape(())
    return apply(CUMSUM, (x,), {"axis": axes[0]})
