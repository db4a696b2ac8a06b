"""Tensor's operators and math methods, installed onto the engine's Tensor once the
primitives exist (DeZero's setup_variable): the engine itself imports nothing above it."""
from __future__ import annotations

import numpy as np

from chainrule import ops
from chainrule.engine import Tensor, _wrap
from chainrule.ops import torch_more as M
from chainrule.ops import torch_ops as T


def _data(x):
    return x._data if isinstance(x, Tensor) else x


def _size(size: tuple) -> tuple:
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size


def _dim(dim, axis):
    return dim if axis is None else axis


def _format(self, spec: str) -> str:
    """f"{loss:.4f}" formats a one-element tensor as its number, as PyTorch does."""
    if spec and self._data.size == 1:
        return format(self._data.item(), spec)
    return format(repr(self), spec)


def _index(self) -> int:
    if self._data.size != 1 or self._data.dtype.kind not in "biu":
        raise TypeError(f"only integer tensors of a single element can be converted to an "
                        f"index (dtype {self._data.dtype}, shape {self._data.shape})")
    return int(self._data.item())


_BINARY = {np.add: "add", np.subtract: "sub", np.multiply: "mul", np.true_divide: "truediv",
           np.power: "pow", np.matmul: "matmul", np.less: "lt", np.less_equal: "le",
           np.greater: "gt", np.greater_equal: "ge", np.equal: "eq", np.not_equal: "ne"}
_SWAPPED = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}
_UNARY = {np.negative: "__neg__", np.positive: "__pos__", np.exp: "exp", np.log: "log",
          np.log1p: "log1p", np.sqrt: "sqrt", np.absolute: "abs", np.sin: "sin", np.cos: "cos",
          np.tanh: "tanh", np.sinh: "sinh", np.cosh: "cosh", np.square: "square"}


def _array_ufunc(self, ufunc, method, *inputs, out=None, **kwargs):
    """NumPy meeting a Tensor, as HIPS autograd's arrays do: `ndarray * t`, `np.exp(t)` give
    Tensors (differentiable); `w -= lr * g` with an ndarray w updates w in place (its
    values, not a graph)."""
    if out is not None:  # an ndarray written in place: plain values
        if any(isinstance(o, Tensor) for o in out):
            raise TypeError(f"numpy.{ufunc.__name__}: out= cannot be a Tensor; use the "
                            f"Tensor's in-place methods (x.add_(y)) instead")
        arrays = [i._data if isinstance(i, Tensor) else i for i in inputs]
        return getattr(ufunc, method)(*arrays, out=out, **kwargs)
    if method == "__call__" and not kwargs:
        if len(inputs) == 2 and ufunc in _BINARY:
            a, b = inputs
            name = _BINARY[ufunc]
            if isinstance(a, Tensor):
                return getattr(a, f"__{name}__")(b)
            if name in _SWAPPED:
                return getattr(b, f"__{_SWAPPED[name]}__")(a)
            return getattr(b, f"__r{name}__")(a)
        if len(inputs) == 1 and ufunc in _UNARY:
            return getattr(inputs[0], _UNARY[ufunc])()
    if any(isinstance(i, Tensor) and i.requires_grad for i in inputs):
        raise TypeError(f"numpy.{ufunc.__name__}{'' if method == '__call__' else '.' + method}"
                        f" is not differentiable on a Tensor that requires grad; use the "
                        f"Tensor's own operators and methods (chainrule.ops), or .detach() it")
    arrays = [i._data if isinstance(i, Tensor) else i for i in inputs]
    result = getattr(ufunc, method)(*arrays, **kwargs)
    wrap = lambda r: _wrap(np.asarray(r)) if isinstance(r, (np.ndarray, np.generic)) else r  # noqa: E731
    return tuple(wrap(r) for r in result) if isinstance(result, tuple) else wrap(result)


def _set_item(self, index, value):
    ops.setitem_(self, index, value)


METHODS = {
    # arithmetic, with the reflected forms
    "__add__": ops.add,  # (self, other) is (a, b): no extra call on the hot path
    "__radd__": lambda self, other: ops.add(other, self),
    "__sub__": ops.sub,  # (self, other) is (a, b): no extra call on the hot path
    "__rsub__": lambda self, other: ops.sub(other, self),
    "__mul__": ops.mul,  # (self, other) is (a, b): no extra call on the hot path
    "__rmul__": lambda self, other: ops.mul(other, self),
    "__truediv__": ops.div,  # (self, other) is (a, b): no extra call on the hot path
    "__rtruediv__": lambda self, other: ops.div(other, self),
    "__pow__": lambda self, other: ops.pow(self, other),
    "__rpow__": lambda self, other: ops.pow(other, self),
    "__matmul__": lambda self, other: ops.matmul(self, other),
    "__rmatmul__": lambda self, other: ops.matmul(other, self),
    "__neg__": lambda self: ops.neg(self),
    "__pos__": lambda self: self,
    "__abs__": lambda self: ops.abs(self),
    "__getitem__": lambda self, index: ops.getitem(self, index),
    "__format__": _format,
    "__array_ufunc__": _array_ufunc,
    "__index__": _index,
    "__int__": lambda self: int(self.item()),
    # in place: PyTorch's semantics, with version counters (see engine.versions)
    "__iadd__": lambda self, other: ops.add_(self, other),
    "__isub__": lambda self, other: ops.sub_(self, other),
    "__imul__": lambda self, other: ops.mul_(self, other),
    "__itruediv__": lambda self, other: ops.div_(self, other),
    "__ipow__": lambda self, other: ops.pow_(self, other),
    "__setitem__": _set_item,
    "add_": lambda self, other, alpha=1: ops.add_(self, other, alpha),
    "sub_": lambda self, other, alpha=1: ops.sub_(self, other, alpha),
    "mul_": lambda self, other: ops.mul_(self, other),
    "div_": lambda self, other: ops.div_(self, other),
    "pow_": lambda self, other: ops.pow_(self, other),
    "clamp_": lambda self, min=None, max=None: ops.clamp_(self, min, max),  # noqa: A002
    "zero_": lambda self: ops.fill_(self, 0),
    "fill_": lambda self, value: ops.fill_(self, value),
    "copy_": lambda self, src: ops.copy_(self, src),
    "normal_": lambda self, mean=0.0, std=1.0: ops.normal_(self, mean, std),
    "uniform_": lambda self, a=0.0, b=1.0: ops.uniform_(self, a, b),
    "clone": lambda self: ops.clone(self),
    # comparisons give boolean tensors (they have no gradient), as PyTorch's
    "__lt__": lambda self, other: T.lt(self, other),
    "__le__": lambda self, other: T.le(self, other),
    "__gt__": lambda self, other: T.gt(self, other),
    "__ge__": lambda self, other: T.ge(self, other),
    "__eq__": lambda self, other: T.eq(self, other),
    "__ne__": lambda self, other: T.ne(self, other),
    "__invert__": lambda self: T.logical_not(self),
    "eq": T.eq, "ne": T.ne, "lt": T.lt, "le": T.le, "gt": T.gt, "ge": T.ge,
    "equal": T.equal, "allclose": T.allclose, "isclose": T.isclose,
    # reductions: PyTorch's dim=/keepdim=, NumPy's axis=/keepdims= as aliases
    "sum": ops.sum, "mean": ops.mean, "max": ops.max, "min": ops.min,
    "logsumexp": ops.logsumexp, "argmax": ops.argmax, "argmin": ops.argmin,
    "cumsum": ops.cumsum, "prod": T.prod, "var": T.var, "std": T.std, "norm": T.norm,
    "amax": lambda self, dim=None, keepdim=False: ops.max(self, axis=dim, keepdims=keepdim),
    "amin": lambda self, dim=None, keepdim=False: ops.min(self, axis=dim, keepdims=keepdim),
    "all": lambda self, dim=None, keepdim=False: _wrap(np.asarray(
        np.all(self._data, axis=dim, keepdims=keepdim))),
    "any": lambda self, dim=None, keepdim=False: _wrap(np.asarray(
        np.any(self._data, axis=dim, keepdims=keepdim))),
    # shapes
    "reshape": lambda self, *shape: ops.reshape(self, *shape),
    "view": T.view, "view_as": T.view_as, "permute": T.permute, "t": T.t,
    "transpose": T.transpose,
    "swapaxes": lambda self, a, b: ops.swapaxes(self, a, b),
    "squeeze": T.squeeze, "unsqueeze": T.unsqueeze,
    "expand_dims": lambda self, axis: ops.expand_dims(self, axis),
    "broadcast_to": lambda self, shape: ops.broadcast_to(self, shape),
    "expand": T.expand,
    "expand_as": lambda self, other: ops.broadcast_to(self, other.shape),
    "flatten": T.flatten, "flip": T.flip,
    "contiguous": lambda self, memory_format=None: self,
    "is_contiguous": lambda self, memory_format=None: True,
    # dtypes and devices
    "astype": lambda self, dtype: ops.astype(self, dtype),
    "to": T.to, "type": T.type_, "cpu": T.cpu, "cuda": T.cuda,
    "double": lambda self, memory_format=None: T.to(self, np.float64),
    "float": lambda self, memory_format=None: T.to(self, np.float32),
    "half": lambda self, memory_format=None: T.to(self, np.float16),
    "long": lambda self, memory_format=None: T.to(self, np.int64),
    "int": lambda self, memory_format=None: T.to(self, np.int32),
    "bool": lambda self, memory_format=None: T.to(self, np.bool_),
    "type_as": lambda self, other: T.to(self, other.dtype),
    "new_zeros": lambda self, *size, **kw: T.new_tensor_like(self, np.zeros, _size(size), **kw),
    "new_ones": lambda self, *size, **kw: T.new_tensor_like(self, np.ones, _size(size), **kw),
    "new_full": lambda self, size, fill_value, **kw: T.new_tensor_like(
        self, np.full, tuple(size), fill_value, **kw),
    "new_tensor": lambda self, data, **kw: T.new_tensor_like(self, np.array, data, **kw),
    # math
    "exp": lambda self: ops.exp(self),
    "log": lambda self: ops.log(self),
    "log1p": lambda self: ops.log1p(self),
    "sqrt": lambda self: ops.sqrt(self),
    "square": lambda self: ops.mul(self, self),
    "abs": lambda self: ops.abs(self),
    "sin": lambda self: ops.sin(self),
    "cos": lambda self: ops.cos(self),
    "sinh": lambda self: ops.sinh(self),
    "cosh": lambda self: ops.cosh(self),
    "tanh": lambda self: ops.tanh(self),
    "sigmoid": lambda self: ops.sigmoid(self),
    "relu": lambda self: ops.relu(self),
    "neg": lambda self: ops.neg(self),
    "pow": lambda self, exponent: ops.pow(self, exponent),
    "add": lambda self, other, alpha=1: ops.add(self, other if alpha == 1 else ops.mul(other, alpha)),
    "sub": lambda self, other, alpha=1: ops.sub(self, other if alpha == 1 else ops.mul(other, alpha)),
    "mul": lambda self, other: ops.mul(self, other),
    "div": lambda self, other: ops.div(self, other),
    "clip": lambda self, min=None, max=None: T.clamp(self, min, max),  # noqa: A002
    "clamp": lambda self, min=None, max=None: T.clamp(self, min, max),  # noqa: A002
    "maximum": lambda self, other: ops.maximum(self, other),
    "minimum": lambda self, other: ops.minimum(self, other),
    "masked_fill": T.masked_fill,
    "softmax": lambda self, dim=-1, *, axis=None: ops.softmax(self, _dim(dim, axis)),
    "log_softmax": lambda self, dim=-1, *, axis=None: ops.log_softmax(self, _dim(dim, axis)),
    "matmul": lambda self, other: ops.matmul(self, other),
    "mm": lambda self, other: ops.matmul(self, other),
    "dot": lambda self, other: ops.matmul(self, other),
    "outer": T.outer,
    "nelement": lambda self: self._data.size,
    "gather": M.gather, "index_select": M.index_select, "split": M.split, "chunk": M.chunk,
    "repeat": M.repeat, "sort": M.sort, "topk": M.topk, "bmm": M.bmm,
    "isnan": M.isnan, "isinf": M.isinf, "isfinite": M.isfinite, "sign": M.sign,
    "floor": M.floor, "ceil": M.ceil, "round": M.round,
    "T": property(lambda self: ops.transpose(self)),
}


def install() -> None:
    """Give Tensor its operators and methods (idempotent)."""
    for name, method in METHODS.items():
        setattr(Tensor, name, method)
    Tensor.__hash__ = object.__hash__  # == gives a tensor, so hashing stays by identity
