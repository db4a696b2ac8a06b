"""The glass box: tools that show and check the gradients chainrule (or your own code) computes.

    explain          explain(loss, wrt=…): the backward pass node by node, and the chain rule
                     along every path (report: the text/JSON/HTML; paths: the chains;
                     local: each node's local derivatives)
    replay           the one backward replay the tools share: every node's upstream and sent
                     gradients, recorded without touching `.grad`
    graph, text      the graph behind a tensor and its names; number and table formatting
    notation         how each op is written (symbol, formulas, trace notation), read from
                     its primitive's literal in chainrule.ops
    expr, traces     safe expressions ("(log(x)*(x+3)+x**2)/sin(x)") and their forward- and
                     reverse-mode evaluation traces
    worked_example   the tutorials' 2-2-1 sigmoid network's SGD step, every number derived
    dot, plots       pictures: computational graphs as Graphviz DOT (`to_dot`, `render`) and
                     matplotlib plots of gradient sizes
    page             the explorer page: one self-contained HTML file stepping through a
                     forward and backward pass (`explain(loss).to_html()`); page_model words
                     explain's numbers for it, layout places the nodes, page_assets is its
                     script and style, numcheck its numerical-gradient check
    tutorial_figure  the worked example per unit (W1..W6, z1, σ1, …) and its δ rule
    text, wording,   one number formatter; operands named in local rules; why a value is
    nonfinite,       nan or inf; HTML tables and math for notebooks
    notebook
    check, compare   check_layer: a hand-written layer's backward vs numerical gradients,
                     with a verdict per gradient
    flow             gradient flow while training, and the vanishing-gradient experiment

The picture names (`to_dot`, `render`, `Dot`, `GraphvizNotFound`, `dot_available`) are
importable from here, and from `chainrule.viz`, the old path; like the submodules, they
are imported on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["to_dot", "render", "Dot", "GraphvizNotFound", "dot_available"]

_SUBMODULES = {"check", "compare", "dot", "explain", "expr", "flow", "graph", "layout", "local",
               "nonfinite", "notation", "notebook", "numcheck", "page", "page_assets",
               "page_model", "paths", "plots", "replay", "report", "text", "traces",
               "tutorial_figure", "wording", "worked_example"}


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("chainrule.glassbox.dot"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"chainrule.glassbox.{name}")
    raise AttributeError(f"module 'chainrule.glassbox' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
