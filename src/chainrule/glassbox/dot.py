"""Computational graphs as Graphviz DOT, drawn the way the tutorials draw them.

Operations are nodes; every tensor travels on an edge labelled with its name, its forward
value above and, in red beneath, the gradient that flows back along that edge. Leaves that
require grad (parameters) are shaded boxes, constants plain text, the output a double
circle. Gradients come from a backward pass that `to_dot` runs itself on the retained
graph, with nothing accumulated into any `.grad`: each edge shows the gradient its
consumer sends back along it (so a tensor used twice shows both contributions, and its
node the total).
"""
from __future__ import annotations

import html
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.engine import Tensor
from chainrule.glassbox.graph import GraphNames, graph_nodes
from chainrule.glassbox.notation import graph_symbol
from chainrule.glassbox.replay import replay
from chainrule.glassbox.text import fmt_array, fmt_number

__all__ = ["Dot", "to_dot", "render", "GraphvizNotFound", "FORMATS", "dot_available"]

FORMATS = ("svg", "png", "pdf", "dot")
GRAD_COLOR = "#c0392b"
PARAM_COLOR = "#d6eaf8"


class GraphvizNotFound(RuntimeError):
    """Graphviz's `dot` program is not on PATH."""


def dot_available() -> bool:
    return shutil.which("dot") is not None


class Dot(str):
    """DOT source: a `str` (so it can be written or printed as it is) with `.source`,
    `.render(path)`, `.pipe(fmt)`, and an SVG picture in Jupyter when `dot` exists."""

    @property
    def source(self) -> str:
        return str.__str__(self)

    def pipe(self, fmt: str = "svg") -> bytes:
        """The graph rendered by Graphviz to `fmt` bytes."""
        return _run_dot(self.source, fmt)

    def render(self, path: str | Path) -> Path:
        return render(self, path)

    def _repr_svg_(self) -> str | None:
        """The picture in Jupyter, scaled to the cell's width (never cut at its edge)."""
        if not dot_available():
            return None
        from chainrule.glassbox.notebook import scale_svg
        return scale_svg(self.pipe("svg").decode("utf-8"))


def _run_dot(source: str, fmt: str) -> bytes:
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizNotFound("Graphviz's `dot` is not installed (apt-get install graphviz, "
                               "brew install graphviz or https://graphviz.org/download)")
    done = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"),
                          capture_output=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def render(graph: Dot | str, path: str | Path) -> Path:
    """Write `graph` to `path`; the extension picks the format (.svg .png .pdf via
    Graphviz's `dot`, .dot for the source itself). Raises GraphvizNotFound without dot."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"render: unknown extension {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join('.' + f for f in FORMATS)}")
    source = str.__str__(graph) if isinstance(graph, str) else str(graph)
    if fmt == "dot":
        path.write_text(source, encoding="utf-8")
    else:
        path.write_bytes(_run_dot(source, fmt))
    return path


def _edge_grads(output: Tensor, nodes: list[Tensor]) -> tuple[dict, dict]:
    """Per-edge gradients {(id(node), i): g} and per-tensor totals {id(t): g}, from one
    replayed backward pass that accumulates nothing into `.grad`."""
    run = replay(output, nodes=nodes, who="to_dot")
    edges = {(id(s.node), i): g for s in run.steps for i, g in enumerate(s.sent)
             if g is not None}
    return edges, run.grads


def to_dot(output: Tensor, names: Any = None, show_grad: bool = True, decimals: int = 4,
           max_elements: int = 4, rankdir: str = "LR", params: Any = None) -> Dot:
    """The computational graph of `output` as DOT: operation nodes, named edges with the
    forward value above and (show_grad) the backward gradient below in red. Tensors with
    more than `max_elements` elements show their shape (and the gradient's norm).
    `names` (or `params`, torchviz's name for it): {name: tensor}, {tensor: name}, or a
    Module, whose `named_parameters()` name its parameters. Works before and after
    `backward()` (the glass box replays the pass itself)."""
    if not isinstance(output, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(output).__name__}")
    if names is None:
        names = params
    nodes = graph_nodes(output)
    namer = GraphNames(nodes, names, output)
    if show_grad and output.requires_grad:
        edges, totals = _edge_grads(output, nodes)
    else:
        edges, totals = {}, {}
    ids = {id(t): f"n{k}" for k, t in enumerate(nodes)}

    def value(a: np.ndarray) -> str:
        if a.size > max_elements:
            return f"({'×'.join(map(str, a.shape))})"
        return fmt_array(a, decimals, max_elements)

    def grad(g: np.ndarray | None) -> str:
        if g is None:
            return ""
        if g.size > max_elements:
            return f"norm {fmt_number(np.linalg.norm(g.astype(np.float64)), decimals)}"
        return fmt_array(g, decimals, max_elements)

    def label(*lines: tuple[str, str | None]) -> str:
        parts = []
        for text, color in lines:
            if not text:
                continue
            esc = html.escape(text)
            parts.append(f'<FONT COLOR="{color}">{esc}</FONT>' if color else esc)
        return "<" + "<BR/>".join(parts) + ">"

    out = ["digraph chainrule {",
           f'  rankdir={rankdir}; nodesep=0.4; ranksep=0.6;',
           '  node [fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=10];']
    for t in nodes:
        nid, name = ids[id(t)], namer(t)
        if t.op is not None:
            sym = graph_symbol(t.node.primitive, dict(t.node.attrs))
            shape = "circle" if len(sym) <= 3 else 'box, style="rounded"'  # long names: boxes
            out.append(f'  {nid} [shape={shape}, label={label((sym, None))}, '
                       f'tooltip="{html.escape(name)} = {t.op}(…)"];')
        elif t.requires_grad:
            lines = [(name, None), (value(t.numpy()), None)]
            if show_grad and id(t) in totals:
                lines.append((grad(totals[id(t)]), GRAD_COLOR))
            out.append(f'  {nid} [shape=box, style="rounded,filled", fillcolor="{PARAM_COLOR}",'
                       f' label={label(*lines)}, tooltip="parameter (requires grad)"];')
        else:
            auto = t.numel() == 1 and name == f"{float(t.numpy().reshape(())):g}"
            text = name if auto else f"{name} = {value(t.numpy())}"
            out.append(f'  {nid} [shape=plaintext, fontcolor="#555555", '
                       f'label={label((text, None))}];')
    uses: dict[int, int] = {}
    for t in nodes:
        for p in t.inputs:
            uses[id(p)] = uses.get(id(p), 0) + 1
    for t in nodes:
        for i, p in enumerate(t.inputs):
            lines = []
            if p.op is not None:  # a leaf's box already shows its name and value
                lines += [(namer(p), None), (value(p.numpy()), None)]
            # a leaf used once shows its gradient in its box: an edge label would repeat it
            # and, where edges meet, float between them; used more often, each edge shows
            # its own share
            if show_grad and p.requires_grad and (p.op is not None or uses[id(p)] > 1):
                lines.append((grad(edges.get((id(t), i))), GRAD_COLOR))
            attrs = f" [label={label(*lines)}]" if any(text for text, _ in lines) else ""
            out.append(f"  {ids[id(p)]} -> {ids[id(t)]}{attrs};")
    if output.op is not None:
        lines = [(namer(output), None), (value(output.numpy()), None)]
        if show_grad and output.requires_grad:
            lines.append((grad(np.ones_like(output.numpy())), GRAD_COLOR))
        out.append(f'  out [shape=doublecircle, label={label((namer(output), None))}];')
        out.append(f"  {ids[id(output)]} -> out [label={label(*lines[1:])}];")
    if show_grad and output.requires_grad:
        out.append(f'  legend [shape=plaintext, label={label(("edge: value", None), ("gradient ∂" + namer(output) + "/∂edge", GRAD_COLOR))}];')
    out.append("}")
    return Dot("\n".join(out) + "\n")
