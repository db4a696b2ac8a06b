"""Evaluation traces of an expression, as in the AD literature: every intermediate vₖ with
its value and its tangent (forward mode) or adjoint (reverse mode), and the rule that
forms it. The numbers are the engine's own: `forward_trace` pushes tangents through the
primitives' JVP rules (`chainrule.jvp`), `reverse_trace` collects adjoints from one
replayed backward pass.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from chainrule import ops
from chainrule.engine import Primitive
from chainrule.functional import jvp
from chainrule.glassbox.expr import Expression, ExprError, _Record, parse
from chainrule.glassbox.notation import trace_definition, trace_local
from chainrule.glassbox.replay import replay
from chainrule.glassbox.nonfinite import derivative_reason, reason, warning
from chainrule.glassbox.notebook import STYLE, html_table, math_block
from chainrule.glassbox.text import fmt_number, text_table

__all__ = ["Trace", "TraceRow", "Traces", "trace", "forward_trace", "reverse_trace"]


def _name(r: Any) -> str:
    if isinstance(r, _Record):
        return r.label
    return f"{r:g}"


def _primitive(r: _Record) -> Primitive:
    """The row's primitive: its node's, or in forward mode (which records no nodes) the
    primitive of that name."""
    prim = r.tensor._prim
    return ops.primitive(r.op) if prim is None else prim


def _definition(r: _Record) -> str:
    return trace_definition(_primitive(r), [_name(o) for o in r.operands], r.attrs)


def _local_text(r: _Record, i: int) -> str:
    """∂r/∂operand_i written with the trace's labels."""
    return trace_local(_primitive(r), i, [_name(o) for o in r.operands], r.label, r.attrs)


def _times(factor: str, symbol: str) -> str:
    if factor == "1":
        return symbol
    if factor == "−1":
        return f"−{symbol}"
    if factor.startswith("−"):
        return f"−{_times(factor[1:], symbol)}"
    if any(c in factor for c in " /+"):
        factor = f"({factor})"
    return f"{factor}·{symbol}"


def _sum(terms: list[str]) -> str:
    """Terms joined with + and −, as written by hand."""
    out = ""
    for t in terms:
        if not out:
            out = t
        elif t.startswith("−"):
            out += f" − {t[1:]}"
        else:
            out += f" + {t}"
    return out


@dataclass
class TraceRow:
    label: str
    definition: str
    value: float
    derivative: float          # tangent (forward) or adjoint (reverse)
    rule: str                  # how the derivative is formed from the others
    note: str = ""             # why the value or derivative is nan or inf ("" if finite)


def _note(rec: _Record, value: float, derivative: float) -> str:
    """Why a row's value (or else its derivative) is not finite."""
    if rec.op == "input":
        return ""
    operands = [(_name(o), o.tensor.numpy() if isinstance(o, _Record) else o)
                for o in rec.operands]
    why = reason(rec.op, operands, value)
    if not why and not np.isfinite(derivative):
        why = derivative_reason(rec.op, operands)
    return why


@dataclass
class Trace:
    """An evaluation trace: every intermediate with its value and tangent or adjoint."""
    mode: str                  # "forward" or "reverse"
    source: str
    at: dict[str, float]
    wrt: str | None            # the seeded variable (forward mode)
    rows: list[TraceRow]
    value: float
    gradient: dict[str, float]  # df/dvariable (forward: only wrt)
    decimals: int = 4

    def __str__(self) -> str:
        d = self.decimals
        at = ", ".join(f"{k} = {v:g}" for k, v in self.at.items())
        if self.mode == "forward":
            others = " (every other input's tangent 0)" if len(self.at) > 1 else ""
            head = (f"Forward mode: f = {self.source} at {at}; tangents v̇ = ∂v/∂{self.wrt}, "
                    f"seeded with 1 for {self.wrt}{others}")
            cols = ["v", "definition", "value", f"tangent v̇ = ∂v/∂{self.wrt}", "tangent rule"]
        else:
            head = f"Reverse mode: f = {self.source} at {at}; adjoints v̄ = ∂f/∂v, from f̄ = 1"
            cols = ["v", "definition", "value", "adjoint v̄ = ∂f/∂v", "adjoint rule"]
        rows = [[r.label, r.definition, fmt_number(r.value, d) + (" !" if r.note else ""),
                 fmt_number(r.derivative, d), r.rule] for r in self.rows]
        lines = [head, "", text_table(cols, rows, right=[2, 3]), ""]
        noted = [(r.label, r.note) for r in self.rows if r.note]
        if self.mode == "reverse":  # in evaluation order: the cause first
            noted.reverse()
        lines += [f"! {label}: {note}" for label, note in noted]
        if noted:
            lines += [warning(noted), ""]
        lines.append(f"f = {fmt_number(self.value, d)}")
        lines += [f"∂f/∂{k} = {fmt_number(g, d)}" for k, g in self.gradient.items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """The trace as an HTML table in a notebook (nan and inf rows marked)."""
        d = self.decimals
        text = str(self).split("\n\n", 1)[0]
        cols = ["v", "definition", "value",
                "tangent" if self.mode == "forward" else "adjoint", "rule", ""]
        rows = [[r.label, r.definition, fmt_number(r.value, d), fmt_number(r.derivative, d),
                 r.rule, r.note] for r in self.rows]
        tail = [f"f = {fmt_number(self.value, d)}"] + [
            f"∂f/∂{k} = {fmt_number(g, d)}" for k, g in self.gradient.items()]
        return (STYLE + html_table(cols, rows, right=[2, 3], caption=text)
                + math_block(tail))

    def to_dict(self) -> dict:
        return {"mode": self.mode, "expression": self.source, "at": self.at, "wrt": self.wrt,
                "value": self.value, "gradient": self.gradient,
                "rows": [vars(r) for r in self.rows]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _scalar(a: Any) -> float:
    return float(np.asarray(a, dtype=np.float64).reshape(-1)[0]) if np.size(a) else 0.0


def forward_trace(expr: Expression | str, at: Mapping[str, float], wrt: str | None = None,
                  decimals: int = 4) -> Trace:
    """Forward mode: one evaluation with the tangent of `wrt` seeded to 1, through the
    engine's JVP rules; every intermediate's value and tangent."""
    expr = parse(expr) if isinstance(expr, str) else expr
    expr.check_values(at)
    if wrt is None:
        if len(expr.variables) != 1:
            raise ExprError(f"forward mode pushes one tangent: choose the variable with "
                            f"--wrt (one of {', '.join(expr.variables)})")
        wrt = expr.variables[0]
    if wrt not in expr.variables:
        raise ExprError(f"--wrt {wrt}: the expression has no variable {wrt!r} "
                        f"(it uses {', '.join(expr.variables)})")
    seen: dict[str, list] = {}

    def f(*xs):
        out, records = expr._evaluate(dict(zip(expr.variables, xs)))
        seen["records"], seen["inputs"] = records, expr._inputs
        return out

    primals = [np.float64(at[n]) for n in expr.variables]
    tangents = [np.float64(n == wrt) for n in expr.variables]
    with np.errstate(all="ignore"):
        out, tangent = jvp(f, primals, tangents)
    rows = []
    for n in expr.variables:
        rec = seen["inputs"][n]
        rows.append(TraceRow(rec.label, n, _scalar(rec.tensor.numpy()), _scalar(rec.tensor.tangent),
                             "seed" if n == wrt else "constant in this pass"))
    for rec in seen["records"]:
        terms = [_times(_local_text(rec, i), f"v̇{o.label[1:]}")
                 for i, o in enumerate(rec.operands) if isinstance(o, _Record)]
        tan = rec.tensor.tangent
        value, tangent_value = _scalar(rec.tensor.numpy()), _scalar(0.0 if tan is None else tan)
        rows.append(TraceRow(rec.label, _definition(rec), value, tangent_value, _sum(terms),
                             _note(rec, value, tangent_value)))
    return Trace("forward", expr.source, dict(at), wrt, rows, _scalar(out.numpy()),
                 {wrt: _scalar(tangent.numpy())}, decimals)


def reverse_trace(expr: Expression | str, at: Mapping[str, float],
                  decimals: int = 4) -> Trace:
    """Reverse mode: one forward evaluation, then one backward pass from f̄ = 1; every
    intermediate's adjoint, listed in the order the backward pass produces them."""
    expr = parse(expr) if isinstance(expr, str) else expr
    with np.errstate(all="ignore"):
        out, leaves, records = expr.build(at, requires_grad=True)
        inputs = list(expr._inputs.values())
        targets = [r.tensor for r in records] + [r.tensor for r in inputs]
        run = replay(out, also=targets, record=False, who="reverse_trace")
    adj = {id(t): _scalar(run.grad(t)) for t in targets}
    consumers: dict[int, list[str]] = {}
    for rec in records:
        for i, o in enumerate(rec.operands):
            if isinstance(o, _Record):
                consumers.setdefault(id(o), []).append(
                    _times(_local_text(rec, i), f"v̄{rec.label[1:]}"))
    rows = []
    for rec in records[::-1] + inputs[::-1]:
        rule = _sum(consumers.get(id(rec), [])) or "seed f̄ = 1"
        definition = _definition(rec) if rec.op != "input" else \
            next(n for n, r in expr._inputs.items() if r is rec)
        value = _scalar(rec.tensor.numpy())
        rows.append(TraceRow(rec.label, definition, value, adj[id(rec.tensor)], rule,
                             _note(rec, value, adj[id(rec.tensor)])))
    grads = {n: adj[id(expr._inputs[n].tensor)] for n in expr.variables}
    return Trace("reverse", expr.source, dict(at), None, rows, _scalar(out.numpy()), grads,
                 decimals)


class Traces(list):
    """Several traces of one expression (one forward pass per variable, and the reverse
    pass), shown one after the other."""

    def __str__(self) -> str:
        return "\n\n".join(str(t) for t in self)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return "".join(t._repr_html_() for t in self)

    def to_dict(self) -> list[dict]:
        return [t.to_dict() for t in self]


def trace(expr: Expression | str, at: Mapping[str, float] | None = None,
          mode: str = "reverse", wrt: str | None = None, decimals: int = 4
          ) -> Trace | Traces:
    """The evaluation trace of `expr` at `at` (default 2 for every variable): mode
    "reverse" (one pass, every adjoint), "forward" (one tangent pass per variable, or only
    `wrt`'s) or "both". One pass gives a Trace; several give Traces."""
    if mode not in ("forward", "reverse", "both"):
        raise ValueError(f"trace: mode must be 'forward', 'reverse' or 'both', got {mode!r}")
    expr = parse(expr) if isinstance(expr, str) else expr
    at = {n: 2.0 for n in expr.variables} if at is None else dict(at)
    if wrt is not None and mode == "reverse":
        raise ExprError("trace: wrt picks the variable of a forward-mode pass; reverse mode "
                        "gives every variable's gradient in one pass")
    found = Traces()
    if mode in ("forward", "both"):
        for v in [wrt] if wrt else expr.variables:
            found.append(forward_trace(expr, at, wrt=v, decimals=decimals))
    if mode in ("reverse", "both"):
        found.append(reverse_trace(expr, at, decimals=decimals))
    return found[0] if len(found) == 1 else found
