"""Operands of binary ops as Tensors, with PyTorch's type promotion."""
from __future__ import annotations

from chainrule.engine import Tensor, as_tensor
from chainrule.engine.tensors import _constants
from chainrule.ops.shape import astype


def numel(x) -> int:
    """The element count of an array or a Tensor (rules run on both)."""
    n = 1
    for d in x.shape:
        n *= d
    return n


def data_of(x):
    """The array inside a Tensor (anything else as it is): for masks rules compute."""
    return x._data if isinstance(x, Tensor) else x


def operands(a, b) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors with PyTorch's float promotion: a Python or NumPy number
    takes the other operand's dtype, and so does a 0-d float tensor meeting a float
    tensor with dimensions (float32 * 0-d float64 stays float32)."""
    if type(b) is float and type(a) is Tensor:     # the hottest case: tensor op number
        const = _constants.get((b, float, a._data.dtype))   # cached for float tensors only
        if const is not None:
            return a, const
    if not isinstance(b, Tensor):
        a = as_tensor(a)
        b = as_tensor(b, like=a)
        if a._data.dtype.kind == "f":
            return a, b  # the common case: a number met a float tensor and took its dtype
    elif not isinstance(a, Tensor):
        a = as_tensor(a, like=b)
        if b._data.dtype.kind == "f":
            return a, b
    da, db = a._data.dtype, b._data.dtype
    if da is not db and da != db and (a.ndim == 0) != (b.ndim == 0):
        if a.ndim == 0 and db.kind == "f" and da.kind in "biuf":
            a = astype(a, db)  # float32 * 0-d float64 (or 0-d int) stays float32
        elif b.ndim == 0 and da.kind == "f" and db.kind in "biuf":
            b = astype(b, da)
        elif a.ndim == 0 and da.kind == "f" and db.kind in "biu":
            b = astype(b, da)  # int tensor * 1.5 is float32, as in PyTorch
        elif b.ndim == 0 and db.kind == "f" and da.kind in "biu":
            a = astype(a, db)
    elif da is not db and da != db:  # a float tensor meeting an int or bool one keeps its
        if da.kind == "f" and db.kind in "biu":  # dtype (float32 ** int64 is float32)
            b = astype(b, da)
        elif db.kind == "f" and da.kind in "biu":
            a = astype(a, db)
    return a, b
