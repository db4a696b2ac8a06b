"""How the glass box writes each operation: every per-op table of symbols and derivative
formulas, and the lookups that read them.

- `local_formula`: ∂node/∂input_i as explain's tables show it (`FORMULAS` for elementwise
  ops, `STRUCTURAL` for ops whose Jacobian is not a per-element number, `MOVES` for ops
  that only rearrange values);
- `graph_symbol`: the symbol in an operation's circle in a graph picture (`SYMBOLS`);
- `trace_definition`, `trace_local`: an expression trace's row (v₃ = v₁ × v₂) and its
  local derivatives, written with the trace's labels;
- `ACTIVATION_SLOPE`: an activation's local derivative from its output, for the
  gradient-flow report.

Ops missing from a table fall back to a generic description (a Jacobian-vector product,
the op's own name).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from chainrule.glassbox.text import shape_text

__all__ = ["ELEMENTWISE", "FORMULAS", "STRUCTURAL", "MOVES", "SYMBOLS", "TRACE_SHOW",
           "TRACE_BINARY", "ACTIVATION_SLOPE", "local_formula", "graph_symbol",
           "trace_definition", "trace_local"]

# ---- explain: the local derivative ∂node/∂input_i ---------------------------------------

ELEMENTWISE = {"add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "abs", "sin",
               "cos", "tanh", "sigmoid", "relu", "clip", "maximum", "minimum", "where",
               "astype"}

# d out / d input_i as a formula (a, b = the inputs, in order)
FORMULAS: dict[str, tuple[str, ...]] = {
    "add": ("1", "1"), "sub": ("1", "−1"), "mul": ("b", "a"), "div": ("1/b", "−a/b²"),
    "neg": ("−1",), "pow": ("b·a^(b−1)", "aᵇ·ln a"), "exp": ("exp(a)",), "log": ("1/a",),
    "sqrt": ("1/(2√a)",), "abs": ("sign(a)",), "sin": ("cos(a)",), "cos": ("−sin(a)",),
    "tanh": ("1 − tanh²(a)",), "sigmoid": ("σ(a)(1 − σ(a))",), "relu": ("1 if a > 0 else 0",),
    "clip": ("1 inside [min, max] else 0",), "maximum": ("1 where a > b", "1 where b > a"),
    "minimum": ("1 where a < b", "1 where b < a"), "where": ("1 where cond", "1 where not cond"),
    "astype": ("1",),
}

# what the local derivative is for ops whose Jacobian is not a per-element number
STRUCTURAL = {
    "matmul": ("Jacobian-vector product: g·bᵀ", "Jacobian-vector product: aᵀ·g"),
    "linear": ("Jacobian-vector product: g·W", "Jacobian-vector product: gᵀ·x",
               "sum of g over the batch"),
    "sum": ("1 for every element (g spread back)",),
    "max": ("1 at the maximum, 0 elsewhere",), "min": ("1 at the minimum, 0 elsewhere",),
    "logsumexp": ("softmax(a) (Jacobian-vector product)",),
    "softmax": ("Jacobian-vector product: s·(g − Σ g·s)",),
    "log_softmax": ("Jacobian-vector product: g − softmax(a)·Σ g",),
    "softmax_cross_entropy": ("softmax(a) − target (Jacobian-vector product)",),
}
MOVES = {"reshape", "transpose", "broadcast_to", "getitem", "index_add", "concat", "stack"}


def local_formula(op: str, i: int, attrs: dict, in_shape: tuple, out_shape: tuple) -> str:
    """∂node/∂input_i as text, for a node of `op` taking `in_shape` to `out_shape`."""
    if op in ELEMENTWISE:
        if op == "pow" and "p" in attrs:
            p = attrs["p"]
            return f"{p:g}·a^{p - 1:g}"
        return FORMULAS[op][min(i, len(FORMULAS[op]) - 1)]
    if op == "mean":
        n = math.prod(in_shape) // max(math.prod(out_shape), 1)
        return f"1/n for every element (n = {n})"
    if op in STRUCTURAL:
        forms = STRUCTURAL[op]
        return (f"{forms[min(i, len(forms) - 1)]}, {shape_text(in_shape)} → "
                f"{shape_text(out_shape)}")
    if op in MOVES:
        return "1: values only move (g is rearranged back)"
    return f"Jacobian-vector product, {shape_text(in_shape)} → {shape_text(out_shape)}"


# ---- graph pictures: the symbol in an operation's circle ----------------------------------

SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "neg": "−x", "pow": "xᵖ",
           "matmul": "@", "exp": "exp", "log": "log", "sqrt": "√", "abs": "|x|",
           "sin": "sin", "cos": "cos", "tanh": "tanh", "sigmoid": "σ", "relu": "ReLU",
           "sum": "Σ", "mean": "mean", "max": "max", "min": "min", "clip": "clip",
           "linear": "linear", "softmax": "softmax", "log_softmax": "log softmax",
           "softmax_cross_entropy": "softmax + CE", "logsumexp": "logsumexp"}


def graph_symbol(op: str, attrs: dict) -> str:
    if op == "pow" and "p" in attrs:
        return f"x^{attrs['p']:g}"
    return SYMBOLS.get(op, op)


# ---- evaluation traces: v₃ = v₁ × v₂ and its local derivatives ----------------------------

TRACE_SHOW = {"log": "ln {0}", "exp": "exp {0}", "sin": "sin {0}", "cos": "cos {0}",
              "tanh": "tanh {0}", "sqrt": "√{0}", "abs": "|{0}|", "sigmoid": "σ({0})",
              "relu": "relu({0})", "neg": "−{0}"}
TRACE_BINARY = {"add": "+", "sub": "−", "mul": "×", "div": "/", "pow": "^"}


def trace_definition(op: str, a: Sequence[str], attrs: dict) -> str:
    """The row's definition from its operands' labels `a`."""
    if op in TRACE_SHOW:
        return TRACE_SHOW[op].format(*a)
    if op == "pow" and "p" in attrs:
        return f"{a[0]}^{attrs['p']:g}"
    return f"{a[0]} {TRACE_BINARY[op]} {a[1]}"


def trace_local(op: str, i: int, a: Sequence[str], v: str, attrs: dict) -> str:
    """∂v/∂operand_i written with the trace's labels (`a` the operands', `v` the row's)."""
    if op == "add":
        return "1"
    if op == "sub":
        return "1" if i == 0 else "−1"
    if op == "mul":
        return a[1 - i]
    if op == "div":
        return f"1/{a[1]}" if i == 0 else f"−{v}/{a[1]}"
    if op == "pow":
        if "p" in attrs:
            p = attrs["p"]
            return f"{p:g}·{a[0]}" if p == 2 else f"{p:g}·{a[0]}^{p - 1:g}"
        return f"{a[1]}·{a[0]}^({a[1]}−1)" if i == 0 else f"{v}·ln {a[0]}"
    return {"neg": "−1", "log": f"1/{a[0]}", "exp": v, "sin": f"cos {a[0]}",
            "cos": f"−sin {a[0]}", "sqrt": f"1/(2{v})", "tanh": f"(1 − {v}²)",
            "sigmoid": f"{v}(1 − {v})", "abs": f"sign({a[0]})",
            "relu": f"[{a[0]} > 0]"}[op]


# ---- gradient flow: an activation's local derivative, from its output ---------------------

# a = the activation's output; the derivative as a fraction of its maximum (σ' ≤ 0.25)
ACTIVATION_SLOPE: dict[str, Callable[[np.ndarray], Any]] = {
    "sigmoid": lambda a: a * (1 - a) / 0.25,
    "tanh": lambda a: 1 - a * a,
    "relu": lambda a: (a > 0).astype(float),
}
