"""Tensor's operators and math methods, installed onto the engine's Tensor once the
primitives exist (DeZero's setup_variable): the engine itself imports nothing above it."""
from __future__ import annotations

from chainrule import ops
from chainrule.engine import Tensor


def _data(x):
    return x._data if isinstance(x, Tensor) else x


def _set_item(self, index, value):
    ops.setitem_(self, index, value)


METHODS = {
    # arithmetic, with the reflected forms
    "__add__": lambda self, other: ops.add(self, other),
    "__radd__": lambda self, other: ops.add(other, self),
    "__sub__": lambda self, other: ops.sub(self, other),
    "__rsub__": lambda self, other: ops.sub(other, self),
    "__mul__": lambda self, other: ops.mul(self, other),
    "__rmul__": lambda self, other: ops.mul(other, self),
    "__truediv__": lambda self, other: ops.div(self, other),
    "__rtruediv__": lambda self, other: ops.div(other, self),
    "__pow__": lambda self, other: ops.pow(self, other),
    "__rpow__": lambda self, other: ops.pow(other, self),
    "__matmul__": lambda self, other: ops.matmul(self, other),
    "__rmatmul__": lambda self, other: ops.matmul(other, self),
    "__neg__": lambda self: ops.neg(self),
    "__pos__": lambda self: self,
    "__abs__": lambda self: ops.abs(self),
    "__getitem__": lambda self, index: ops.getitem(self, index),
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
    # comparisons give plain boolean arrays (they have no gradient)
    "__lt__": lambda self, other: self._data < _data(other),
    "__le__": lambda self, other: self._data <= _data(other),
    "__gt__": lambda self, other: self._data > _data(other),
    "__ge__": lambda self, other: self._data >= _data(other),
    "__eq__": lambda self, other: self._data == _data(other),
    "__ne__": lambda self, other: self._data != _data(other),
    # methods mirroring the functions in chainrule.ops
    "sum": lambda self, axis=None, keepdims=False: ops.sum(self, axis, keepdims),
    "mean": lambda self, axis=None, keepdims=False: ops.mean(self, axis, keepdims),
    "max": lambda self, axis=None, keepdims=False: ops.max(self, axis, keepdims),
    "min": lambda self, axis=None, keepdims=False: ops.min(self, axis, keepdims),
    "logsumexp": lambda self, axis=None, keepdims=False: ops.logsumexp(self, axis, keepdims),
    "reshape": lambda self, *shape: ops.reshape(self, *shape),
    "transpose": lambda self, *axes: ops.transpose(self, *axes),
    "swapaxes": lambda self, a, b: ops.swapaxes(self, a, b),
    "squeeze": lambda self, axis=None: ops.squeeze(self, axis),
    "expand_dims": lambda self, axis: ops.expand_dims(self, axis),
    "unsqueeze": lambda self, axis: ops.expand_dims(self, axis),
    "broadcast_to": lambda self, shape: ops.broadcast_to(self, shape),
    "flatten": lambda self, start_dim=0: ops.flatten(self, start_dim),
    "astype": lambda self, dtype: ops.astype(self, dtype),
    "exp": lambda self: ops.exp(self),
    "log": lambda self: ops.log(self),
    "sqrt": lambda self: ops.sqrt(self),
    "abs": lambda self: ops.abs(self),
    "sin": lambda self: ops.sin(self),
    "cos": lambda self: ops.cos(self),
    "tanh": lambda self: ops.tanh(self),
    "sigmoid": lambda self: ops.sigmoid(self),
    "relu": lambda self: ops.relu(self),
    "clip": lambda self, min=None, max=None: ops.clip(self, min, max),  # noqa: A002
    "maximum": lambda self, other: ops.maximum(self, other),
    "minimum": lambda self, other: ops.minimum(self, other),
    "softmax": lambda self, axis=-1: ops.softmax(self, axis),
    "log_softmax": lambda self, axis=-1: ops.log_softmax(self, axis),
    "matmul": lambda self, other: ops.matmul(self, other),
    "T": property(lambda self: ops.transpose(self)),
}


def install() -> None:
    """Give Tensor its operators and methods (idempotent)."""
    for name, method in METHODS.items():
        setattr(Tensor, name, method)
    Tensor.__hash__ = object.__hash__  # == gives an array, so hashing stays by identity
