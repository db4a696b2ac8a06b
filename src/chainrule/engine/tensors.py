"""`Tensor`: an array that remembers how it was computed. Its operators and math methods
are installed by `chainrule.ops` once the primitives exist (as DeZero's setup_variable
does), so this module knows nothing above the engine."""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from chainrule.engine.devices import CPU, as_dtype, check_device
from chainrule.engine.nodes import grad_fn as _grad_fn


class Size(tuple):
    """A tensor's shape, as PyTorch's torch.Size: a tuple of ints with `numel()`."""

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self) -> str:
        return f"Size({list(self)})"


class NodeView(NamedTuple):
    """What made a tensor: the primitive (its `.name`, rules and explanation), the input
    tensors and the attributes (read-only)."""
    primitive: Any
    inputs: tuple
    attrs: MappingProxyType

    @property
    def op(self) -> str:
        return self.primitive.name

_default_float = np.dtype(np.float32)


def _to_array(data: Any, dtype: Any = None, int64: bool = False) -> np.ndarray:
    """A fresh array: NumPy data keeps its dtype; Python floats become float32 (PyTorch's
    default dtype), Python ints int64 with `int64` (torch.tensor) else float32 (torch.Tensor),
    Python bools stay bool. Strings and objects are refused."""
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        dtype = as_dtype(dtype, "tensor")
    try:
        arr = np.array(data, dtype=dtype)
    except (TypeError, ValueError) as err:
        if isinstance(data, (str, bytes)) or "could not convert" in str(err):
            raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} data "
                            f"({err}); tensors hold numbers") from None
        raise ValueError(f"tensor: cannot make a tensor from this "
                         f"{type(data).__name__}: {err}") from None
    _check_numeric(arr, "tensor")
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)):
        kind = arr.dtype.kind
        if kind == "f" or (kind in "iu" and not int64):
            arr = arr.astype(_default_float)
        elif kind in "iu":
            arr = arr.astype(np.int64)
    return arr


def _check_numeric(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{name}: cannot make a tensor of dtype {arr.dtype} (strings, objects "
                        f"and dates are not numbers); convert the data to float or int first")


class Tensor:
    """An n-dimensional array that remembers how it was computed, for `backward()`."""

    # _mark, _deps and _g are scratch space for the reverse pass (see engine.backward).
    # Fields that most tensors never change are class defaults, so a new tensor sets only
    # its slots (the instance __dict__ is created on the first change of one of them).
    __slots__ = ("_data", "grad", "requires_grad", "_prim", "_inputs", "_attrs", "_tangent",
                 "_mark", "_deps", "_g", "__dict__", "__weakref__")
    name: str | None = None
    _retain = False     # keep a non-leaf's gradient (retain_grad)
    _version = 0        # in-place changes so far; _vers, _prev: see engine.versions
    _vers = None
    _prev = None
    __array_ufunc__ = None  # ndarray <op> Tensor defers to the Tensor (chainrule.ops installs
                            # the method that also lets `ndarray -= Tensor` work in place)
    __hash__ = object.__hash__  # == gives an array, so hashing stays by identity

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False,
                 name: str | None = None, device: Any = None, _int64: bool = False):
        if device is not None:
            check_device(device, "tensor")
        _init(self, _to_array(data, dtype, _int64))
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"tensor: only floating-point tensors can require grad, "
                            f"got dtype {self._data.dtype}; pass dtype=chainrule.float32")
        self.requires_grad = bool(requires_grad)
        if name is not None:
            self.name = name

    # ---- basic properties -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    def size(self, dim: int | None = None) -> "Size | int":
        """The shape as a `Size` (a tuple), or one dimension's length, as PyTorch's size()."""
        shape = self._data.shape
        if dim is None:
            return Size(shape)
        try:
            return shape[dim]
        except (IndexError, TypeError):
            raise IndexError(f"size: dimension {dim!r} out of range for a tensor of shape "
                             f"{shape} ({len(shape)} dimensions)") from None

    def numel(self) -> int:
        """The number of elements."""
        return self._data.size

    def dim(self) -> int:
        """The number of dimensions (PyTorch's name for ndim)."""
        return self._data.ndim

    @property
    def data(self) -> "Tensor":
        """As in PyTorch: the same values as a new leaf that shares this tensor's memory and
        is cut off from the graph; changes made through it are not tracked by autograd."""
        return _wrap(self._data)

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    @property
    def device(self) -> Any:
        """Always the CPU (chainrule computes with NumPy)."""
        return CPU

    is_cuda = False

    @property
    def grad_fn(self) -> Any:
        """The node that made this tensor, PyTorch-style (None for a leaf)."""
        return _grad_fn(self)

    @property
    def is_leaf(self) -> bool:
        return self._prim is None

    @property
    def op(self) -> str | None:
        """Name of the primitive that produced this tensor (None for leaves)."""
        return None if self._prim is None else self._prim.name

    @property
    def inputs(self) -> tuple:
        """The tensors this one was computed from (empty for leaves or freed graphs)."""
        return self._inputs or ()

    @property
    def tangent(self) -> np.ndarray | None:
        """The forward-mode tangent of the innermost level that reached this tensor (as an
        array), or None."""
        if not self._tangent:
            return None
        t = self._tangent[max(self._tangent)]
        return t._data if isinstance(t, Tensor) else t

    def numpy(self) -> np.ndarray:
        return self._data

    def item(self) -> float:
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python scalar, "
                             f"got shape {self._data.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    @property
    def node(self) -> "NodeView | None":
        """A read-only view of the node that made this tensor: its op, inputs and
        attributes (None for a leaf); what the glass box reads instead of privates."""
        prim = self._prim
        if prim is None:
            return None
        return NodeView(prim, self._inputs, MappingProxyType(self._attrs or {}))

    def detach(self) -> "Tensor":
        """The same values, cut off from the graph (shares memory like PyTorch)."""
        return _wrap(self._data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating-point tensors can require grad, "
                            f"got dtype {self._data.dtype}")
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; "
                               "use .detach().requires_grad_() for a new leaf")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in `.grad` after backward()."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        self._retain = True

    def zero_grad(self) -> None:
        self.grad = None

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extra = ""
        if self._data.dtype not in _QUIET_DTYPES:  # as PyTorch: the defaults go unsaid
            extra += f", dtype={self._data.dtype}"
        if self._prim is not None:
            extra += f", grad_fn=<{self.grad_fn.name()}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"



_QUIET_DTYPES = (np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_))


def _init(t: Tensor, data: np.ndarray) -> Tensor:
    """Every field of a new tensor: a leaf holding `data` (the one place they are set)."""
    t._data = data
    t.grad = t._prim = t._inputs = t._attrs = t._tangent = None
    t.requires_grad = False
    t._mark = 0
    return t


def _wrap(data: np.ndarray) -> Tensor:
    """A new leaf around an existing array, skipping __init__'s checks (hot path)."""
    return _init(_object_new(Tensor), data)


_object_new = object.__new__
_constants: dict = {}


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """A Tensor for an operand. Python and NumPy scalars take the dtype of the float tensor
    they meet (as in PyTorch: `x32 * np.float64(2)` stays float32), and so do integer and
    boolean arrays (an int64 one-hot must not make float32 float64); float arrays keep
    theirs, 0-d ones included (PyTorch: `x32 * np.array(2.0)` is float64).

    Number constants are cached as read-only tensors: loops like `y = y * 0.9` would
    otherwise spend a third of each op building the same 0-d array again."""
    if isinstance(x, Tensor):
        return x
    kind = type(x)
    if like is not None and (kind is float or kind is int):
        const = _constants.get((x, kind, like._data.dtype))
        if const is not None:
            return const
    to_float = like is not None and like._data.dtype.kind == "f"
    if isinstance(x, np.ndarray):
        _check_numeric(x, "tensor")
        if to_float and x.dtype.kind in "biu":
            x = x.astype(like._data.dtype)
        return _wrap(x)
    if to_float and isinstance(x, np.generic) and x.dtype.kind in "iuf":
        x = x.item()
    if like is not None and type(x) is int and like._data.dtype.kind in "iu":
        return _wrap(np.array(x, dtype=like._data.dtype))  # int tensor + 1 stays an int tensor
    if to_float and type(x) in (int, float):
        data = np.array(x, dtype=like._data.dtype)
        data.flags.writeable = False
        const = _wrap(data)
        if x != 0:  # -0.0 == 0.0 as a key: zeros are not cached, so each keeps its sign
            if len(_constants) > 4096:
                _constants.clear()
            _constants[(x, type(x), like._data.dtype)] = const
        return const
    return _wrap(_to_array(x))


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           name: str | None = None, *, device: Any = None, pin_memory: bool = False) -> Tensor:
    """Make a leaf tensor, as torch.tensor: Python floats become float32, Python ints int64,
    bools bool; NumPy arrays keep their dtype."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name, device=device,
                  _int64=True)


def get_default_dtype() -> np.dtype:
    """The dtype Python floats become (float32 unless set_default_dtype changed it)."""
    return _default_float.type


def set_default_dtype(dtype: Any) -> None:
    """As PyTorch's: the dtype Python floats (and torch.Tensor's ints) become."""
    global _default_float
    d = as_dtype(dtype, "set_default_dtype")
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: only floating-point dtypes, got {d}")
    _default_float = d


# ---- in-place operations ----------------------------------------------------------------
