"""More of PyTorch's tensor functions, composed from the primitives (so differentiable
where PyTorch's are): gather, index_select, chunk, split, repeat, sort, topk, mm, bmm, dot,
square; and the elementwise tests and roundings, which have no gradient (PyTorch's is zero)."""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.engine import Tensor, _wrap, as_tensor
from chainrule.ops import shape as S
from chainrule.ops.arithmetic import matmul
from chainrule.ops.operands import data_of


def _dim(name: str, x: Tensor, dim: int) -> int:
    return S._dim(name, dim, x.ndim, x.shape)


def gather(x, dim: int, index) -> Tensor:
    """out[i][j] = x[index[i][j]][j] along `dim` (as torch.gather)."""
    x = as_tensor(x)
    d = _dim("gather", x, dim)
    idx = np.asarray(data_of(index)).astype(np.intp)
    if idx.ndim != x.ndim:
        raise ValueError(f"gather: index has {idx.ndim} dims, the input {x.ndim} (shape "
                         f"{x.shape}); they must match")
    grid = list(np.indices(idx.shape, sparse=True))
    grid[d] = idx
    return x[tuple(grid)]


def index_select(x, dim: int, index) -> Tensor:
    x = as_tensor(x)
    d = _dim("index_select", x, dim)
    idx = np.asarray(data_of(index)).astype(np.intp).reshape(-1)
    return x[(slice(None),) * d + (idx,)]


def split(x, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of `split_size` along dim (the last may be shorter), or of the given sizes."""
    x = as_tensor(x)
    d = _dim("split", x, dim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not sum to dim {d}'s length {n}")
    out, start = [], 0
    for s in sizes:
        out.append(x[(slice(None),) * d + (slice(start, start + s),)])
        start += s
    return tuple(out)


def chunk(x, chunks: int, dim: int = 0) -> tuple:
    x = as_tensor(x)
    n = x.shape[_dim("chunk", x, dim)]
    return split(x, max(-(-n // int(chunks)), 1), dim)


def repeat(x, *sizes) -> Tensor:
    """Tile x: repeat(2, 3) gives dim 0 twice and dim 1 three times over (torch.repeat)."""
    x = as_tensor(x)
    sizes = S._shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: give at least {x.ndim} repeat counts for shape {x.shape}")
    x = x.reshape((1,) * (len(sizes) - x.ndim) + x.shape)
    wide, tiled, final = [], [], []
    for r, n in zip(sizes, x.shape):
        wide += [1, n]
        tiled += [r, n]
        final.append(r * n)
    return S.broadcast_to(x.reshape(tuple(wide)), tuple(tiled)).reshape(tuple(final))


def sort(x, dim: int = -1, descending: bool = False, stable: bool = False) -> tuple:
    """(values, indices) sorted along dim; values carry the gradient."""
    from chainrule.ops.reductions import MaxMin
    x = as_tensor(x)
    d = _dim("sort", x, dim)
    order = np.argsort(-x._data if descending else x._data, axis=d, kind="stable")
    return MaxMin(gather(x, d, order), _wrap(order.astype(np.int64)))


def topk(x, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> tuple:  # noqa: A002
    x = as_tensor(x)
    d = _dim("topk", x, dim)
    values, indices = sort(x, d, descending=largest)
    keep = (slice(None),) * d + (slice(0, int(k)),)
    from chainrule.ops.reductions import MaxMin
    return MaxMin(values[keep], _wrap(indices._data[keep]))


def mm(a, b) -> Tensor:
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expects two matrices, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def bmm(a, b) -> Tensor:
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 3 or b.ndim != 3:
        raise ValueError(f"bmm: expects two 3-d tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def dot(a, b) -> Tensor:
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expects two 1-d tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def square(x) -> Tensor:
    x = as_tensor(x)
    return x * x


def _constant(ufunc, doc: str):
    def fn(x: Any) -> Tensor:
        return _wrap(np.asarray(ufunc(data_of(as_tensor(x)))))
    fn.__name__, fn.__doc__ = ufunc.__name__, doc
    return fn


isnan = _constant(np.isnan, "Where x is nan (a bool tensor).")
isinf = _constant(np.isinf, "Where x is ±inf (a bool tensor).")
isfinite = _constant(np.isfinite, "Where x is finite (a bool tensor).")
sign = _constant(np.sign, "The sign of x (no gradient; PyTorch's is zero).")
floor = _constant(np.floor, "x rounded down (no gradient; PyTorch's is zero).")
ceil = _constant(np.ceil, "x rounded up (no gradient; PyTorch's is zero).")
round = _constant(np.round, "x rounded half to even, as PyTorch (no gradient).")  # noqa: A001


def one_hot(x, num_classes: int = -1) -> Tensor:
    """Class indices as one-hot rows (int64), as torch.nn.functional.one_hot."""
    t = np.asarray(data_of(as_tensor(x)))
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects class indices (int64), got {t.dtype}")
    n = int(t.max()) + 1 if num_classes == -1 and t.size else int(num_classes)
    if t.size and (t.min() < 0 or t.max() >= n):
        raise ValueError(f"one_hot: class values must be in [0, {n}), got {t.min()}..{t.max()}")
    return _wrap((t[..., None] == np.arange(n)).astype(np.int64))
