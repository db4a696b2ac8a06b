"""explain: the backward pass written out node by node, and the chain rule along every path.

`explain(loss)` replays the reverse pass (on the retained graph, without touching any
`.grad`) and records, for every node in the order chainrule runs it: its operation, its
forward value, the local derivative of the node with respect to each input, the upstream
gradient ∂L/∂node, and the gradient it sends to each input. `explain(loss, wrt=w)` also
writes ∂L/∂w as the sum over all paths of the products of local derivatives, with the
numbers multiplied out, as the tutorials do by hand.

The parts live beside it: `replay` (the backward pass recorded), `local` (each node's
local derivatives), `paths` (the chain rule along every path), `report` (the text, JSON
and HTML), `graph` (the graph and its names), `text` (number formatting).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from chainrule.engine import Tensor
from chainrule.glassbox.graph import GraphNames, graph_nodes
from chainrule.glassbox.local import local
from chainrule.glassbox.nonfinite import reason
from chainrule.glassbox.paths import MAX_CHAINS, MAX_JACOBIAN, MAX_PATHS, wrt_report
from chainrule.glassbox.replay import replay
from chainrule.glassbox.report import (ONE_LINE, Chain, ExplainedGraph, Explanation, InputTerm,
                                       PathSum, Step, WrtReport)
from chainrule.glassbox.text import fmt_array, fmt_number, text_table
from chainrule.glassbox.wording import d, with_operands

__all__ = ["explain", "Explanation", "Step", "InputTerm", "Chain", "PathSum", "WrtReport",
           "GraphNames", "graph_nodes", "fmt_number", "fmt_array", "text_table",
           "MAX_CHAINS", "MAX_PATHS", "MAX_JACOBIAN", "ONE_LINE"]


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

    run = replay(output, also=targets, nodes=nodes, who="explain")
    steps = []
    with np.errstate(all="ignore"):  # IEEE results (inf, nan) quietly, as the pass itself
        for k, s in enumerate(run.steps, 1):
            operands = [namer(inp) for inp in s.node.inputs]
            terms = []
            for i, (inp, sent) in enumerate(zip(s.node.inputs, s.sent)):
                formula, value = local(s.node, i)  # written with a, b: name the operands
                upstream = f"∂{namer(output)}/{d(namer(s.node))}"
                terms.append(InputTerm(operands[i], inp.requires_grad,
                                       with_operands(formula, operands, s.node.op, upstream),
                                       value, sent))
            value = np.array(s.node.numpy())
            why = reason(s.node.op, [(n, inp.numpy()) for n, inp in zip(operands, s.node.inputs)],
                         value)
            steps.append(Step(k, namer(s.node), s.node.op, value, s.upstream, terms, why))
    leaf_rows = [(namer(t), np.array(t.numpy()), run.grad(t))
                 for t in nodes if t.op is None and t.requires_grad]
    note = "" if output.numel() == 1 else (
        f"(the output has shape {output.shape}: explaining sum({namer(output)}), "
        f"seeded with ones)")
    reports = [wrt_report(output, t, nodes, namer, run.grad(t)) for t in targets]
    exp = Explanation(namer(output), np.array(output.numpy()), steps, leaf_rows, reports,
                      decimals, max_elements, note)
    exp.graph = ExplainedGraph(output, nodes, namer, [s.node for s in run.steps])
    return exp
