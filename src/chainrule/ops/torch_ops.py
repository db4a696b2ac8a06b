"""PyTorch's names and signatures for tensor functions (torch.cat, torch.flatten, x.view,
x.permute, x.var, x.to(...), comparisons giving bool tensors, ...), written with the
primitives: each is differentiable wherever its primitives are."""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.engine import Tensor, _wrap, as_tensor
from chainrule.engine.devices import DeviceError, as_dtype, check_device, tensor_type_name
from chainrule.engine.devices import device as device_type
from chainrule.ops import elementwise as E
from chainrule.ops import reductions as R
from chainrule.ops import shape as S
from chainrule.ops.arithmetic import matmul as _matmul
from chainrule.ops.operands import data_of


# ---- shapes ---------------------------------------------------------------------------
def _ints(name: str, dims: tuple) -> tuple:
    dims = S._shape_arg(dims)
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in dims):
        raise TypeError(f"{name}: dims must be ints, got {dims!r}")
    return dims


def transpose(x, *dims) -> Tensor:
    """PyTorch's transpose(x, dim0, dim1) swaps two dims; no argument reverses them all and
    a tuple permutes them (NumPy's transpose)."""
    if len(dims) == 2 and all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                              for d in dims):
        return S.swapaxes(x, *dims)
    return S.transpose(x, *dims)


def permute(x, *dims) -> Tensor:
    """Reorder the dims: permute(x, (2, 0, 1)) or x.permute(2, 0, 1); negative dims count
    from the end."""
    x = as_tensor(x)
    dims = _ints("permute", dims)
    if len(dims) != x.ndim:
        raise ValueError(f"permute: the number of dims {len(dims)} does not match the tensor's "
                         f"{x.ndim} dimensions (shape {x.shape})")
    return S.transpose(x, tuple(S._dim("permute", d, x.ndim, x.shape) for d in dims))


def t(x) -> Tensor:
    """The transpose of a matrix (a 0-d or 1-d tensor as it is), as torch.t."""
    x = as_tensor(x)
    if x.ndim > 2:
        raise ValueError(f"t: expects a tensor with <= 2 dimensions, got shape {x.shape}; "
                         f"use transpose(dim0, dim1) or permute")
    return x if x.ndim < 2 else S.transpose(x, (1, 0))


def view(x, *shape) -> Tensor:
    """x's elements in a new shape (a reshape: chainrule's tensors need no contiguity)."""
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer, tuple, list)):
        raise NotImplementedError("view(dtype): reinterpreting the bytes of a tensor as "
                                  "another dtype is not supported yet; use x.to(dtype)")
    return S.reshape(x, *shape)


def view_as(x, other) -> Tensor:
    return S.reshape(x, as_tensor(other).shape)


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one, as torch.flatten."""
    x = as_tensor(x)
    if x.ndim == 0:
        return S.reshape(x, (1,))
    start = S._dim("flatten", start_dim, x.ndim, x.shape)
    end = S._dim("flatten", end_dim, x.ndim, x.shape)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"(shape {x.shape})")
    merged = int(np.prod(x.shape[start:end + 1], dtype=np.int64))
    return S.reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def unsqueeze(x, dim: int) -> Tensor:
    return S.expand_dims(x, dim)


def squeeze(x, dim=None) -> Tensor:
    return S.squeeze(x, dim)


def expand(x, *sizes) -> Tensor:
    """Broadcast to `sizes`; -1 keeps a dim's size (as torch.expand)."""
    x = as_tensor(x)
    sizes = S._shape_arg(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    return S.broadcast_to(x, shape)


def flip(x, dims) -> Tensor:
    """The elements in reverse order along each of `dims`."""
    x = as_tensor(x)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    index = [slice(None)] * x.ndim
    for d in dims:
        index[S._dim("flip", d, x.ndim, x.shape)] = slice(None, None, -1)
    return x[tuple(index)] if x.ndim else x


def cat(tensors, dim: int = 0, *, axis: int | None = None) -> Tensor:
    """torch.cat: join along an existing dim (empty 1-d tensors are skipped, as PyTorch)."""
    dim = axis if axis is not None else dim
    tensors = [as_tensor(t) for t in tensors]
    kept = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    return S.concat(kept, dim)


def stack(tensors, dim: int = 0, *, axis: int | None = None) -> Tensor:
    return S.stack(tensors, axis if axis is not None else dim)


# ---- math -----------------------------------------------------------------------------
def matmul(input, other) -> Tensor:  # noqa: A002
    return _matmul(input, other)


def outer(a, b) -> Tensor:
    """The outer product of two vectors: out[i, j] = a[i] * b[j]."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expects two 1-d tensors, got shapes {a.shape} and {b.shape}")
    return a.reshape(-1, 1) * b.reshape(1, -1)


def clamp(x, min=None, max=None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        x = as_tensor(x)
        if min is not None:
            x = E.maximum(x, min)
        return x if max is None else E.minimum(x, max)
    return E.clip(x, min, max)


def var(x, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None, axis=None, keepdims=None) -> Tensor:
    """Variance over dim (all elements by default), divided by n - correction (PyTorch's
    default correction=1, Bessel's; unbiased=False is correction=0)."""
    if isinstance(dim, bool):  # torch.var(x, False): the old unbiased positional
        dim, unbiased = None, dim
    dim, keepdim = R.dims("var", dim, keepdim, axis, keepdims)
    if correction is None:
        correction = 0 if unbiased is False else 1
    x = as_tensor(x)
    axes = R._axes(dim, x.shape, "var")
    n = R._count(x.shape, axes)
    centered = x - R.mean(x, dim, keepdim=True)
    total = R.sum(centered * centered, dim, keepdim=keepdim)
    return total / max(n - correction, 0) if n - correction > 0 else total * np.nan


def std(x, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None, axis=None, keepdims=None) -> Tensor:
    """Standard deviation: the square root of var (same arguments)."""
    return E.sqrt(var(x, dim, unbiased, keepdim, correction=correction, axis=axis,
                      keepdims=keepdims))


def prod(x, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """The product over dim (all elements by default), by halving products of slices, so its
    gradient is exact where elements are zero and it differentiates to any order."""
    dim, keepdim = R.dims("prod", dim, keepdim, axis, keepdims)
    x = R.accumulating(x, dtype)
    if dim is None:
        out = x.reshape(-1)
        axis_ = 0
    else:
        axis_ = S._dim("prod", dim, x.ndim, x.shape)
        out = x if x.ndim else x.reshape(1)
    one = [slice(None)] * out.ndim
    while out.shape[axis_] > 1:
        n = out.shape[axis_]
        half = n // 2
        lo, hi, rest = list(one), list(one), list(one)
        lo[axis_], hi[axis_], rest[axis_] = slice(0, half), slice(half, 2 * half), slice(2 * half, n)
        paired = out[tuple(lo)] * out[tuple(hi)]
        out = cat([paired, out[tuple(rest)]], axis_) if n % 2 else paired
    if out.shape[axis_] == 0:
        shape = list(out.shape)
        shape[axis_] = 1
        out = S.reshape(as_tensor(np.ones(shape, out.dtype)), tuple(shape))
    if dim is None:
        return out.reshape((1,) * x.ndim if keepdim else ())
    if not x.ndim:
        return out.reshape(())
    return out if keepdim else S.squeeze(out, axis_)


def norm(x, p: Any = "fro", dim=None, keepdim: bool = False) -> Tensor:
    """The 2-norm (Frobenius) over dim or all elements; other p as sum(|x|^p)^(1/p)."""
    x = as_tensor(x)
    if p in ("fro", 2, 2.0, None):
        return E.sqrt(R.sum(x * x, dim, keepdim))
    if p in (float("inf"), "inf"):
        return R.max(E.abs(x), axis=dim, keepdims=keepdim)
    return R.sum(E.abs(x) ** p, dim, keepdim) ** (1.0 / p)


# ---- comparisons: boolean tensors (no gradient) -----------------------------------------
def _compare(ufunc):
    def compare(a, b) -> Tensor:
        return _wrap(np.asarray(ufunc(data_of(a), data_of(b))))
    compare.__name__ = ufunc.__name__
    compare.__doc__ = f"Elementwise {ufunc.__name__} as a bool tensor (no gradient)."
    return compare


eq, ne, lt, le, gt, ge = (_compare(u) for u in (np.equal, np.not_equal, np.less,
                                                  np.less_equal, np.greater, np.greater_equal))


def logical_not(x) -> Tensor:
    return _wrap(np.asarray(np.logical_not(data_of(x))))


def equal(a, b) -> bool:
    """True if a and b have the same shape and elements."""
    a, b = np.asarray(data_of(a)), np.asarray(data_of(b))
    return a.shape == b.shape and bool(np.all(a == b))


def allclose(a, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    return bool(np.allclose(data_of(a), data_of(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(a, b, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    return _wrap(np.asarray(np.isclose(data_of(a), data_of(b), rtol=rtol, atol=atol,
                                       equal_nan=equal_nan)))


def where(cond, x=None, y=None) -> Any:
    """torch.where(cond, x, y) elementwise; torch.where(cond) the indices of true elements."""
    if x is None and y is None:
        return tuple(_wrap(i.astype(np.int64)) for i in np.nonzero(data_of(cond)))
    return E.where(cond, x, y)


def masked_fill(x, mask, value) -> Tensor:
    return E.where(mask, value, x)


# ---- dtypes and devices -----------------------------------------------------------------
def to(x: Tensor, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False,
       copy: bool = False, memory_format: Any = None) -> Tensor:
    """x.to(dtype), x.to(device), x.to(other), x.to(device, dtype): the same tensor when
    nothing changes (as PyTorch); a dtype change is a differentiable cast."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, device_type)) or (isinstance(a, int) and not isinstance(a, bool)):
            device = a
        else:
            dtype = a
    check_device(device, "to")
    if dtype is not None and np.dtype(as_dtype(dtype, "to")) != x.dtype:
        return S.astype(x, as_dtype(dtype, "to"))
    return S.astype(x, x.dtype) if copy else x


def type_(x: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """x.type() is PyTorch's type string ('torch.FloatTensor'); x.type(dtype) converts."""
    if dtype is None:
        return tensor_type_name(x.dtype)
    return to(x, as_dtype(dtype, "type"))


def cpu(x: Tensor) -> Tensor:
    return x


def cuda(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    raise DeviceError(f"cuda: {_NO_GPU}")


_NO_GPU = ("chainrule computes on the CPU with NumPy only (no CUDA, MPS or other "
           "accelerator); leave the tensor on the CPU, or move the script to PyTorch to use a "
           "GPU (chainrule.save writes safetensors files that torch loads)")


def new_tensor_like(x: Tensor, maker, *args: Any, dtype: Any = None, device: Any = None,
                    requires_grad: bool = False) -> Tensor:
    """x.new_zeros(...) and friends: x's dtype unless dtype= says otherwise."""
    check_device(device, "new tensor")
    data = maker(*args, dtype=as_dtype(dtype, "new tensor") if dtype is not None else x.dtype)
    return Tensor(data, requires_grad=requires_grad)
