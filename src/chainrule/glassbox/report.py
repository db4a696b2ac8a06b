"""explain's report: the backward pass as a table, the chain rule for each `wrt`, as text,
JSON and HTML."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chainrule.glassbox.nonfinite import warning
from chainrule.glassbox.text import factor, fmt_array, fmt_number, plain, signed_sum, text_table

__all__ = ["Explanation", "ExplainedGraph", "Step", "InputTerm", "Chain", "PathSum", "WrtReport",
           "ONE_LINE"]

ONE_LINE = 100           # a single-path chain is written on one line up to this width


@dataclass
class InputTerm:
    """What one node sends to one of its inputs."""
    name: str
    requires_grad: bool
    formula: str
    local: np.ndarray | None  # ∂node/∂input per element (elementwise ops), else None
    grad: np.ndarray | None   # the gradient sent to this input (upstream · local)


@dataclass
class Step:
    """One node of the backward pass, in the order chainrule processes it."""
    index: int
    name: str
    op: str
    value: np.ndarray
    upstream: np.ndarray      # ∂L/∂node, the gradient arriving from the node's consumers
    inputs: list[InputTerm]
    note: str = ""            # why the value is nan or inf ("" when it is finite)


@dataclass
class Chain:
    """One path from the output to one element of `wrt`: labels and local derivatives."""
    labels: list[str]
    factors: list[float]

    @property
    def product(self) -> float:
        return float(np.prod(self.factors))


@dataclass
class PathSum:
    """One path's contribution to ∂L/∂wrt (the aggregated form, for larger tensors)."""
    nodes: list[str]
    contribution: np.ndarray


@dataclass
class WrtReport:
    """∂L/∂wrt written as a sum over paths."""
    name: str
    output: str
    gradient: np.ndarray
    chains: dict[int, list[Chain]] = field(default_factory=dict)  # flat index -> chains
    element_names: dict[int, str] = field(default_factory=dict)
    paths: list[PathSum] = field(default_factory=list)
    n_paths: int = 0
    note: str = ""


def _same_number(formula: str, value: str) -> bool:
    """True when a formula is just the number its value shows (∂(a+b)/∂a = 1)."""
    try:
        return float(formula.replace("−", "-")) == float(value)
    except ValueError:
        return False


@dataclass
class ExplainedGraph:
    """The graph an explanation was made from: what its explorer page draws."""
    output: Any
    nodes: list
    namer: Any
    step_nodes: list          # the tensor of each step, in the order of `steps`


class Explanation:
    """The backward pass as a report: `str()` for a table, `to_dict()`/`to_json()` for
    tools (full precision), `_repr_html_()` for Jupyter."""

    def __init__(self, output_name: str, output_value: np.ndarray, steps: list[Step],
                 leaves: list[tuple[str, np.ndarray, np.ndarray]], wrt: list[WrtReport],
                 decimals: int = 4, max_elements: int = 6, note: str = ""):
        self.output_name, self.output_value = output_name, output_value
        self.steps, self.leaves, self.wrt = steps, leaves, wrt
        self.decimals, self.max_elements, self.note = decimals, max_elements, note
        self.graph: ExplainedGraph | None = None   # set by explain()

    # -- lookups handy in notebooks and tests
    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"explain: no node named {name!r}; nodes: {[s.name for s in self.steps]}")

    def gradient(self, name: str) -> np.ndarray:
        """∂L/∂(tensor called name): a leaf's gradient or a node's upstream gradient."""
        for n, _, g in self.leaves:
            if n == name:
                return g
        return self.step(name).upstream

    # -- text
    def _f(self, a: Any) -> str:
        return fmt_array(a, self.decimals, self.max_elements)

    def table_rows(self) -> list[list[str]]:
        rows = []
        for s in self.steps:
            args = ", ".join(t.name for t in s.inputs)
            head = [str(s.index), f"{s.name} = {s.op}({args})", self._f(s.value),
                    self._f(s.upstream)]
            first = True
            for t in s.inputs:
                if not t.requires_grad:
                    continue
                value = None if t.local is None else self._f(t.local)
                local = t.formula if value is None else (
                    value if _same_number(t.formula, value) else f"{t.formula} = {value}")
                rows.append((head if first else [""] * 4) + [t.name, local, self._f(t.grad)])
                first = False
            if first:
                rows.append(head + ["", "", ""])
        return rows

    def __str__(self) -> str:
        L = self.output_name
        out = [f"Backward pass of {L} = {self._f(self.output_value)}  "
               f"(nodes in the order chainrule runs them; ∂{L}/∂{L} = 1)"]
        if self.note:
            out.append(self.note)
        out.append("")
        out.append(text_table(
            ["step", "node", "value", f"∂{L}/∂node (upstream)", "input",
             "local ∂node/∂input", f"∂{L}/∂input (sent)"],
            self.table_rows(), right=[0]))
        noted = [(s.name, s.note) for s in self.steps[::-1] if s.note]  # the cause first
        if noted:
            out += [""] + [f"! {name} is not finite: {note}" for name, note in noted]
            out.append(warning(noted))
        if self.leaves:
            out += ["", "Gradients reaching the leaves (summed over every use):", ""]
            out.append(text_table(["leaf", "value", f"∂{L}/∂leaf"],
                                  [[n, self._f(v), self._f(g)] for n, v, g in self.leaves]))
        for w in self.wrt:
            out += ["", self._wrt_text(w)]
        return "\n".join(out)

    def _wrt_text(self, w: WrtReport) -> str:
        d = self.decimals
        L = w.output
        lines = [f"Chain rule for ∂{L}/∂{w.name} (sum over every path from {L} to {w.name}):"]
        if w.note:
            lines.append(w.note)
        if w.chains or w.element_names:
            for idx, name in w.element_names.items():
                chains = w.chains.get(idx, [])
                lhs = f"∂{L}/∂{name}"
                if not chains:
                    lines.append(f"  {lhs} = 0  (no path with a nonzero local derivative)")
                    continue
                symbolic = " + ".join(
                    " · ".join(f"∂{a}/∂{b}" for a, b in zip(c.labels, c.labels[1:]))
                    for c in chains)
                numeric = " + ".join(
                    ("(" if len(chains) > 1 else "")
                    + " × ".join(factor(f, d) for f in c.factors)
                    + (")" if len(chains) > 1 else "") for c in chains)
                total = float(np.asarray(w.gradient).reshape(-1)[idx])
                if len(chains) == 1:
                    one = f"  {lhs} = {symbolic} = {numeric} = {fmt_number(total, d)}"
                    if len(one) <= ONE_LINE:
                        lines.append(one)
                        continue
                pad = " " * (len(lhs) + 2)
                lines.append(f"  {lhs} = {symbolic}")
                lines.append(f"  {pad} = {numeric}")
                if len(chains) > 1:
                    lines.append(f"  {pad} = " + signed_sum([c.product for c in chains], d))
                lines.append(f"  {pad} = {fmt_number(total, d)}")
        elif w.paths:
            for k, p in enumerate(w.paths, 1):
                lines.append(f"  path {k}: {' ← '.join(p.nodes)}")
                lines.append(f"          contributes {self._f(p.contribution)}")
            lines.append(f"  sum of the {len(w.paths)} paths = ∂{L}/∂{w.name} = "
                         f"{self._f(w.gradient)}")
        else:
            lines.append(f"  ∂{L}/∂{w.name} = {self._f(w.gradient)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def to_html(self, title: str = "", notes: Any = ()) -> str:
        """The explorer page: one self-contained HTML file that steps through this forward
        and backward pass (→/←, Next/Previous) and explains a node when clicked. A `str`
        (write it, or `.save(path)`); a notebook shows it live in a frame of its own."""
        if self.graph is None:
            raise ValueError("to_html: this explanation has no graph; make it with "
                             "chainrule.explain(output)")
        from chainrule.glassbox.page import page_html
        from chainrule.glassbox.page_model import page_data
        g = self.graph
        return page_html(page_data(g.output, g.nodes, g.namer, self, g.step_nodes, title,
                                   list(notes)))

    # -- machine-readable
    def to_dict(self) -> dict:
        """Everything in the report, numbers at full precision (nested lists for arrays)."""
        return {
            "output": {"name": self.output_name, "value": plain(self.output_value)},
            "steps": [{
                "index": s.index, "name": s.name, "op": s.op, "value": plain(s.value),
                "upstream": plain(s.upstream),
                "inputs": [{"name": t.name, "requires_grad": t.requires_grad,
                            "local_formula": t.formula, "local": plain(t.local),
                            "grad": plain(t.grad)} for t in s.inputs],
            } for s in self.steps],
            "leaves": [{"name": n, "value": plain(v), "grad": plain(g)}
                       for n, v, g in self.leaves],
            "wrt": [{
                "name": w.name, "gradient": plain(w.gradient), "note": w.note,
                "chains": [{"element": w.element_names[i], "labels": c.labels,
                            "factors": c.factors, "product": c.product}
                           for i, cs in w.chains.items() for c in cs],
                "paths": [{"nodes": p.nodes, "contribution": plain(p.contribution)}
                          for p in w.paths],
                "n_paths": w.n_paths,
            } for w in self.wrt],
        }

    def to_json(self, **kwargs: Any) -> str:
        kwargs.setdefault("indent", 2)
        kwargs.setdefault("ensure_ascii", False)
        return json.dumps(self.to_dict(), **kwargs)

    def _repr_html_(self) -> str:
        """The table, the leaves' gradients and the chain rule (as fractions) in a notebook."""
        from chainrule.glassbox.notebook import STYLE, html_table, math_block
        L = self.output_name
        heads = ["step", "node", "value", f"∂{L}/∂node", "input", "local ∂node/∂input",
                 f"∂{L}/∂input"]
        parts = [STYLE, html_table(heads, self.table_rows(), right=[0],
                                   caption=f"Backward pass of {L} = "
                                           f"{self._f(self.output_value)}")]
        if self.leaves:
            parts.append(html_table(["leaf", "value", f"∂{L}/∂leaf"],
                                    [[n, self._f(v), self._f(g)] for n, v, g in self.leaves]))
        for w in self.wrt:
            parts.append(math_block(self._wrt_text(w).splitlines()))
        return "\n".join(parts)
