"""The explorer page: one self-contained HTML file (inline SVG, CSS and JS; nothing fetched)
that steps through any graph's forward and backward pass, for a teacher to open in class.

`explorer_html(output)` draws the graph in the tutorials' style (operations as nodes,
values above the edges in green, gradients beneath in red) and embeds what `page_model`
words from `explain`'s numbers; the script in `page_assets` reveals them step by step
(Next/Previous, →/←) and shows a node's full chain rule when it is clicked.
"""
from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Sequence

from chainrule.engine import Tensor
from chainrule.glassbox.layout import Box, layered_layout
from chainrule.glassbox.page_assets import CSS, JS

__all__ = ["ExplorerPage", "explorer_html", "page_html", "write_page"]

CHAR = 7.4    # px per character of the node labels (13 px sans-serif, roughly)


def _size(node: dict[str, Any]) -> tuple[float, float]:
    kind = node["kind"]
    if kind == "op":
        sym = node.get("sym", "")
        return (20.0, 20.0) if len(sym) <= 3 else (len(sym) * CHAR / 2 + 12, 16.0)
    if kind == "output":
        return 26.0, 26.0
    if kind == "param":
        longest = max(len(node["name"]), len(node["short"]), len(node.get("short_grad", "")))
        return longest * CHAR / 2 + 12, 30.0
    return len(f"{node['name']} = {node['short']}") * CHAR / 2 + 6, 12.0


def _text(x: float, y: float, text: str, cls: str = "", ident: str = "") -> str:
    attrs = (f' id="{ident}"' if ident else "") + (f' class="{cls}"' if cls else "")
    return f'<text x="{x:.1f}" y="{y:.1f}"{attrs}>{html.escape(text)}</text>'


def _node_svg(k: int, node: dict[str, Any], b: Box) -> str:
    kind, x, y = node["kind"], b.x, b.y
    parts = [f'<g class="node {kind}" id="n{k}" data-name="{html.escape(node["name"])}">',
             f"<title>{html.escape(node['name'])}: {html.escape(node['value'])}</title>"]
    if kind == "op" and b.half_w == b.half_h:
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{b.half_w:.1f}"/>',
                  _text(x, y, node["sym"])]
    elif kind == "op":
        parts += [f'<rect class="shape" x="{x - b.half_w:.1f}" y="{y - b.half_h:.1f}" '
                  f'width="{2 * b.half_w:.1f}" height="{2 * b.half_h:.1f}" rx="8"/>',
                  _text(x, y, node["sym"])]
    elif kind == "output":
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{b.half_w:.1f}"/>',
                  f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{b.half_w - 4:.1f}"/>',
                  _text(x, y, node["name"]),
                  _text(x, y - b.half_h - 10, node["short"], "ev", f"nv{k}"),
                  _text(x, y + b.half_h + 12, node.get("short_grad", ""), "ng", f"ng{k}")]
    elif kind == "param":
        parts += [f'<rect class="shape" x="{x - b.half_w:.1f}" y="{y - b.half_h:.1f}" '
                  f'width="{2 * b.half_w:.1f}" height="{2 * b.half_h:.1f}" rx="6"/>',
                  _text(x, y - 15, node["name"]), _text(x, y, node["short"]),
                  _text(x, y + 15, node.get("short_grad", ""), "ng", f"ng{k}")]
    else:
        parts.append(_text(x, y, f"{node['name']} = {node['short']}"))
    parts.append("</g>")
    return "".join(parts)


def _edge_svg(i: int, edge: dict[str, Any], nodes: list[dict], boxes: list[Box],
              first_out: bool) -> str:
    """One edge: a curve, its value just after its source (written once for a node's
    out-edges, which all carry the same value), and its gradient at the curve's middle,
    where edges that meet or part are furthest apart."""
    a, b = boxes[edge["from"]], boxes[edge["to"]]
    x1, y1, x2, y2 = a.x + a.half_w, a.y, b.x - b.half_w - 3, b.y
    mid = (x1 + x2) / 2
    out = [f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} '
           f'{x2:.1f},{y2:.1f}"/>']
    source = nodes[edge["from"]]
    if source["kind"] == "op" and first_out:
        out.append(_text(x1 + 6, y1 - 8, f"{source['name']} = {edge['value']}", "ev start",
                         f"ev{i}"))
    if edge["grad"]:
        out.append(_text(mid, (y1 + y2) / 2 + 14, edge["grad"], "eg", f"eg{i}"))
    return "".join(out)


def graph_svg(data: dict[str, Any]) -> str:
    """The graph as inline SVG, every label present (the script hides and shows them);
    it scales down to its container (viewBox, max-width 100%)."""
    nodes = data["nodes"]
    inputs: list[list[int]] = [[] for _ in nodes]
    for e in data["edges"]:
        inputs[e["to"]].append(e["from"])
    boxes, width, height = layered_layout(inputs, [_size(n) for n in nodes])
    seen: set[int] = set()
    body = []
    for i, e in enumerate(data["edges"]):
        body.append(_edge_svg(i, e, nodes, boxes, e["from"] not in seen))
        seen.add(e["from"])
    body += [_node_svg(k, n, b) for k, (n, b) in enumerate(zip(nodes, boxes))]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" style="min-width: {min(width, max(900, 0.8 * width)):.0f}px" '
            'role="img" aria-label="computational graph">'
            '<defs><marker id="cr-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
            'fill="#888"/></marker></defs>' + "".join(body) + "</svg>")


class ExplorerPage(str):
    """The page's HTML text (a `str`, to write anywhere) that a notebook shows as the live
    explorer, in a frame of its own; `save(path)` writes it."""

    def save(self, path: str | Path) -> Path:
        return write_page(self, path)

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self, quote=True)}" title="chainrule explorer" '
                f'style="width:100%;height:760px;border:1px solid #ddd;border-radius:6px">'
                f"</iframe>")


def page_html(data: dict[str, Any]) -> "ExplorerPage":
    """The whole page for `page_model.page_data`'s content."""
    title = html.escape(data["title"])
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    notes = "".join(f'<div class="line">{html.escape(n)}</div>' for n in data["notes"])
    note = f'<p class="legend">{html.escape(data["note"])}</p>' if data.get("note") else ""
    L = html.escape(data["output"])
    return ExplorerPage(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{title}</title><style>{CSS}</style></head><body>"
        f"<h1>{title}</h1>{note}"
        f'<p class="legend">On each edge: <span class="v">its value</span> above, and '
        f'<span class="g">the gradient ∂{L}/∂edge sent back along it</span> beneath. '
        "Keys → and ← step; click a node for its whole chain rule.</p>"
        '<div class="bar"><button id="cr-prev" type="button">◀ Previous</button>'
        '<button id="cr-next" type="button">Next ▶</button><span id="cr-status"></span></div>'
        f'<div class="graph">{graph_svg(data)}</div><div id="cr-panel"></div>'
        + (f'<div id="cr-notes"><h2>Notes</h2>{notes}</div>' if notes else "")
        + f'<script type="application/json" id="cr-data">{payload}</script>'
        f"<script>{JS}</script></body></html>\n")


def explorer_html(output: Tensor, names: Any = None, title: str = "",
                  notes: Sequence[str] = (), decimals: int = 4, max_elements: int = 6) -> str:
    """The explorer page for `output`'s graph (see `explain` for `names`): the numbers
    are explain's, the order of the backward steps the engine's."""
    from chainrule.glassbox.explain import explain
    exp = explain(output, names=names, decimals=decimals, max_elements=max_elements)
    return exp.to_html(title=title, notes=notes)


def write_page(text: str, path: str | Path) -> Path:
    """Write a page (UTF-8) and return its path."""
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path
