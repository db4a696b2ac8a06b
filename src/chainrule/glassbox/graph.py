"""The graph behind a tensor, and readable names for its tensors."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from chainrule.engine import Tensor

__all__ = ["graph_nodes", "GraphNames", "node_attrs", "Waypoint"]


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


class Waypoint(str):
    """A name to show on a tensor that chain rules pass through rather than stop at: the
    product W1·x1 inside z1 is drawn with its name, yet ∂L/∂W1 is written through z1 and
    σ1, the units the tutorials name."""


def node_attrs(node: Tensor) -> dict:
    """A node's attributes for calling its rules. A value the node cached for its gradient
    (a loss's softmax) that backward() freed is recomputed by its forward, into a fresh
    dict: the node itself is left as it is."""
    view = node.node
    attrs = dict(view.attrs)
    if "cache" in attrs and not attrs["cache"]:
        attrs["cache"] = {}
        with np.errstate(all="ignore"):
            view.primitive.forward(*[p.numpy() for p in view.inputs], **attrs)
    return attrs


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
                if elems.shape != t.shape and elems.size == t.numel():
                    elems = elems.reshape(t.shape)
                if elems.shape != t.shape:
                    raise ValueError(f"explain: per-element names have shape {elems.shape} but "
                                     f"the tensor has shape {t.shape}")
                self._elements[id(t)] = elems
                given = stem or _common_stem(elems)
            if given is not None:
                self._name[id(t)] = str(given)
                if not isinstance(given, Waypoint):
                    self.user_named.add(id(t))
                continue
            if t.op is not None:
                kind = t.op
            elif t.requires_grad:
                kind = "leaf"
            elif t.numel() == 1:
                self._name[id(t)] = f"{float(t.numpy().reshape(())):g}"
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
        if t.numel() == 1:
            return self(t)
        idx = np.unravel_index(flat_index, t.shape)
        return f"{self(t)}[{','.join(str(int(i)) for i in idx)}]"


def _common_stem(elems: np.ndarray) -> str:
    return "[" + ",".join(str(e) for e in elems.reshape(-1)) + "]"
