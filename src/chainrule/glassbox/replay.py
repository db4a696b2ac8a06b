"""The backward pass replayed node by node, with every gradient it computes recorded.

`replay(output)` runs one backward pass from `output` (seeded with ones) on the retained
graph, through the engine's own reverse pass, and accumulates nothing into any `.grad`.
It records, for every node in the order the engine runs it, the upstream gradient
∂L/∂node and the gradient it sends to each input (summed to that input's shape), and
returns the total gradient of every leaf that requires grad and of any other tensor asked
for. explain, the graph pictures and the reverse-mode traces all read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from chainrule.engine import GraphFreedError, Tensor, backward_pass, sum_to
from chainrule.glassbox.graph import graph_nodes, node_attrs

__all__ = ["replay", "Replay", "NodeGrads"]


@dataclass
class NodeGrads:
    """One node of the backward pass: what arrived at it and what it sent back."""
    node: Tensor
    upstream: np.ndarray              # ∂L/∂node, summed over the node's consumers
    sent: list[np.ndarray | None]     # per input: its share of ∂L/∂input (None: no grad)


@dataclass
class Replay:
    """The recorded backward pass: `steps` in the order it ran, `grads` by tensor id."""
    steps: list[NodeGrads] = field(default_factory=list)
    grads: dict[int, np.ndarray] = field(default_factory=dict)

    def grad(self, t: Tensor) -> np.ndarray:
        """The total ∂L/∂t of a leaf, a tensor asked for, or a node the pass ran."""
        return self.grads[id(t)]


def replay(output: Tensor, also: Sequence[Tensor] = (), nodes: list[Tensor] | None = None,
           record: bool = True, who: str = "replay") -> Replay:
    """Backpropagate ones from `output` without touching `.grad` or freeing the graph.

    `grads` holds ∂L/∂t for the output, every requires-grad leaf of the graph and every
    tensor in `also` (zeros where no gradient reaches it), and with `record` every node
    the pass runs; `steps` (with `record`) every node's upstream and sent gradients.
    `nodes`: the graph's tensors if the caller has them (`graph_nodes(output)`); `who`
    names the caller in the error for a graph an earlier backward() freed.
    """
    nodes = graph_nodes(output) if nodes is None else nodes
    wanted = [t for t in nodes if t.op is None and t.requires_grad]
    listed = {id(t) for t in wanted}
    for t in also:
        if id(t) not in listed:
            listed.add(id(t))
            wanted.append(t)
    result = Replay()
    seed = np.ones_like(output.numpy())
    result.grads[id(output)] = seed

    def on_node(node: Tensor, g, in_grads: list) -> None:
        upstream = np.array(g)
        result.grads[id(node)] = upstream
        sent = [None if gi is None else np.array(sum_to(np.asarray(gi), inp.shape))
                for inp, gi in zip(node.inputs, in_grads)]
        result.steps.append(NodeGrads(node, upstream, sent))

    try:
        found = backward_pass([output], [seed], retain_graph=True, inputs=wanted,
                              on_node=on_node if record else None)
    except GraphFreedError:  # backward() already ran: the glass box replays it itself
        result.steps.clear()
        sums = _sweep(output, nodes, seed, on_node if record else None, who)
        found = [sums.get(id(t)) for t in wanted]
    for t, g in zip(wanted, found):
        result.grads[id(t)] = np.zeros_like(t.numpy()) if g is None else np.asarray(g)
    return result


def _sweep(output: Tensor, nodes: list[Tensor], seed: np.ndarray, on_node, who: str
           ) -> dict[int, np.ndarray]:
    """The backward pass of a graph an earlier backward() ran (so the engine refuses a
    second one), by the primitives' own VJP rules on the values every tensor still holds,
    consumers before their inputs (`nodes` reversed); a value a node cached for its
    gradient and backward() freed is recomputed by its forward, into a copy of its
    attributes. Returns ∂L/∂t by tensor id."""
    grads: dict[int, np.ndarray] = {id(output): seed}
    with np.errstate(all="ignore"):
        for node in reversed(nodes):
            view = node.node
            if view is None or id(node) not in grads:
                continue
            if not hasattr(view.primitive, "vjps"):  # an engine that drops the structure
                raise RuntimeError(f"{who}: this graph was already freed by a backward() "
                                   f"call; run {who} before backward(), or pass "
                                   f"retain_graph=True to backward()")
            g, args = grads[id(node)], [p.numpy() for p in view.inputs]
            attrs, sent = node_attrs(node), []
            for i, p in enumerate(view.inputs):
                if not p.requires_grad:
                    sent.append(None)
                    continue
                try:
                    gi = view.primitive.vjps[i](g, node.numpy(), *args, **attrs)
                except Exception as err:
                    raise RuntimeError(
                        f"{who}: backward() already ran and freed what the {view.op} node "
                        f"saved for its gradient ({type(err).__name__}); call {who} before "
                        f"backward(), or pass retain_graph=True to backward()") from None
                gi = np.asarray(sum_to(np.asarray(gi), p.shape))
                sent.append(gi)
                grads[id(p)] = gi if id(p) not in grads else grads[id(p)] + gi
            if on_node is not None:
                on_node(node, g, sent)
    return grads
