"""explain: the backward pass written out node by node, and the chain rule along every path.

`explain(loss)` replays the reverse pass (on the retained graph, without touching any
`.grad`) and records, for every node in the order chainrule runs it: its operation, its
forward value, the local derivative of the node with respect to each input, the upstream
gradient ∂L/∂node, and the gradient it sends to each input. `explain(loss, wrt=w)` also
writes ∂L/∂w as the sum over all paths of the products of local derivatives, with the
numbers multiplied out, as the tutorials do by hand.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from chainrule.engine import Tensor, backward_pass
from chainrule.ops.generic import sum_to

__all__ = ["explain", "Explanation", "Step", "InputTerm", "Chain", "PathSum", "WrtReport",
           "GraphNames", "graph_nodes", "fmt_number", "fmt_array", "text_table"]

# ---- number formatting shared by the glass-box tools ---------------------------------


def fmt_number(x: float, decimals: int = 4) -> str:
    """A number to `decimals` places, without a minus sign on a rounded zero."""
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    text = f"{x:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text


def fmt_array(a: Any, decimals: int = 4, max_elements: int = 6) -> str:
    """A scalar as a number, a small array as [a b; c d], a large one by shape and size."""
    if a is None:
        return "—"
    a = np.asarray(a)
    if a.size == 1:
        return fmt_number(a.reshape(()), decimals)
    if a.size == 0:
        return f"(empty {_shape_text(a.shape)})"
    if a.size <= max_elements:
        if a.ndim <= 1:
            return "[" + " ".join(fmt_number(v, decimals) for v in a.ravel()) + "]"
        rows = a.reshape(-1, a.shape[-1])
        body = "; ".join(" ".join(fmt_number(v, decimals) for v in r) for r in rows)
        return f"[{body}]"
    af = a.astype(np.float64)
    return (f"({_shape_text(a.shape)}) mean {fmt_number(af.mean(), decimals)}, "
            f"norm {fmt_number(np.linalg.norm(af), decimals)}")


def _signed_sum(values: Sequence[float], decimals: int) -> str:
    """a + b − c, as written by hand."""
    out = fmt_number(values[0], decimals)
    for v in values[1:]:
        text = fmt_number(v, decimals)
        out += f" − {text[1:]}" if text.startswith("-") else f" + {text}"
    return out


def _factor(x: float, decimals: int) -> str:
    """A factor in a product: negative numbers in parentheses, as written by hand."""
    text = fmt_number(x, decimals)
    return f"({text})" if text.startswith("-") else text


def _shape_text(shape: tuple) -> str:
    return "×".join(str(n) for n in shape) if shape else "scalar"


def text_table(headers: Sequence[str], rows: Iterable[Sequence[str]],
               right: Iterable[int] = ()) -> str:
    """Rows of strings as an aligned plain-text table (columns in `right` right-aligned)."""
    rows = [list(map(str, r)) for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    right = set(right)

    def line(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()
    out = [line(headers), "  ".join("─" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _plain(a: Any) -> Any:
    """An array as nested Python floats (full precision) for JSON."""
    if a is None:
        return None
    a = np.asarray(a)
    return a.item() if a.ndim == 0 else a.tolist()


# ---- the graph and its names ----------------------------------------------------------


def graph_nodes(output: Tensor) -> list[Tensor]:
    """Every tensor `output` was computed from (constants included), inputs before the
    nodes that use them; found iteratively, so deep graphs need no recursion."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(output, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        for p in reversed(t.inputs):
            if id(p) not in seen:
                stack.append((p, False))
    return order


def _names_dict(names: Any) -> dict[int, Any]:
    """User names keyed by tensor id, from a dict, (name, tensor) pairs or a Module."""
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):
        return {id(t): n for n, t in names.named_parameters()}
    if isinstance(names, Mapping):
        items = names.items()
        if items and all(isinstance(k, str) for k in names):  # {name: tensor}
            items = [(t, n) for n, t in names.items()]
        return {id(t): n for t, n in items}
    return {id(t): n for n, t in names}


class GraphNames:
    """Readable names for a graph's tensors: user names (`tensor.name`, a names dict or a
    Module's `named_parameters()`), else `op#k` for results, `leaf#k` for leaves that
    require grad and the value (or `const#k`) for constants. A name may also be a nested
    list of per-element names with the tensor's shape, e.g. [["W1", "W2"], ["W3", "W4"]],
    or a pair ("W", [["W1", "W2"], ["W3", "W4"]]). An unnamed output is called L."""

    def __init__(self, nodes: Sequence[Tensor], names: Any = None,
                 output: Tensor | None = None):
        user = _names_dict(names)
        if output is not None and id(output) not in user and output.name is None:
            user[id(output)] = "L"  # the tutorials' name for what is differentiated
        self._name: dict[int, str] = {}
        self._elements: dict[int, np.ndarray] = {}
        self.user_named: set[int] = set()
        counts: dict[str, int] = {}
        for t in nodes:
            given = user.get(id(t), t.name)
            stem = t.name
            if isinstance(given, tuple) and len(given) == 2 and isinstance(given[0], str):
                stem, given = given  # (tensor name, per-element names)
            if given is not None and not isinstance(given, str):
                elems = np.asarray(given, dtype=object)
                if elems.shape != t.shape and elems.size == t.size:
                    elems = elems.reshape(t.shape)
                if elems.shape != t.shape:
                    raise ValueError(f"explain: per-element names have shape {elems.shape} but "
                                     f"the tensor has shape {t.shape}")
                self._elements[id(t)] = elems
                given = stem or _common_stem(elems)
            if given is not None:
                self._name[id(t)] = given
                self.user_named.add(id(t))
                continue
            if t.op is not None:
                kind = t.op
            elif t.requires_grad:
                kind = "leaf"
            elif t.size == 1:
                self._name[id(t)] = f"{float(t.data.reshape(())):g}"
                continue
            else:
                kind = "const"
            counts[kind] = counts.get(kind, 0) + 1
            self._name[id(t)] = f"{kind}#{counts[kind]}"

    def __call__(self, t: Tensor) -> str:
        return self._name.get(id(t), "?")

    def element(self, t: Tensor, flat_index: int) -> str:
        """The name of one element: its own name if given, else name[i, j]."""
        elems = self._elements.get(id(t))
        if elems is not None:
            return str(elems.reshape(-1)[flat_index])
        if t.size == 1:
            return self(t)
        idx = np.unravel_index(flat_index, t.shape)
        return f"{self(t)}[{','.join(str(int(i)) for i in idx)}]"


def _common_stem(elems: np.ndarray) -> str:
    return "[" + ",".join(str(e) for e in elems.reshape(-1)) + "]"


# ---- local derivatives ----------------------------------------------------------------

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
_MOVES = {"reshape", "transpose", "broadcast_to", "getitem", "index_add", "concat", "stack"}


def _local(node: Tensor, i: int) -> tuple[str, np.ndarray | None]:
    """(formula, value) of ∂node/∂input_i; value is per element for elementwise ops and
    None where the local derivative is a Jacobian-vector product."""
    op, inp = node.op, node.inputs[i]
    attrs = node._attrs or {}
    if op in ELEMENTWISE:
        prim = node._prim
        args = [t.data for t in node.inputs]
        value = prim.jvps[i](np.ones_like(inp.data), node.data, *args, **attrs)
        value = np.array(np.broadcast_to(value, node.shape), dtype=np.float64)
        if op == "pow" and "p" in attrs:
            p = attrs["p"]
            return f"{p:g}·a^{p - 1:g}", value
        return FORMULAS[op][min(i, len(FORMULAS[op]) - 1)], value
    if op == "mean":
        n = inp.size // max(node.size, 1)
        return f"1/n for every element (n = {n})", None
    if op in STRUCTURAL:
        forms = STRUCTURAL[op]
        return (f"{forms[min(i, len(forms) - 1)]}, {_shape_text(inp.shape)} → "
                f"{_shape_text(node.shape)}"), None
    if op in _MOVES:
        return "1: values only move (g is rearranged back)", None
    return (f"Jacobian-vector product, {_shape_text(inp.shape)} → "
            f"{_shape_text(node.shape)}"), None


def _jacobian(node: Tensor, i: int) -> np.ndarray:
    """The full Jacobian ∂node/∂input_i (node.size × input.size), one VJP per row."""
    prim, inp = node._prim, node.inputs[i]
    args = [t.data for t in node.inputs]
    attrs = node._attrs or {}
    jac = np.zeros((node.size, inp.size))
    for k in range(node.size):
        e = np.zeros(node.size, dtype=node.dtype)
        e[k] = 1
        row = prim.vjps[i](e.reshape(node.shape), node.data, *args, **attrs)
        jac[k] = np.asarray(sum_to(np.asarray(row), inp.shape), dtype=np.float64).reshape(-1)
    return jac


def _vjp(node: Tensor, i: int, g: np.ndarray) -> np.ndarray:
    args = [t.data for t in node.inputs]
    out = node._prim.vjps[i](g, node.data, *args, **(node._attrs or {}))
    return np.asarray(sum_to(np.asarray(out), node.inputs[i].shape), dtype=np.float64)


# ---- the report -----------------------------------------------------------------------


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


class Explanation:
    """The backward pass as a report: `str()` for a table, `to_dict()`/`to_json()` for
    tools (full precision), `_repr_html_()` for Jupyter."""

    def __init__(self, output_name: str, output_value: np.ndarray, steps: list[Step],
                 leaves: list[tuple[str, np.ndarray, np.ndarray]], wrt: list[WrtReport],
                 decimals: int = 4, max_elements: int = 6, note: str = ""):
        self.output_name, self.output_value = output_name, output_value
        self.steps, self.leaves, self.wrt = steps, leaves, wrt
        self.decimals, self.max_elements, self.note = decimals, max_elements, note

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
                local = t.formula if t.local is None else f"{t.formula} = {self._f(t.local)}"
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
                    + " × ".join(_factor(f, d) for f in c.factors)
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
                    lines.append(f"  {pad} = " + _signed_sum([c.product for c in chains], d))
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

    # -- machine-readable
    def to_dict(self) -> dict:
        """Everything in the report, numbers at full precision (nested lists for arrays)."""
        return {
            "output": {"name": self.output_name, "value": _plain(self.output_value)},
            "steps": [{
                "index": s.index, "name": s.name, "op": s.op, "value": _plain(s.value),
                "upstream": _plain(s.upstream),
                "inputs": [{"name": t.name, "requires_grad": t.requires_grad,
                            "local_formula": t.formula, "local": _plain(t.local),
                            "grad": _plain(t.grad)} for t in s.inputs],
            } for s in self.steps],
            "leaves": [{"name": n, "value": _plain(v), "grad": _plain(g)}
                       for n, v, g in self.leaves],
            "wrt": [{
                "name": w.name, "gradient": _plain(w.gradient), "note": w.note,
                "chains": [{"element": w.element_names[i], "labels": c.labels,
                            "factors": c.factors, "product": c.product}
                           for i, cs in w.chains.items() for c in cs],
                "paths": [{"nodes": p.nodes, "contribution": _plain(p.contribution)}
                          for p in w.paths],
                "n_paths": w.n_paths,
            } for w in self.wrt],
        }

    def to_json(self, **kwargs: Any) -> str:
        kwargs.setdefault("indent", 2)
        kwargs.setdefault("ensure_ascii", False)
        return json.dumps(self.to_dict(), **kwargs)

    def _repr_html_(self) -> str:
        L = html.escape(self.output_name)
        heads = ["step", "node", "value", f"∂{L}/∂node", "input", "local ∂node/∂input",
                 f"∂{L}/∂input"]
        cells = "".join(f"<th>{h}</th>" for h in heads)
        body = "".join("<tr>" + "".join(f"<td><code>{html.escape(c)}</code></td>" for c in r)
                       + "</tr>" for r in self.table_rows())
        parts = [f"<p><b>Backward pass of {L} = {html.escape(self._f(self.output_value))}"
                 f"</b></p>", f"<table><thead><tr>{cells}</tr></thead><tbody>{body}"
                 f"</tbody></table>"]
        for w in self.wrt:
            parts.append(f"<pre>{html.escape(self._wrt_text(w))}</pre>")
        return "\n".join(parts)


# ---- explain --------------------------------------------------------------------------

ONE_LINE = 100           # a single-path chain is written on one line up to this width
MAX_CHAINS = 48          # element-level chains listed before falling back to path sums
MAX_PATHS = 32           # tensor-level paths listed in the aggregated form
MAX_JACOBIAN = 4096      # entries of a local Jacobian built for element-level chains


def explain(output: Tensor, wrt: Tensor | Sequence[Tensor] | None = None, names: Any = None,
            decimals: int = 4, max_elements: int = 6) -> Explanation:
    """Replay the backward pass of `output` and report every node's value, local
    derivative(s), upstream gradient and the gradients it sends back.

    `names`: {tensor: name}, where a name may also be a nested list of per-element names
    or a pair ("W", [["W1", "W2"], …]); or (name, tensor) pairs, or a Module with
    `named_parameters()` (names like "0.weight"); `tensor.name` is used too. Unnamed
    results are called op#k (mul#3) and an unnamed output L.
    `wrt`: tensor(s) whose gradient is also written out as the chain rule summed over
    every path. The graph is kept (retain_graph) and no `.grad` is changed. A non-scalar
    output is explained as sum(output) (seeded with ones).
    """
    if not isinstance(output, Tensor):
        raise TypeError(f"explain: expected the output Tensor, got {type(output).__name__}")
    if not output.requires_grad:
        raise ValueError("explain: the output does not require grad, so it has no backward "
                         "pass; build it from tensors created with requires_grad=True")
    targets = [] if wrt is None else ([wrt] if isinstance(wrt, Tensor) else list(wrt))
    nodes = graph_nodes(output)
    namer = GraphNames(nodes, names, output)
    node_ids = {id(t) for t in nodes}
    for t in targets:
        if id(t) not in node_ids:
            raise ValueError(f"explain: a wrt tensor of shape {t.shape} is not part of the "
                             f"output's graph (the output was not computed from it)")
        if not t.requires_grad:
            raise ValueError(f"explain: wrt tensor {namer(t)} does not require grad, so no "
                             f"gradient flows to it; create it with requires_grad=True")

    leaves = [t for t in nodes if t.op is None and t.requires_grad]
    wanted = leaves + [t for t in targets if t.op is not None]
    steps: list[Step] = []

    def on_node(node: Tensor, g: Any, in_grads: list) -> None:
        terms = []
        for i, (inp, gi) in enumerate(zip(node.inputs, in_grads)):
            formula, local = _local(node, i)
            grad = None if gi is None else np.array(sum_to(np.asarray(gi), inp.shape))
            terms.append(InputTerm(namer(inp), inp.requires_grad, formula, local, grad))
        steps.append(Step(len(steps) + 1, namer(node), node.op, np.array(node.data),
                          np.array(g), terms))

    seed = np.ones_like(output.data)
    try:
        found = backward_pass([output], [seed], retain_graph=True, inputs=wanted,
                              on_node=on_node)
    except RuntimeError as err:
        if "second time" in str(err):
            raise RuntimeError("explain: this graph was already freed by a backward() call; "
                               "run explain before backward(), or call backward("
                               "retain_graph=True), or build the graph again") from None
        raise
    grads = {id(t): (np.zeros_like(t.data) if g is None else np.asarray(g))
             for t, g in zip(wanted, found)}
    leaf_rows = [(namer(t), np.array(t.data), grads[id(t)]) for t in leaves]
    note = "" if output.size == 1 else (
        f"(the output has shape {output.shape}: explaining sum({namer(output)}), "
        f"seeded with ones)")
    reports = [_wrt_report(output, t, nodes, namer, grads[id(t)]) for t in targets]
    return Explanation(namer(output), np.array(output.data), steps, leaf_rows, reports,
                       decimals, max_elements, note)


# ---- the chain rule along every path -----------------------------------------------


class _TooMany(Exception):
    pass


def _on_paths(output: Tensor, target: Tensor, nodes: list[Tensor]) -> list[Tensor]:
    """The nodes lying on some path from output down to target, consumers first."""
    reaches = {id(target)}
    for t in nodes:  # inputs come before their consumers
        if any(id(p) in reaches for p in t.inputs if p.requires_grad):
            reaches.add(id(t))
    return [t for t in reversed(nodes) if id(t) in reaches]


def _wrt_report(output: Tensor, target: Tensor, nodes: list[Tensor], namer: GraphNames,
                gradient: np.ndarray) -> WrtReport:
    report = WrtReport(namer(target), namer(output), gradient)
    if target is output:  # ∂L/∂L = 1: no path to write out
        return report
    on_path = _on_paths(output, target, nodes)
    if id(output) not in {id(t) for t in on_path}:
        report.note = "  (the output does not depend on it: the gradient is zero)"
        return report
    # stop at user-named nodes when there are any, so a chain reads like the tutorials
    # (∂L/∂σ3 · ∂σ3/∂z3 · …); otherwise write the chain through every node
    interior = [t for t in on_path if t is not output and t is not target]
    named = {id(t) for t in interior if id(t) in namer.user_named}
    stops = {id(output), id(target)} | (named if named else {id(t) for t in interior})
    try:
        _element_chains(output, target, on_path, stops, namer, report)
    except _TooMany:
        report.chains, report.element_names = {}, {}
        _path_sums(output, target, on_path, stops, namer, report)
    return report


def _element_chains(output, target, on_path, stops, namer, report) -> None:
    """Chains element by element: each factor is one entry of a (collapsed) Jacobian."""
    if any(t.size * p.size > MAX_JACOBIAN for t in on_path for p in t.inputs):
        raise _TooMany
    on_ids = {id(t) for t in on_path}
    jac: dict[tuple[int, int], np.ndarray] = {}
    for t in on_path:
        for i, p in enumerate(t.inputs):
            if id(p) in on_ids and p.requires_grad:
                key = (id(t), id(p))
                j = _jacobian(t, i)
                jac[key] = j if key not in jac else jac[key] + j
    # segment Jacobians: from each stop A to the stops reachable through non-stops only
    segments: dict[int, list[tuple[Tensor, np.ndarray]]] = {}
    by_id = {id(t): t for t in on_path}
    for pos, a in enumerate(on_path):
        if id(a) not in stops or a is target:
            continue
        acc = {id(a): np.eye(a.size)}
        for n in on_path[pos:]:
            if id(n) not in acc or (n is not a and id(n) in stops):
                continue
            for p in {id(p): p for p in n.inputs}.values():
                key = (id(n), id(p))
                if key in jac:
                    contrib = acc[id(n)] @ jac[key]
                    acc[id(p)] = contrib if id(p) not in acc else acc[id(p)] + contrib
        segments[id(a)] = [(by_id[b], m) for b, m in acc.items() if b in stops and b != id(a)]

    chains: dict[int, list[Chain]] = {}
    count = 0
    stack = [(output, k, [namer.element(output, k)], []) for k in range(output.size)]
    while stack:
        a, i, labels, factors = stack.pop()
        for b, m in segments.get(id(a), []):
            for j in np.flatnonzero(m[i]):
                lab, fac = labels + [namer.element(b, j)], factors + [float(m[i, j])]
                if b is target:
                    count += 1
                    if count > MAX_CHAINS:
                        raise _TooMany
                    chains.setdefault(int(j), []).append(Chain(lab, fac))
                else:
                    stack.append((b, int(j), lab, fac))
    if target.size > MAX_CHAINS:
        raise _TooMany
    report.chains = {j: chains[j][::-1] for j in sorted(chains)}
    report.element_names = {j: namer.element(target, j) for j in range(target.size)}
    report.n_paths = count


def _path_sums(output, target, on_path, stops, namer, report) -> None:
    """Aggregated form: each tensor-level path's contribution (a chain of VJPs)."""
    on_ids = {id(t) for t in on_path}
    seed = np.ones(output.shape)
    merged: dict[tuple[str, ...], np.ndarray] = {}
    count = 0
    stack = [(output, seed, [output])]
    while stack:
        t, g, trail = stack.pop()
        for i, p in enumerate(t.inputs):
            if id(p) not in on_ids or not p.requires_grad:
                continue
            gp = _vjp(t, i, g)
            if p is target:
                count += 1
                if count > MAX_PATHS:
                    report.paths, report.n_paths = [], count
                    report.note = (f"  (more than {MAX_PATHS} paths: only the total is shown)")
                    return
                key = tuple(namer(n) for n in trail + [p] if id(n) in stops)
                merged[key] = merged[key] + gp if key in merged else gp
            else:
                stack.append((p, gp, trail + [p]))
    report.paths = [PathSum(list(k), v) for k, v in merged.items()]
    report.n_paths = count
