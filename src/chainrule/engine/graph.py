"""Primitives and `apply`: run a primitive forward, record the node, push tangents."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from chainrule.engine.state import _QUIET, _quiet_enter, _quiet_exit, _state
from chainrule.engine.tensors import Tensor, _wrap, as_tensor

_ndarray = np.ndarray


class Notation(NamedTuple):
    """How the glass box writes a primitive: what explain, the graph pictures, the
    expression traces and the gradient-flow report print for it.

    Each text is a template that `str.format` fills in with the fields named below and
    the node's attributes (pow's `p`), or a function taking the same arguments and
    returning the text, for the rare text that needs arithmetic.

    symbol       the label in the operation's circle in a graph picture ("×", "σ")
    formula      ∂out/∂input_i, one per input (the last serves any further inputs), as
                 explain's table writes it with a, b for the inputs: "b" for mul's first
                 input; fields `shapes` ("3×2 → 4×2") and `n` (inputs per output element)
    elementwise  the local derivative is one number per element, so explain shows its
                 values (computed with the primitive's own JVP rule)
    trace        the row's definition in an expression trace, from the operands' labels
                 {0}, {1}: "{0} × {1}"; None for ops an expression cannot produce
    trace_rules  ∂row/∂operand_i in a trace, with the operands' labels {0}, {1} and the
                 row's own label {v}: "{1}" for mul's first operand
    slope        an activation's local derivative from its output alone, as a fraction
                 of its largest value (the gradient-flow report's saturation)
    """
    symbol: str | Callable[..., str]
    formula: tuple
    elementwise: bool = False
    trace: str | Callable[..., str] | None = None
    trace_rules: tuple = ()
    slope: Callable[[np.ndarray], np.ndarray] | None = None

    @classmethod
    def generic(cls, symbol: str) -> "Notation":
        """What the glass box says of an op with no text of its own: its name, and that
        its local derivative is a vector-Jacobian product from one shape to another."""
        return cls(symbol, ("vector-Jacobian product, {shapes}",))


class Primitive:
    """A differentiable operation: `forward` on arrays, one VJP and one JVP rule per input,
    and its `notation` (how the glass box explains it).

    `vjps[i](g, out, *args, **attrs)` returns the gradient for input i given the upstream
    gradient `g` (at the output's shape: the reverse pass sums a broadcast one back);
    `jvps[i](t, out, *args, **attrs)` pushes input i's tangent `t` forward. Rules receive
    arrays, or Tensors when the backward pass must itself be differentiable. Called with no
    Tensor argument, a primitive just runs its forward on the arrays (as HIPS autograd's
    primitives do), so rules are written once, with operators and primitives, for both.
    """

    __slots__ = ("name", "forward", "vjps", "jvps", "notation")

    def __init__(self, name: str, forward: Callable[..., np.ndarray],
                 vjps: Sequence[Callable] | "VariadicRule",
                 jvps: Sequence[Callable] | "VariadicRule" | None = None,
                 notation: Notation | None = None):
        self.name, self.forward, self.vjps, self.jvps = name, forward, vjps, jvps
        self.notation = notation

    def __call__(self, *inputs: Any, **attrs: Any) -> Any:
        like = next((x for x in inputs if isinstance(x, Tensor)), None)
        if like is None:
            token = _quiet_enter(_QUIET)
            try:
                return self.forward(*inputs, **attrs)
            finally:
                _quiet_exit(token)
        return apply(self, tuple([as_tensor(x, like) for x in inputs]), attrs)

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


_NO_ATTRS: dict = {}  # shared by every node of a primitive without attributes; never mutated


def apply(prim: Primitive, inputs: tuple, attrs: dict) -> "Tensor":
    """Run `prim` forward on the inputs' arrays and record the node if grad is needed."""
    if len(inputs) == 2:
        a, b = inputs
        args = (a._data, b._data)
        needs_grad = a.requires_grad or b.requires_grad
    elif len(inputs) == 1:
        args = (inputs[0]._data,)
        needs_grad = inputs[0].requires_grad
    else:
        args = tuple([t._data for t in inputs])
        needs_grad = any([t.requires_grad for t in inputs])
    token = _quiet_enter(_QUIET)
    try:
        data = prim.forward(*args, **attrs) if attrs else prim.forward(*args)
    except (ValueError, TypeError, IndexError) as err:
        shapes = ", ".join(str(a.shape) for a in args)
        raise type(err)(f"{prim.name}: {err} (input shapes {shapes})") from None
    finally:
        _quiet_exit(token)
    out = _wrap(data if type(data) is _ndarray else np.asarray(data))
    state = _state
    if needs_grad and (state.plain or state.grad_enabled):
        out.requires_grad = True
        out._prim = prim
        out._inputs = inputs
        out._attrs = attrs
        for t in inputs:
            if t._version:
                out._vers = _versions(inputs)
                break
    if not state.plain and state.fwd_level:
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


def _push_tangents(prim: Primitive, inputs: tuple, args: tuple, attrs: dict, out: Tensor):
    """Forward mode: at every live level, out's tangent is the sum of the inputs' tangents
    pushed through their JVP rules. Tangents are kept per level (`{level: tangent}`), so
    forward mode nests (jvp of jvp): a level's rules run with only the levels outside it
    live, on Tensors when an outer level or a recorded graph must see them (jvp of jvp,
    grad of jvp), and on plain arrays otherwise (the fast, common case)."""
    state = _state
    top = state.fwd_level
    levels = sorted({lvl for t in inputs if t._tangent for lvl in t._tangent if lvl <= top})
    if not levels:
        return
    jvps = prim.jvps
    if jvps is None:
        raise NotImplementedError(f"forward mode: {prim.name} has no JVP rule")
    variadic = type(jvps) is VariadicRule
    record = state.grad_enabled and any(t.requires_grad for t in inputs)
    out._tangent = tangents = {}
    for lvl in levels:
        mine = [t._tangent.get(lvl) if t._tangent else None for t in inputs]
        as_tensors = lvl > 1 or record or any(isinstance(m, Tensor) for m in mine)
        r_args, r_out = (inputs, out) if as_tensors else (args, out._data)
        state.fwd_level = lvl - 1  # inside this level's rules only the outer levels live
        try:
            total = None
            for i, tan in enumerate(mine):
                if tan is None:
                    continue
                if as_tensors and not isinstance(tan, Tensor):
                    tan = _wrap(tan)
                contrib = (jvps.rule(i, tan, r_out, r_args, **attrs) if variadic
                           else jvps[i](tan, r_out, *r_args, **attrs))
                total = contrib if total is None else total + contrib
            shape, dtype = out._data.shape, out._data.dtype
            if isinstance(total, Tensor):
                if total.shape != shape:
                    total = total.broadcast_to(shape)
                if total.dtype != dtype:
                    total = total.astype(dtype)
            else:
                if total.shape != shape:
                    total = np.broadcast_to(total, shape)
                total = np.asarray(total, dtype=dtype)
        finally:
            state.fwd_level = top
        tangents[lvl] = total
