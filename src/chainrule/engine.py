"""The autograd engine: `Tensor`, primitives and the reverse pass.

A `Tensor` wraps a NumPy array. Applying a `Primitive` to tensors that require grad
records the node (primitive, inputs, attributes) on the result: the graph is plain data,
parents are referenced only from children (no cycles), and `backward()` walks it
iteratively in topological order (Kahn's algorithm), so a chain of a million nodes needs
no recursion and time linear in its size.

Each primitive keeps its forward, its per-input VJP rules and per-input JVP rules side by
side (see `chainrule.ops`). The reverse pass runs the VJP rules on plain arrays when the
backward itself need not be differentiated, and on Tensors (recording a new graph) for
`create_graph=True` or when forward-mode tangents are live (forward-over-reverse).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import itertools
import threading

import numpy as np

__all__ = ["Tensor", "Primitive", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
           "set_grad_enabled", "backward_pass"]

_ndarray = np.ndarray
_object_new = object.__new__



class _EngineState(threading.local):
    """Per-thread engine state, as in PyTorch: whether ops record the graph, and how many
    forward-mode (jvp) evaluations are live (tangents only propagate while this is > 0)."""
    grad_enabled = True
    fwd_level = 0


_state = _EngineState()


def _quiet_numpy() -> tuple:
    """A cheap `np.errstate(all="ignore")`, so ops give IEEE results (inf, nan) quietly, as
    PyTorch does: `(enter, QUIET, exit)`, used as `token = enter(QUIET) ... exit(token)`.
    Setting NumPy's error-state context variable directly costs a tenth of entering
    np.errstate on every op; with another NumPy, np.errstate itself is the fallback."""
    try:
        from numpy._core._ufunc_config import _extobj_contextvar as var
        with np.errstate(all="ignore"):
            quiet = var.get()
        return var.set, quiet, var.reset
    except (ImportError, AttributeError):
        def enter(quiet):
            ctx = np.errstate(all="ignore")
            ctx.__enter__()
            return ctx
        return enter, None, (lambda ctx: ctx.__exit__(None, None, None))


_quiet_enter, _QUIET, _quiet_exit = _quiet_numpy()


class Primitive:
    """A differentiable operation: `forward` on arrays, one VJP and one JVP rule per input.

    `vjps[i](g, out, *args, **attrs)` returns the gradient for input i given the upstream
    gradient `g`; `jvps[i](t, out, *args, **attrs)` pushes input i's tangent `t` forward.
    Rules receive arrays, or Tensors when the backward pass must itself be differentiable,
    so they are written with operators and the generic helpers of `chainrule.ops.generic`.
    """

    __slots__ = ("name", "forward", "vjps", "jvps")

    def __init__(self, name: str, forward: Callable[..., np.ndarray],
                 vjps: Sequence[Callable] | "VariadicRule",
                 jvps: Sequence[Callable] | "VariadicRule" | None = None):
        self.name, self.forward, self.vjps, self.jvps = name, forward, vjps, jvps

    def __call__(self, *inputs: Any, **attrs: Any) -> "Tensor":
        return apply(self, tuple(map(as_tensor, inputs)), attrs)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


class VariadicRule:
    """Rules for a primitive with any number of inputs: `rule(i, g, out, args, **attrs)`
    gets the input tuple as one argument (spreading 100,000 inputs into every call
    would make a wide concat quadratic)."""

    __slots__ = ("rule",)

    def __init__(self, rule: Callable):
        self.rule = rule

    def __getitem__(self, i: int) -> Callable:
        rule = self.rule
        return lambda g, out, *args, **attrs: rule(i, g, out, args, **attrs)


class _FreedGraph:
    """Marks a node whose graph was freed by a backward pass without retain_graph."""
    name = "freed"


_FREED = _FreedGraph()
_NO_ATTRS: dict = {}  # shared by every node of a primitive without attributes; never mutated


def apply(prim: Primitive, inputs: tuple, attrs: dict) -> "Tensor":
    """Run `prim` forward on the inputs' arrays and record the node if grad is needed."""
    if len(inputs) == 2:
        a, b = inputs
        args = (a.data, b.data)
        needs_grad = a.requires_grad or b.requires_grad
    elif len(inputs) == 1:
        args = (inputs[0].data,)
        needs_grad = inputs[0].requires_grad
    else:
        args = tuple([t.data for t in inputs])
        needs_grad = any([t.requires_grad for t in inputs])
    token = _quiet_enter(_QUIET)
    try:
        data = prim.forward(*args, **attrs) if attrs else prim.forward(*args)
    except (ValueError, TypeError, IndexError) as err:
        shapes = ", ".join(str(a.shape) for a in args)
        raise type(err)(f"{prim.name}: {err} (input shapes {shapes})") from None
    finally:
        _quiet_exit(token)
    if type(data) is not _ndarray:
        data = np.asarray(data)
    out = _object_new(Tensor)
    out.data = data
    out.grad = None
    out._attrs = attrs
    out._tangent = None
    out.name = None
    out._retain = False
    out._mark = 0
    out._version = 0
    out._prev = None
    state = _state
    if needs_grad and state.grad_enabled:
        out.requires_grad = True
        out._prim = prim
        out._inputs = inputs
        out._vers = None
        for t in inputs:
            if t._version:
                out._vers = _versions(inputs)
                break
    else:
        out.requires_grad = False
        out._prim = None
        out._inputs = None
        out._vers = None
    if state.fwd_level:
        token = _quiet_enter(_QUIET)
        try:
            _push_tangents(prim, inputs, args, attrs, out)
        finally:
            _quiet_exit(token)
    return out


def _versions(inputs: tuple) -> tuple:
    """The inputs' versions as a node records them (a node keeps None while all are 0,
    the common case), then the node's own version (0 for a fresh output)."""
    return tuple([t._version for t in inputs]) + (0,)


def _push_tangents(prim: Primitive, inputs: tuple, args: list, attrs: dict, out: "Tensor"):
    """Forward mode: out's tangent is the sum of each input tangent pushed through its JVP."""
    tangent = None
    for i, t in enumerate(inputs):
        if t._tangent is not None:
            jvps = prim.jvps
            if jvps is None:
                raise NotImplementedError(f"forward mode: {prim.name} has no JVP rule")
            if type(jvps) is VariadicRule:
                contrib = jvps.rule(i, t._tangent, out.data, args, **attrs)
            else:
                contrib = jvps[i](t._tangent, out.data, *args, **attrs)
            tangent = contrib if tangent is None else tangent + contrib
    if tangent is not None:
        if tangent.shape != out.data.shape:
            tangent = np.broadcast_to(tangent, out.data.shape)
        out._tangent = np.asarray(tangent, dtype=out.data.dtype)


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """A fresh array: NumPy data keeps its dtype; Python numbers and lists become float32
    (as in PyTorch's default dtype), Python bools stay bool. Strings and objects are refused."""
    if isinstance(data, Tensor):
        data = data.data
    try:
        arr = np.array(data, dtype=dtype)
    except (TypeError, ValueError) as err:
        if isinstance(data, (str, bytes)) or "could not convert" in str(err):
            raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} data "
                            f"({err}); tensors hold numbers") from None
        raise ValueError(f"tensor: cannot make a tensor from this "
                         f"{type(data).__name__}: {err}") from None
    _check_numeric(arr, "tensor")
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)) \
            and arr.dtype.kind in "fiu":
        arr = arr.astype(np.float32)
    return arr


def _check_numeric(arr: np.ndarray, name: str) -> None:
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{name}: cannot make a tensor of dtype {arr.dtype} (strings, objects "
                        f"and dates are not numbers); convert the data to float or int first")


class Tensor:
    """An n-dimensional array that remembers how it was computed, for `backward()`."""

    # _mark, _deps and _g are scratch space for the reverse pass (see backward_pass)
    # _version counts in-place changes; _vers and _prev: see "in-place modification" below
    __slots__ = ("data", "grad", "requires_grad", "_prim", "_inputs", "_attrs", "_tangent",
                 "name", "_retain", "_mark", "_deps", "_g", "_version", "_vers", "_prev",
                 "__weakref__")
    __array_ufunc__ = None  # ndarray <op> Tensor defers to the Tensor's reflected operator
    __hash__ = object.__hash__  # == gives an array, so hashing stays by identity

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False,
                 name: str | None = None):
        self.data = _to_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"tensor: only floating-point tensors can require grad, "
                            f"got dtype {self.data.dtype}; pass dtype=np.float32")
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._prim = self._inputs = self._attrs = self._tangent = None
        self.name = name
        self._retain = False
        self._mark = 0
        self._version = 0
        self._vers = self._prev = None

    # ---- basic properties -------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

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
        return self._tangent

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python scalar, "
                             f"got shape {self.data.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """The same values, cut off from the graph (shares memory like PyTorch)."""
        return _wrap(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating-point tensors can require grad, "
                            f"got dtype {self.data.dtype}")
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

    def astype(self, dtype: Any) -> "Tensor":
        return _ops.astype(self, dtype)

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != np.float32:
            extra += f", dtype={self.data.dtype}"
        if self._prim is not None:
            extra += f", op={self._prim.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---- reverse mode -----------------------------------------------------------------
    def backward(self, grad: Any = None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (weighted by `grad`)."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph; "
                               "create inputs with requires_grad=True")
        backward_pass([self], [grad], retain_graph=retain_graph or create_graph,
                      create_graph=create_graph)

    # ---- operators (the ops themselves live in chainrule.ops) -------------------------
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _ops.abs(self)
    def __getitem__(self, index): return _ops.getitem(self, index)

    # in-place: PyTorch's semantics, with version counters (see modify_in_place)
    def __iadd__(self, other): return _ops.add_(self, other)
    def __isub__(self, other): return _ops.sub_(self, other)
    def __imul__(self, other): return _ops.mul_(self, other)
    def __itruediv__(self, other): return _ops.div_(self, other)
    def __ipow__(self, other): return _ops.pow_(self, other)
    def __setitem__(self, index, value): _ops.setitem_(self, index, value)
    def add_(self, other, alpha=1): return _ops.add_(self, other, alpha)
    def sub_(self, other, alpha=1): return _ops.sub_(self, other, alpha)
    def mul_(self, other): return _ops.mul_(self, other)
    def div_(self, other): return _ops.div_(self, other)
    def pow_(self, other): return _ops.pow_(self, other)
    def clamp_(self, min=None, max=None): return _ops.clamp_(self, min, max)
    def zero_(self): return _ops.fill_(self, 0)
    def fill_(self, value): return _ops.fill_(self, value)
    def copy_(self, src): return _ops.copy_(self, src)
    def normal_(self, mean=0.0, std=1.0): return _ops.normal_(self, mean, std)
    def uniform_(self, a=0.0, b=1.0): return _ops.uniform_(self, a, b)
    def clone(self): return _ops.clone(self)

    # comparisons give plain boolean arrays (they have no gradient)
    def __lt__(self, other): return self.data < _data(other)
    def __le__(self, other): return self.data <= _data(other)
    def __gt__(self, other): return self.data > _data(other)
    def __ge__(self, other): return self.data >= _data(other)
    def __eq__(self, other): return self.data == _data(other)
    def __ne__(self, other): return self.data != _data(other)

    # ---- methods mirroring the functions in chainrule.ops ----------------------------
    def sum(self, axis=None, keepdims=False): return _ops.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _ops.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _ops.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return _ops.min(self, axis, keepdims)
    def logsumexp(self, axis=None, keepdims=False): return _ops.logsumexp(self, axis, keepdims)
    def reshape(self, *shape): return _ops.reshape(self, *shape)
    def transpose(self, *axes): return _ops.transpose(self, *axes)
    def swapaxes(self, a, b): return _ops.swapaxes(self, a, b)
    def squeeze(self, axis=None): return _ops.squeeze(self, axis)
    def expand_dims(self, axis): return _ops.expand_dims(self, axis)
    def unsqueeze(self, axis): return _ops.expand_dims(self, axis)
    def broadcast_to(self, shape): return _ops.broadcast_to(self, shape)
    def flatten(self, start_dim=0): return _ops.flatten(self, start_dim)
    def exp(self): return _ops.exp(self)
    def log(self): return _ops.log(self)
    def sqrt(self): return _ops.sqrt(self)
    def abs(self): return _ops.abs(self)
    def sin(self): return _ops.sin(self)
    def cos(self): return _ops.cos(self)
    def tanh(self): return _ops.tanh(self)
    def sigmoid(self): return _ops.sigmoid(self)
    def relu(self): return _ops.relu(self)
    def clip(self, min=None, max=None): return _ops.clip(self, min, max)
    def maximum(self, other): return _ops.maximum(self, other)
    def minimum(self, other): return _ops.minimum(self, other)
    def softmax(self, axis=-1): return _ops.softmax(self, axis)
    def log_softmax(self, axis=-1): return _ops.log_softmax(self, axis)
    def matmul(self, other): return _ops.matmul(self, other)

    @property
    def T(self) -> "Tensor":
        return _ops.transpose(self)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _wrap(data: np.ndarray) -> Tensor:
    """A new leaf around an existing array, skipping __init__'s checks (hot path)."""
    out = _object_new(Tensor)
    out.data = data
    out.grad = None
    out.requires_grad = False
    out._prim = out._inputs = out._attrs = out._tangent = out.name = None
    out._retain = False
    out._mark = 0
    out._version = 0
    out._vers = out._prev = None
    return out


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
        const = _constants.get((x, kind, like.data.dtype))
        if const is not None:
            return const
    to_float = like is not None and like.data.dtype.kind == "f"
    if isinstance(x, np.ndarray):
        _check_numeric(x, "tensor")
        if to_float and x.dtype.kind in "biu":
            x = x.astype(like.data.dtype)
        return _wrap(x)
    if to_float and isinstance(x, np.generic) and x.dtype.kind in "iuf":
        x = x.item()
    if like is not None and type(x) is int and like.data.dtype.kind in "iu":
        return _wrap(np.array(x, dtype=like.data.dtype))  # int tensor + 1 stays an int tensor
    if to_float and type(x) in (int, float):
        data = np.array(x, dtype=like.data.dtype)
        data.flags.writeable = False
        const = _wrap(data)
        if x != 0:  # -0.0 == 0.0 as a key: zeros are not cached, so each keeps its sign
            if len(_constants) > 4096:
                _constants.clear()
            _constants[(x, type(x), like.data.dtype)] = const
        return const
    return _wrap(_to_array(x))


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           name: str | None = None) -> Tensor:
    """Make a leaf tensor. Python numbers/lists become float32; NumPy arrays keep their dtype."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


# ---- in-place operations ----------------------------------------------------------------
def modify_in_place(t: Tensor, name: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """Write `compute(t)` into t's own array, as PyTorch's in-place operations do: t keeps
    its identity (and memory), its version goes up, and when the graph is recorded t
    becomes the new value's node while its old node lives on in a snapshot."""
    recording = _state.grad_enabled
    if recording and t.requires_grad and t._prim is None:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place "
            f"operation (shape {tuple(t.data.shape)}). Update parameters inside "
            f"`with chainrule.no_grad():` as an optimizer step does, or use an "
            f"out-of-place operation (x = x + y).")
    if not t.data.flags.writeable:
        raise ValueError(f"{name}: the tensor's memory is read-only (a broadcast view or a "
                         f"cached constant, shape {tuple(t.data.shape)}); copy it first")
    version = t._version
    src = t
    if recording:  # a stand-in for t's current value, node and all
        src = _wrap(t.data)
        src.requires_grad, src._prim, src._inputs = t.requires_grad, t._prim, t._inputs
        src._attrs, src._vers, src._tangent = t._attrs, t._vers, t._tangent
        src._version = version + 1
    new = compute(src)
    if new.data.shape != t.data.shape:
        raise ValueError(f"{name}: the result has shape {tuple(new.data.shape)}, but an "
                         f"in-place operation keeps the tensor's shape {tuple(t.data.shape)}")
    if new.data.dtype != t.data.dtype and \
            not np.can_cast(new.data.dtype, t.data.dtype, casting="same_kind"):
        raise TypeError(f"{name}: result type {new.data.dtype} can't be cast to the "
                        f"tensor's dtype {t.data.dtype} in place; use an out-of-place "
                        f"operation or convert the tensor first")
    graph = new._prim is not None
    base = None
    if graph:
        if not t.data.flags.owndata:
            base = _indexed_base(t)
            if base is None:
                raise NotImplementedError(
                    f"{name}: in-place change of a view of another array (shape "
                    f"{tuple(t.data.shape)}) while recording gradients is not supported; "
                    f"change the tensor it was taken from, or copy the view first (x.clone())")
        if new._inputs[0] is not src or 0 in _needed(new):
            src.data = t.data.copy()  # the in-place node's backward reads the old values
    if base is not None:  # t = base[index]: write through the base, then t is base[index]
        index = t._attrs["index"]
        _ops.setitem_(base, index, new)
        new = _ops.getitem(base, index)
    else:
        np.copyto(t.data, new.data, casting="unsafe")
    t._version = version + 1
    if graph:
        t._prev = (version, src, t._prev)
        t.requires_grad, t._prim, t._inputs, t._attrs = True, new._prim, new._inputs, new._attrs
        t._vers = (new._vers or (0,) * (len(new._inputs) + 1))[:-1] + (version + 1,)
    if new._tangent is not None or t._tangent is not None:
        t._tangent = new._tangent
    return t


def _indexed_base(t: Tensor) -> Tensor | None:
    """The tensor t is a basic-indexing view of (x[0], x[:, 1:]), if it is one."""
    if t._prim is not None and t._prim.name == "getitem" \
            and np.may_share_memory(t.data, t._inputs[0].data):
        return t._inputs[0]
    return None


# ---- grad mode ------------------------------------------------------------------------
def is_grad_enabled() -> bool:
    return _state.grad_enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off, for the
    current thread only (as in PyTorch)."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)

    def __enter__(self):
        state = _state
        state.__dict__.setdefault("saved_modes", []).append(state.grad_enabled)
        state.grad_enabled = self.mode

    def __exit__(self, *exc):
        state = _state
        state.grad_enabled = state.saved_modes.pop()

    def __call__(self, fn: Callable) -> Callable:
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """`with no_grad():` computes values without recording a graph."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """`with enable_grad():` records the graph again inside a no_grad block."""

    def __init__(self):
        super().__init__(True)


class forward_mode:
    """Marks a live forward-mode evaluation (entered by `jvp`), so tangents propagate."""

    def __enter__(self):
        if _state.fwd_level:
            raise NotImplementedError(
                "jvp: nested forward mode (jvp inside jvp, or a forward-mode jacobian "
                "inside jvp) is not supported; use jvp of grad (forward-over-reverse) "
                "or jacobian(mode='rev') for the inner transform")
        _state.fwd_level += 1

    def __exit__(self, *exc):
        _state.fwd_level -= 1


# ---- the reverse pass ------------------------------------------------------------------
def _freed_error(node: Tensor) -> RuntimeError:
    return RuntimeError(
        "backward: trying to backward through a graph a second time (or through a tensor "
        "whose graph was freed by an earlier backward). The first backward() freed the "
        "intermediate values to save memory; pass retain_graph=True to the first backward() "
        "if you need to call it again.")


_pass_numbers = itertools.count(1)


def _count_consumers(roots: Iterable[Tensor]) -> int:
    """Mark every interior node reachable from the roots with this pass's number and the
    count of edges leading into it (`_deps`); returns the pass number. Nodes whose inputs
    were modified in place since they were recorded are checked here, before any
    gradient is computed (see `_check_versions`)."""
    mark = next(_pass_numbers)
    stack = []
    for r in roots:
        if r._prim is not None and r._mark != mark:
            r._mark, r._deps, r._g = mark, 0, None
            stack.append(r)
    while stack:
        node = stack.pop()
        if node._prim is _FREED:
            raise _freed_error(node)
        inputs = node._inputs
        if node._vers is not None or node._version:
            inputs = _check_versions(node)
        else:
            for p in inputs:
                if p._version:
                    inputs = _check_versions(node)
                    break
        for p in inputs:
            if p._prim is None or not p.requires_grad:
                continue
            if p._mark == mark:
                p._deps += 1
            else:
                p._mark, p._deps, p._g = mark, 1, None
                stack.append(p)
    return mark


# ---- in-place modification: versions ----------------------------------------------------
# Every tensor counts the in-place changes to its values (`_version`); a node records its
# inputs' versions (`_vers`, None while all are 0). An in-place op on a tensor in the graph
# moves the tensor's old node into a snapshot (kept in `_prev` with the version it stood
# for) and makes the tensor the in-place op's output, as PyTorch re-bases its grad_fn.
# Backward then refuses a node whose rules need a value that has changed since, and sends
# the gradient of an unneeded one to the node that was current when it was recorded.

def _check_versions(node: Tensor) -> tuple:
    """Raise if a value `node`'s backward needs was modified in place after `node` was
    recorded; re-route edges to re-based tensors. Returns the node's (new) inputs."""
    inputs = node._inputs
    vers = node._vers or (0,) * (len(inputs) + 1)
    needed = _needed(node)
    if node._version != vers[-1]:
        if -1 in needed:
            raise _modified_error(node, -1, node, vers[-1])
    routed = list(inputs)
    for i, p in enumerate(inputs):
        if p._version == vers[i]:
            continue
        if i in needed:
            raise _modified_error(node, i, p, vers[i])
        routed[i] = _node_at(p, vers[i])
    node._inputs = tuple(routed)
    node._vers = tuple([t._version for t in routed]) + (node._version,)
    return node._inputs


def _node_at(t: Tensor, version: int) -> Tensor:
    """The node that stood for `t` when it was at `version` (t itself if never re-based
    since)."""
    best, entry = t, t._prev
    while entry is not None:
        stood_for, snapshot, entry = entry
        if stood_for >= version:
            best = snapshot
    return best


def _needed(node: Tensor) -> set:
    """Which values node's VJP rules read, for the inputs that need a gradient: input
    positions, and -1 for the node's own output."""
    vjps, inputs = node._prim.vjps, node._inputs
    needed: set = set()
    for i, p in enumerate(inputs):
        if p.requires_grad:
            if type(vjps) is VariadicRule:
                return set(range(-1, len(inputs)))
            needed |= _reads(vjps[i], len(inputs))
    return needed


_READS: dict = {}
_SHAPE_ONLY = {"shape", "dtype", "ndim"}


def _reads(rule: Callable, n_inputs: int) -> frozenset:
    """The values a rule uses (-1: the output; i: input i), read once from its bytecode.
    A parameter used only for `.shape`, `.dtype` or `.ndim` is not a value the rule needs;
    anything the bytecode does not show plainly counts as read."""
    key = (rule, n_inputs)
    found = _READS.get(key)
    if found is not None:
        return found
    everything = frozenset(range(-1, n_inputs))
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & 0x04 or type(rule) is not type(_reads) \
            or code.co_argcount < 2 + n_inputs:
        found = everything  # *args rules and callables we cannot read
    else:
        import dis
        params = code.co_varnames[1:2 + n_inputs]  # out, then the inputs
        instructions = list(dis.get_instructions(code))
        used = set()
        for k, ins in enumerate(instructions):
            names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
            if not ins.opname.startswith(("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE")):
                continue
            nxt = instructions[k + 1] if k + 1 < len(instructions) else None
            shape_only = (nxt is not None and nxt.opname == "LOAD_ATTR"
                          and nxt.argval in _SHAPE_ONLY and len(names) == 1)
            if not shape_only:
                used.update(n for n in names if n in params)
        if code.co_cellvars:  # a parameter captured by an inner function: assume it is read
            used.update(n for n in code.co_cellvars if n in params)
        found = frozenset(params.index(n) - 1 for n in used)
    _READS[key] = found
    return found


def _describe(t: Tensor) -> str:
    made_by = "a leaf" if t._prim is None else f"the output of {t._prim.name}"
    return f"a {t.data.dtype} tensor of shape {tuple(t.data.shape)}, {made_by}"


def _modified_error(node: Tensor, i: int, t: Tensor, expected: int) -> RuntimeError:
    which = "its output" if i == -1 else f"its input {i}"
    return RuntimeError(
        f"backward: one of the variables needed for gradient computation has been modified "
        f"by an inplace operation: {node._prim.name} needs {which} ({_describe(t)}) as it "
        f"was, but it is at version {t._version}; expected version {expected}. Change it "
        f"only after backward() (call backward() before optimizer.step()), or use an "
        f"out-of-place operation (x = x + y instead of x += y).")


def backward_pass(outputs: Sequence[Tensor], grads: Sequence[Any], *,
                  retain_graph: bool = False, create_graph: bool = False,
                  inputs: Sequence[Tensor] | None = None,
                  on_node: Callable | None = None) -> list | None:
    """Propagate `grads` from `outputs` back through the graph (Kahn's algorithm: a node
    runs once every consumer has handed it its gradient, so each node is visited once).

    With `inputs=None`, gradients accumulate into leaves' `.grad` (and retained
    non-leaves). With `inputs` given, nothing is accumulated: the gradients of those
    tensors are returned (None where an input does not affect the outputs).
    `on_node(node, g, input_grads)` is called for every node processed (used by explain).
    """
    state = _state
    tensor_mode = create_graph or state.fwd_level > 0
    seeds = [_seed(out, g, tensor_mode) for out, g in zip(outputs, grads)]
    for r in outputs:
        if r._prim is _FREED:
            raise _freed_error(r)

    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    found: list = [None] * len(inputs) if inputs is not None else []
    _count_consumers(outputs)
    ready = []
    for r, g in zip(outputs, seeds):
        if r._prim is None:  # a leaf output: its gradient is the seed itself
            _deliver(r, g, wanted, found)
        elif r._g is not None:
            r._g = r._g + g
        else:
            r._g = g
            if r._deps == 0:  # a root that another root consumes waits for its consumers
                ready.append(r)

    prev_mode = state.grad_enabled
    state.grad_enabled = create_graph
    token = _quiet_enter(_QUIET)
    try:
        while ready:
            node = ready.pop()
            g = node._g
            node._g = None
            if node._retain or (wanted is not None and id(node) in wanted):
                _deliver(node, g, wanted, found)
            vjps, node_inputs, attrs = node._prim.vjps, node._inputs, node._attrs
            if tensor_mode:
                args, out = node_inputs, node
            else:
                args, out = [t.data for t in node_inputs], node.data
            variadic = type(vjps) is VariadicRule
            in_grads = [] if on_node is not None else None
            for i, p in enumerate(node_inputs):
                if not p.requires_grad:
                    if in_grads is not None:
                        in_grads.append(None)
                    continue
                if variadic:
                    gi = vjps.rule(i, g, out, args, **attrs)
                else:
                    gi = vjps[i](g, out, *args, **attrs) if attrs else vjps[i](g, out, *args)
                if in_grads is not None:
                    in_grads.append(gi)
                if p._prim is None:
                    _deliver(p, gi, wanted, found)
                    continue
                pg = p._g
                p._g = gi if pg is None else pg + gi
                p._deps -= 1
                if not p._deps:
                    ready.append(p)
            if on_node is not None:
                on_node(node, g, in_grads)
            if not retain_graph:
                node._prim = _FREED
                node._inputs = ()
    finally:
        _quiet_exit(token)
        state.grad_enabled = prev_mode
    return None if inputs is None else found


def _seed(out: Tensor, g: Any, tensor_mode: bool) -> Any:
    """The starting gradient for one output: ones for a scalar, else the given grad."""
    if g is None:
        if out.data.size != 1:
            raise RuntimeError(
                f"backward: grad can be created implicitly only for a scalar output, "
                f"got shape {out.data.shape}; pass grad= (a tensor of that shape)")
        g = np.ones_like(out.data)
    elif isinstance(g, Tensor):
        g = g if tensor_mode else g.data
    else:
        g = np.asarray(g, dtype=out.data.dtype)
    if g.shape != out.data.shape:
        raise ValueError(f"backward: grad has shape {g.shape} but the output has "
                         f"shape {out.data.shape}")
    if tensor_mode and not isinstance(g, Tensor):
        g = _wrap(g)
    return g


def _deliver(t: Tensor, g: Any, wanted: dict | None, found: list) -> None:
    """Hand a finished gradient to its destination: the caller's list or `t.grad`."""
    if isinstance(g, Tensor):
        if g.data.dtype != t.data.dtype:
            g = _ops.astype(g, t.data.dtype)
    else:
        if type(g) is not _ndarray or not g.flags.writeable:  # numpy scalar or broadcast view
            g = np.array(g)
        if g.dtype != t.data.dtype:
            g = g.astype(t.data.dtype)
    if g.shape != t.data.shape:
        g = _ops_generic.sum_to(g, t.data.shape)
    if wanted is not None:
        i = wanted.get(id(t))
        if i is not None:
            found[i] = g if found[i] is None else found[i] + g
        return
    if not isinstance(g, Tensor):
        g = _wrap(g)
    t.grad = g if t.grad is None else (
        t.grad + g if g.requires_grad or t.grad.requires_grad
        else _wrap(np.asarray(t.grad.data + g.data)))  # 0-d stays an array, not a NumPy scalar


from chainrule import ops as _ops  # noqa: E402  (ops build on the classes above)
from chainrule.ops import generic as _ops_generic  # noqa: E402
