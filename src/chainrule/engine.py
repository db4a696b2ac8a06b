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

import numpy as np

__all__ = ["Tensor", "Primitive", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
           "set_grad_enabled", "backward_pass"]

_ndarray = np.ndarray
_object_new = object.__new__

# Global engine state: whether ops record the graph, and how many forward-mode (jvp)
# evaluations are live (tangents only propagate while this is > 0).
_grad_enabled = True
_fwd_level = 0


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
    else:
        args = tuple([t.data for t in inputs])
        needs_grad = any([t.requires_grad for t in inputs])
    try:
        data = prim.forward(*args, **attrs) if attrs else prim.forward(*args)
    except (ValueError, TypeError, IndexError) as err:
        shapes = ", ".join(str(a.shape) for a in args)
        raise type(err)(f"{prim.name}: {err} (input shapes {shapes})") from None
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
    if needs_grad and _grad_enabled:
        out.requires_grad = True
        out._prim = prim
        out._inputs = inputs
    else:
        out.requires_grad = False
        out._prim = None
        out._inputs = None
    if _fwd_level:
        _push_tangents(prim, inputs, args, attrs, out)
    return out


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
    (as in PyTorch's default dtype), Python bools stay bool."""
    if isinstance(data, Tensor):
        data = data.data
    arr = np.array(data, dtype=dtype)
    if arr.dtype == object:
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} data")
    if dtype is None and not isinstance(data, (np.ndarray, np.generic)) \
            and arr.dtype.kind in "fiu":
        arr = arr.astype(np.float32)
    return arr


class Tensor:
    """An n-dimensional array that remembers how it was computed, for `backward()`."""

    # _mark, _deps and _g are scratch space for the reverse pass (see backward_pass)
    __slots__ = ("data", "grad", "requires_grad", "_prim", "_inputs", "_attrs", "_tangent",
                 "name", "_retain", "_mark", "_deps", "_g", "__weakref__")
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
    return out


_constants: dict = {}


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """A Tensor for an operand; Python numbers take the dtype of the tensor they meet.

    Number constants are cached as read-only tensors: loops like `y = y * 0.9` would
    otherwise spend a third of each op building the same 0-d array again."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        if like is not None and x.dtype.kind in "biu" and like.data.dtype.kind == "f":
            x = x.astype(like.data.dtype)  # an int64 one-hot must not make float32 float64
        return _wrap(x)
    if like is not None and type(x) in (int, float) and like.data.dtype.kind == "f":
        key = (x, type(x), like.data.dtype)
        const = _constants.get(key)
        if const is None:
            if len(_constants) > 4096:
                _constants.clear()
            data = np.array(x, dtype=like.data.dtype)
            data.flags.writeable = False
            const = _constants[key] = _wrap(data)
        return const
    return _wrap(_to_array(x))


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           name: str | None = None) -> Tensor:
    """Make a leaf tensor. Python numbers/lists become float32; NumPy arrays keep their dtype."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


# ---- grad mode ------------------------------------------------------------------------
def is_grad_enabled() -> bool:
    return _grad_enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode: bool):
        self.mode = mode
        self.prev: list[bool] = []

    def __enter__(self):
        global _grad_enabled
        self.prev.append(_grad_enabled)
        _grad_enabled = self.mode

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev.pop()

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
        global _fwd_level
        if _fwd_level:
            raise NotImplementedError(
                "jvp: nested forward mode (jvp inside jvp) is not supported; "
                "use jvp of grad (forward-over-reverse) or jacobian(mode='rev')")
        _fwd_level += 1

    def __exit__(self, *exc):
        global _fwd_level
        _fwd_level -= 1


# ---- the reverse pass ------------------------------------------------------------------
def _freed_error(node: Tensor) -> RuntimeError:
    return RuntimeError(
        "backward: trying to backward through a graph a second time (or through a tensor "
        "whose graph was freed by an earlier backward). The first backward() freed the "
        "intermediate values to save memory; pass retain_graph=True to the first backward() "
        "if you need to call it again.")


_pass_counter = 0


def _count_consumers(roots: Iterable[Tensor]) -> int:
    """Mark every interior node reachable from the roots with this pass's number and the
    count of edges leading into it (`_deps`); returns the pass number."""
    global _pass_counter
    _pass_counter += 1
    mark = _pass_counter
    stack = []
    for r in roots:
        if r._prim is not None and r._mark != mark:
            r._mark, r._deps, r._g = mark, 0, None
            stack.append(r)
    while stack:
        node = stack.pop()
        if node._prim is _FREED:
            raise _freed_error(node)
        for p in node._inputs:
            if p._prim is None or not p.requires_grad:
                continue
            if p._mark == mark:
                p._deps += 1
            else:
                p._mark, p._deps, p._g = mark, 1, None
                stack.append(p)
    return mark


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
    global _grad_enabled
    tensor_mode = create_graph or _fwd_level > 0
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

    prev_mode = _grad_enabled
    _grad_enabled = create_graph
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
        _grad_enabled = prev_mode
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
        t.grad + g if g.requires_grad or t.grad.requires_grad else _wrap(t.grad.data + g.data))


from chainrule import ops as _ops  # noqa: E402  (ops build on the classes above)
from chainrule.ops import generic as _ops_generic  # noqa: E402
