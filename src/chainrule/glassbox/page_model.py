"""What the explorer page shows, as plain data: every node's forward value and how it is
computed, its upstream gradient (the sum where paths meet), its local derivatives written
with its operands' names, the products it sends back, its full chain rule from the output,
and for a parameter a numerical-gradient check. Every number is one `explain` computed;
this module only words them (`page` draws them).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chainrule.engine import Tensor
from chainrule.glassbox.graph import GraphNames
from chainrule.glassbox.notation import graph_symbol, notation_of, trace_definition
from chainrule.glassbox.numcheck import check_leaf
from chainrule.glassbox.paths import wrt_report
from chainrule.glassbox.report import Explanation, Step
from chainrule.glassbox.text import fmt_array, fmt_number, shape_text
from chainrule.glassbox.wording import d

__all__ = ["page_data", "MAX_INSPECTED"]

MAX_INSPECTED = 80   # nodes whose full chain rule and gradient check the page carries


def _numel(t: Tensor) -> int:
    return int(np.asarray(t.numpy()).size)


def _kind(t: Tensor, output: Tensor) -> str:
    if t is output:
        return "output"
    if t.node is not None:
        return "op"
    return "param" if t.requires_grad else "const"


class _Words:
    """Numbers as the page writes them: full summaries in the panel, short on edges."""

    def __init__(self, decimals: int, max_elements: int):
        self.d, self.m = decimals, max_elements

    def full(self, a: Any) -> str:
        """A small array in full; a large one by shape, mean and norm, and its first
        entries, so a learner sees actual numbers."""
        a = np.asarray(a)
        text = fmt_array(a, self.d, self.m)
        if a.size > self.m:
            first = " ".join(fmt_number(v, self.d) for v in a.reshape(-1)[:3])
            text += f"; first entries [{first} …]"
        return text

    def short(self, a: Any) -> str:
        a = np.asarray(a)
        if a.size <= min(self.m, 4):
            return fmt_array(a, self.d, self.m)
        return f"({shape_text(a.shape)})"

    def short_grad(self, a: Any) -> str:
        a = np.asarray(a)
        if a.size <= min(self.m, 4):
            return fmt_array(a, self.d, self.m)
        return f"‖·‖ {fmt_number(np.linalg.norm(a.astype(np.float64)), self.d)}"

    def scalar(self, a: Any) -> bool:
        return np.asarray(a).size == 1


def _definition(t: Tensor, names: list[str], w: _Words, values: list) -> tuple[str, str]:
    """`name`'s definition from its operands' names, and the same with their numbers."""
    view = t.node
    note = notation_of(view.primitive)
    attrs = dict(view.attrs)
    if note.trace is not None:
        try:
            by_name = trace_definition(view.primitive, names, attrs)
            numbers = trace_definition(view.primitive, [
                w.full(v) if w.scalar(v) and not float(np.asarray(v).reshape(())) < 0
                else f"({w.full(v)})" if w.scalar(v) else n for v, n in zip(values, names)], attrs)
            return by_name, numbers
        except (IndexError, KeyError):
            pass
    return f"{view.primitive.name}({', '.join(names)})", ""


def _consumers(nodes: Sequence[Tensor]) -> dict[int, list[tuple[Tensor, int]]]:
    found: dict[int, list[tuple[Tensor, int]]] = {}
    for t in nodes:
        for i, p in enumerate(t.inputs):
            found.setdefault(id(p), []).append((t, i))
    return found


def page_data(output: Tensor, nodes: Sequence[Tensor], namer: GraphNames, exp: Explanation,
              step_nodes: Sequence[Tensor], title: str = "",
              notes: Sequence[str] = ()) -> dict[str, Any]:
    """The page's content for `output`'s graph. `exp` is explain's report on it, with
    `step_nodes[k]` the tensor of `exp.steps[k]`. nan and inf stay quiet (no NumPy
    warnings): the page says why they arise."""
    with np.errstate(all="ignore"):
        return _page_data(output, nodes, namer, exp, step_nodes, title, notes)


def _page_data(output, nodes, namer, exp, step_nodes, title, notes) -> dict[str, Any]:
    w = _Words(exp.decimals, exp.max_elements)
    L = exp.output_name
    index = {id(t): k for k, t in enumerate(nodes)}
    step_of: dict[int, Step] = {id(t): s for t, s in zip(step_nodes, exp.steps)}
    leaf_grad = {n: g for n, _, g in exp.leaves}
    sent: dict[tuple[int, int], np.ndarray] = {}
    for t, s in zip(step_nodes, exp.steps):
        for i, term in enumerate(s.inputs):
            if term.grad is not None:
                sent[(id(t), i)] = term.grad
    consumers = _consumers(nodes)
    inspect = len(nodes) <= MAX_INSPECTED

    out_nodes, edges = [], []
    for k, t in enumerate(nodes):
        name, value = namer(t), np.asarray(t.numpy())
        kind = _kind(t, output)
        node: dict[str, Any] = {"name": name, "kind": kind, "value": w.full(value),
                                "short": w.short(value), "shape": shape_text(value.shape)}
        view = t.node
        if view is not None:
            node["sym"] = graph_symbol(view.primitive, dict(view.attrs))
            args = [namer(p) for p in view.inputs]
            by_name, numbers = _definition(t, args, w, [p.numpy() for p in view.inputs])
            node["fwd"] = [f"{name} = {by_name}"] + ([f"   = {numbers}"] if numbers else []) \
                + [f"   = {w.full(value)}"]
            step = step_of.get(id(t))
            if step is not None and step.note:
                node["fwd"].append(f"   ! not finite: {step.note}")
            for i, p in enumerate(view.inputs):
                g = sent.get((id(t), i))
                edges.append({"from": index[id(p)], "to": k, "value": w.short(p.numpy()),
                              "grad": "" if g is None else w.short_grad(g)})
        else:
            node["fwd"] = [f"{name} = {w.full(value)}"
                           + ("  (a parameter: it requires grad)" if kind == "param" else
                              "  (a constant)")]
        if t.requires_grad:
            node.update(_backward(t, name, L, w, step_of.get(id(t)), leaf_grad.get(name),
                                  consumers.get(id(t), []), sent, namer))
            if inspect and t is not output:
                report = wrt_report(output, t, list(nodes), namer, node.pop("_total"))
                node["chain"] = exp._wrt_text(report).splitlines()
            else:
                node.pop("_total")
            if kind == "param" and inspect:
                node["check"] = _check_lines(output, t, nodes, leaf_grad.get(name), name, L, w,
                                             namer)
        out_nodes.append(node)

    steps = [{"k": index[id(t)], "phase": "forward"} for t in nodes if t.node is not None]
    steps.append({"k": index[id(output)], "phase": "backward"})
    steps += [{"k": index[id(t)], "phase": "backward"} for t in step_nodes if t is not output]
    steps += [{"k": index[id(t)], "phase": "backward"} for t in nodes
              if t.node is None and t.requires_grad and t is not output]
    return {"title": title or f"Backward pass of {L}", "output": L, "nodes": out_nodes,
            "edges": edges, "steps": steps, "notes": list(notes), "note": exp.note}


def _backward(t, name, L, w, step, leaf_total, consumers, sent, namer) -> dict[str, Any]:
    """The backward-pass lines of one node: upstream (summed over its consumers), then
    per input the local derivative and the product sent back."""
    if step is not None:
        total = step.upstream
    elif leaf_total is not None:
        total = leaf_total
    else:  # the output is itself a leaf
        total = np.ones_like(np.asarray(t.numpy()), dtype=np.float64)
    parts = [(c, sent[(id(c), i)]) for c, i in consumers if (id(c), i) in sent]
    if not consumers and not parts:
        up = [f"∂{L}/{d(name)} = 1   (the seed: the output's gradient with respect to itself)"]
    elif len(parts) > 1:
        terms = " + ".join(f"∂{L}/{d(name)} via {namer(c)}" for c, _ in parts)
        up = [f"∂{L}/{d(name)} = {terms}   (paths meet here: their gradients add)",
              "   = " + " + ".join(w.full(g) for _, g in parts).replace("+ -", "− "),
              f"   = {w.full(total)}"]
    else:
        via = f"   (from {namer(parts[0][0])})" if parts else ""
        up = [f"∂{L}/{d(name)} = {w.full(total)}{via}"]
    lines: list[str] = []
    if t.node is None:
        lines.append(f"{name} is a leaf: backward() stores ∂{L}/{d(name)} in {name}.grad")
    if step is not None:
        for term in step.inputs:
            if not term.requires_grad:
                continue
            formula = term.formula  # explain wrote it with the operands' names
            lhs = f"{d(name)}/{d(term.name)}"
            if term.local is not None:
                value = w.full(term.local)
                same = formula == value or _number(formula) == _number(value) is not None
                lines.append(f"{lhs} = {value}" if same else f"{lhs} = {formula} = {value}")
                if w.scalar(term.local) and w.scalar(total):
                    lines.append(f"   sends ∂{L}/{d(name)} × {lhs} = {w.full(total)} × "
                                 f"{_factor(w, term.local)} = {w.full(term.grad)} to {term.name}")
                else:
                    lines.append(f"   sends ∂{L}/{d(name)} ⊙ {lhs} = {w.full(term.grad)} "
                                 f"to {term.name}")
            else:
                lines.append(f"{lhs}: {formula}")
                lines.append(f"   sends the vector-Jacobian product ∂{L}/{d(name)} · {lhs} = "
                             f"{w.full(term.grad)} to {term.name}")
    return {"up": up, "locals": lines, "grad": w.full(total), "short_grad": w.short_grad(total),
            "_total": np.asarray(total)}


def _number(text: str) -> float | None:
    try:
        return float(text.replace("−", "-"))
    except ValueError:
        return None


def _factor(w: _Words, a: Any) -> str:
    text = w.full(a)
    return f"({text})" if text.startswith("-") else text


def _check_lines(output, t, nodes, analytic, name, L, w, namer) -> list[str]:
    if analytic is None or t.node is not None:
        return []
    chk = check_leaf(output, t, nodes, analytic)
    shape = np.asarray(analytic).shape
    head = (f"Numerical check of ∂{L}/{d(name)}: central differences (f(w+ε) − f(w−ε))/2ε, "
            f"ε = {chk.eps:g}, on the graph recomputed in float64")
    if chk.size > len(chk.indices):
        head += f" ({len(chk.indices)} of {chk.size} elements: the largest gradients)"
    lines = [head]
    for idx, a, n, e in zip(chk.indices, chk.analytic, chk.numerical, chk.errors):
        where = namer.element(t, int(np.ravel_multi_index(idx, shape))) if idx else name
        lines.append(f"  {where}: backprop {fmt_number(a, w.d)}, numerical "
                     f"{fmt_number(n, w.d)}, relative error {e:.1e}")
    verdict = "agree" if chk.ok else "DISAGREE"
    lines.append(f"  verdict: the gradients {verdict} (worst relative error {chk.worst:.1e}, "
                 f"tolerance {chk.tolerance:.0e})")
    return lines
