"""A left-to-right layered layout for a computational graph, so the explorer page can draw
the graph itself (no Graphviz in the browser): inputs on the left, the output on the
right, each node one column right of its furthest input, and the rows of every column
ordered to keep edges short (a few barycentre sweeps, as Graphviz's `dot` does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

__all__ = ["Box", "layered_layout", "GAP", "ROW"]

GAP = 170      # px between neighbouring columns' nodes (room for the edge labels)
ROW = 84       # px between the centres of neighbouring rows
MARGIN = 24


@dataclass
class Box:
    """Where one node is drawn: its centre and its half width and half height."""
    x: float
    y: float
    half_w: float
    half_h: float


def _columns(inputs: Sequence[Sequence[int]]) -> list[int]:
    """Column of each node: leaves at 0, every other node one right of its furthest input;
    leaves are then moved right next to their first consumer, as the tutorials draw them."""
    col = [0] * len(inputs)
    for k, ins in enumerate(inputs):  # inputs come before their consumers
        if ins:
            col[k] = 1 + max(col[i] for i in ins)
    consumers: dict[int, list[int]] = {}
    for k, ins in enumerate(inputs):
        for i in ins:
            consumers.setdefault(i, []).append(k)
    for k, ins in enumerate(inputs):
        if not ins and k in consumers:
            col[k] = max(0, min(col[c] for c in consumers[k]) - 1)
    return col


def layered_layout(inputs: Sequence[Sequence[int]], sizes: Sequence[tuple[float, float]]
                   ) -> tuple[list[Box], float, float]:
    """Boxes for nodes given, in topological order, the indices of each node's inputs and
    each node's (half width, half height). Returns the boxes and the drawing's width and
    height in px."""
    n = len(inputs)
    if n == 0:
        return [], 2 * MARGIN, 2 * MARGIN
    col = _columns(inputs)
    n_cols = max(col) + 1
    columns: list[list[int]] = [[] for _ in range(n_cols)]
    for k in range(n):
        columns[col[k]].append(k)
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for k, ins in enumerate(inputs):
        for i in ins:
            neighbours[k].append(i)
            neighbours[i].append(k)
    pos = {k: float(r) for c in columns for r, k in enumerate(c)}
    for sweep in range(4):  # order each column by the mean row of its neighbours
        order = range(n_cols) if sweep % 2 == 0 else range(n_cols - 1, -1, -1)
        for c in order:
            def centre(k: int) -> float:
                ns = neighbours[k]
                return sum(pos[j] for j in ns) / len(ns) if ns else pos[k]
            columns[c].sort(key=centre)
            for r, k in enumerate(columns[c]):
                pos[k] = float(r)
    tallest = max(len(c) for c in columns)
    widest = [max((sizes[k][0] for k in c), default=0.0) for c in columns]
    x_of = [MARGIN + widest[0]]
    for c in range(1, n_cols):
        x_of.append(x_of[-1] + widest[c - 1] + GAP + widest[c])
    boxes: list[Box] = [Box(0, 0, 0, 0)] * n
    height = tallest * ROW + 2 * MARGIN
    for c, ks in enumerate(columns):
        top = MARGIN + (tallest - len(ks)) * ROW / 2 + ROW / 2
        for r, k in enumerate(ks):
            boxes[k] = Box(x_of[c], top + r * ROW, sizes[k][0], sizes[k][1])
    width = x_of[-1] + widest[-1] + MARGIN
    return boxes, width, height
