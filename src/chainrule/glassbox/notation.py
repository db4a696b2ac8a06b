"""How the glass box writes an operation, read from its primitive's `notation` (see
`chainrule.engine.graph.Notation`): each op's symbol, derivative formulas and trace
notation live in its literal in `chainrule.ops`, beside its forward and its rules.

- `local_formula`: ∂node/∂input_i as explain's tables show it;
- `graph_symbol`: the symbol in an operation's circle in a graph picture;
- `trace_definition`, `trace_local`: an expression trace's row (v₃ = v₁ × v₂) and its
  local derivatives, written with the trace's labels.

A primitive without a notation (one defined outside chainrule.ops) is described
generically: its own name, and a vector-Jacobian product from one shape to another.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from chainrule.engine import Primitive
from chainrule.engine.graph import Notation
from chainrule.glassbox.text import shape_text

__all__ = ["notation_of", "local_formula", "graph_symbol", "trace_definition", "trace_local"]


def notation_of(prim: Primitive) -> Notation:
    """The primitive's notation, or the generic one."""
    found = getattr(prim, "notation", None)
    return found if found is not None else Notation.generic(prim.name)


def _fill(text: str | Callable[..., str], *args: Any, **fields: Any) -> str:
    """A template filled in, or a text function called, with the same arguments."""
    return text(*args, **fields) if callable(text) else text.format(*args, **fields)


def _nth(texts: Sequence, i: int):
    """The text for input i: the last one serves any further inputs."""
    return texts[min(i, len(texts) - 1)]


def local_formula(prim: Primitive, i: int, attrs: dict, in_shape: tuple,
                  out_shape: tuple) -> str:
    """∂node/∂input_i as text, for a node of `prim` taking `in_shape` to `out_shape`."""
    shapes = f"{shape_text(in_shape)} → {shape_text(out_shape)}"
    n = math.prod(in_shape) // max(math.prod(out_shape), 1)
    return _fill(_nth(notation_of(prim).formula, i), shapes=shapes, n=n, **attrs)


def graph_symbol(prim: Primitive, attrs: dict) -> str:
    """The symbol in the operation's circle in a graph picture."""
    return _fill(notation_of(prim).symbol, **attrs)


def trace_definition(prim: Primitive, a: Sequence[str], attrs: dict) -> str:
    """The row's definition from its operands' labels `a`."""
    return _fill(notation_of(prim).trace, *a, **attrs)


def trace_local(prim: Primitive, i: int, a: Sequence[str], v: str, attrs: dict) -> str:
    """∂v/∂operand_i written with the trace's labels (`a` the operands', `v` the row's)."""
    return _fill(_nth(notation_of(prim).trace_rules, i), *a, v=v, **attrs)
