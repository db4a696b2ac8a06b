"""Shape primitives: reshape, transpose, indexing, broadcast_to, concat, stack, astype."""
from __future__ import annotations

import numpy as np

from chainrule.engine import Primitive, Tensor, VariadicRule, apply, as_tensor
from chainrule.engine.graph import Notation

# what explain says of an op that only moves values: its local derivative is 1 per value
MOVES = ("1: values only move (g is rearranged back)",)


def scatter_add(g: np.ndarray, index, shape: tuple) -> np.ndarray:
    """A zero array of `shape` with `g` added at `index` (repeated indices accumulate)."""
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


RESHAPE = Primitive(
    "reshape", lambda a, shape: np.reshape(a, shape),
    vjps=(lambda g, out, a, shape: g.reshape(a.shape),),
    jvps=(lambda t, out, a, shape: t.reshape(shape),),
    notation=Notation("reshape", MOVES))

TRANSPOSE = Primitive(
    "transpose", lambda a, axes: np.transpose(a, axes),
    vjps=(lambda g, out, a, axes: g.transpose(tuple(np.argsort(axes))),),
    jvps=(lambda t, out, a, axes: t.transpose(axes),),
    notation=Notation("transpose", MOVES))

BROADCAST_TO = Primitive(
    "broadcast_to", lambda a, shape: np.broadcast_to(a, shape),
    vjps=(lambda g, out, a, shape: g,),  # the reverse pass sums the broadcast axes
    jvps=(lambda t, out, a, shape: BROADCAST_TO(t, shape=shape),),
    notation=Notation("broadcast_to", MOVES))

GETITEM = Primitive(
    "getitem", lambda a, index: a[index],
    vjps=(lambda g, out, a, index: INDEX_ADD(g, index=index, shape=a.shape),),
    jvps=(lambda t, out, a, index: t[index],),
    notation=Notation("getitem", MOVES))

# the transpose of indexing: zeros of `shape` with g added at `index`
INDEX_ADD = Primitive(
    "index_add", lambda g, index, shape: scatter_add(g, index, shape),
    vjps=(lambda g, out, a, index, shape: g[index],),
    jvps=(lambda t, out, a, index, shape: INDEX_ADD(t, index=index, shape=shape),),
    notation=Notation("index_add", MOVES))

ASTYPE = Primitive(
    "astype", lambda a, dtype: a.astype(dtype),
    vjps=(lambda g, out, a, dtype: g.astype(a.dtype),),
    jvps=(lambda t, out, a, dtype: t.astype(dtype),),
    notation=Notation("astype", ("1",), elementwise=True))


def _slice_along(axis: int, which) -> tuple:
    return (slice(None),) * axis + (which,)


def _concat_vjp(i, g, out, arrays, axis, bounds):
    return g[_slice_along(axis, slice(bounds[i], bounds[i + 1]))]


def _concat_jvp(i, t, out, arrays, axis, bounds):
    return INDEX_ADD(t, index=_slice_along(axis, slice(bounds[i], bounds[i + 1])),
                     shape=out.shape)


CONCAT = Primitive(
    "concat", lambda *arrays, axis, bounds: np.concatenate(arrays, axis=axis),
    vjps=VariadicRule(_concat_vjp), jvps=VariadicRule(_concat_jvp),
    notation=Notation("concat", MOVES))


def _stack_jvp(i, t, out, arrays, axis):
    return INDEX_ADD(t, index=_slice_along(axis, i), shape=out.shape)


STACK = Primitive(
    "stack", lambda *arrays, axis: np.stack(arrays, axis=axis),
    vjps=VariadicRule(lambda i, g, out, arrays, axis: g[_slice_along(axis, i)]),
    jvps=VariadicRule(_stack_jvp),
    notation=Notation("stack", MOVES))


def _dummy(shape: tuple) -> np.ndarray:
    """A zero-byte array of `shape`, for letting NumPy work out shapes."""
    return np.broadcast_to(np.empty((), dtype=np.bool_), shape)


def _shape_arg(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x, *shape) -> Tensor:
    """Reshape like NumPy (one dimension may be -1); accepts reshape(2, 3) or reshape((2, 3))."""
    x = as_tensor(x)
    shape = _shape_arg(shape)
    try:
        target = np.reshape(_dummy(x.shape), shape).shape
    except ValueError:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.numel()} elements) into shape {shape}") from None
    return apply(RESHAPE, (x,), {"shape": target})


def transpose(x, *axes) -> Tensor:
    """Permute axes (reverse them when none are given), like NumPy."""
    x = as_tensor(x)
    axes = _shape_arg(axes) if axes and axes[0] is not None else tuple(range(x.ndim))[::-1]
    if sorted(a % max(x.ndim, 1) for a in axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of a "
                         f"{x.ndim}-dim tensor's axes (shape {x.shape})")
    return apply(TRANSPOSE, (x,), {"axes": tuple(a % max(x.ndim, 1) for a in axes)})


def _dim(name: str, axis, ndim: int, shape: tuple) -> int:
    """`axis` as a non-negative dimension of an ndim-d tensor (0-d tensors take 0 and -1, as
    in PyTorch); out of range is PyTorch's IndexError, naming the op and the shape."""
    n = max(ndim, 1)
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{name}: dim must be an int, got {type(axis).__name__} (shape {shape})")
    if not -n <= axis < n:
        raise IndexError(f"{name}: dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {axis}) for a tensor of shape {shape}")
    return int(axis) % n


def swapaxes(x, a: int, b: int) -> Tensor:
    x = as_tensor(x)
    a, b = _dim("swapaxes", a, x.ndim, x.shape), _dim("swapaxes", b, x.ndim, x.shape)
    axes = list(range(x.ndim))
    if x.ndim:
        axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, tuple(axes))


def squeeze(x, axis=None) -> Tensor:
    """Drop size-1 axes (all of them, or those named); naming an axis whose size is not 1
    leaves it, as in PyTorch."""
    x = as_tensor(x)
    if axis is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        drop = {_dim("squeeze", a, x.ndim, x.shape) for a in axes}
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in drop and n == 1))
    return apply(RESHAPE, (x,), {"shape": shape})


def expand_dims(x, axis) -> Tensor:
    x = as_tensor(x)
    axis = _dim("unsqueeze", axis, x.ndim + 1, x.shape)
    return apply(RESHAPE, (x,), {"shape": x.shape[:axis] + (1,) + x.shape[axis:]})


def flatten(x, start_dim: int = 0) -> Tensor:
    """Merge the axes from start_dim on into one (Flatten's start_dim=1 keeps the batch)."""
    x = as_tensor(x)
    start = _dim("flatten", start_dim, x.ndim, x.shape)
    return reshape(x, x.shape[:start] + (int(np.prod(x.shape[start:], dtype=np.int64)),))


def broadcast_to(x, shape) -> Tensor:
    x = as_tensor(x)
    shape = tuple(shape)
    try:
        np.broadcast_shapes(x.shape, shape)
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return apply(BROADCAST_TO, (x,), {"shape": shape})


def _index(index):
    """Indices as NumPy understands them: Tensors and lists become arrays."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_int(i) -> bool:
    return isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))


def ints_first(index):
    """PyTorch applies integer indices before index arrays (x[0, :, idx] is x[0][:, idx]);
    NumPy counts them as advanced, which moves or transposes the result. Where the two
    differ, returns the index as two steps (the integers, then the rest), else None."""
    if not isinstance(index, tuple) or not any(_is_int(i) for i in index) \
            or not any(isinstance(i, np.ndarray) and i.ndim > 0 for i in index):
        return None
    first = []
    for i in index:
        if _is_int(i) or i is Ellipsis:
            first.append(i)
        elif isinstance(i, np.ndarray) and i.dtype == bool:
            first.extend([slice(None)] * i.ndim)
        elif i is not None:
            first.append(slice(None))
    return tuple(first), tuple(i for i in index if not _is_int(i))


def getitem(x, index) -> Tensor:
    """Indexing with slices, integers, integer arrays or boolean masks, laid out as in
    PyTorch; backward scatter-adds."""
    x = as_tensor(x)
    index = _index(index)
    steps = ints_first(index)
    if steps is not None:
        return getitem(getitem(x, steps[0]), steps[1])
    return apply(GETITEM, (x,), {"index": index})


def index_add(g, index, shape) -> Tensor:
    return apply(INDEX_ADD, (as_tensor(g),), {"index": index, "shape": tuple(shape)})


def astype(x, dtype) -> Tensor:
    """Cast to `dtype`. A cast to an integer or boolean dtype cuts the graph (as in
    PyTorch: such a tensor has no gradient)."""
    x = as_tensor(x)
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc":
        from chainrule.engine import _wrap
        return _wrap(x._data.astype(dtype))
    return apply(ASTYPE, (x,), {"dtype": dtype})


def _check_same_rank(name, tensors):
    if not tensors:
        raise ValueError(f"{name}: needs at least one tensor")


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    tensors = tuple(as_tensor(t) for t in tensors)
    _check_same_rank("concat", tensors)
    ndim = tensors[0].ndim
    if ndim == 0:
        raise ValueError("concat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = _dim("concat", axis, ndim, tensors[0].shape)
    bounds = np.cumsum([0] + [t.shape[axis] if t.ndim == ndim else 0 for t in tensors]).tolist()
    return apply(CONCAT, tensors, {"axis": axis, "bounds": bounds})


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    tensors = tuple(as_tensor(t) for t in tensors)
    _check_same_rank("stack", tensors)
    axis = _dim("stack", axis, tensors[0].ndim + 1, tensors[0].shape)
    return apply(STACK, tensors, {"axis": axis})
