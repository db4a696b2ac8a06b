"""The reverse pass: Kahn's algorithm over the recorded graph, iterative and linear."""
from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from chainrule.engine.graph import VariadicRule
from chainrule.engine.state import _QUIET, _quiet_enter, _quiet_exit, _state
from chainrule.engine.tensors import Tensor, _wrap
from chainrule.engine.versions import _check_versions

_ndarray = np.ndarray

class _Freed:
    """The `_g` of a node a backward pass without retain_graph has run: a second pass
    through it is refused, while its op and inputs stay readable (grad_fn, pictures)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<freed>"


FREED = _Freed()


class GraphFreedError(RuntimeError):
    """backward() through a graph whose intermediate values an earlier backward freed."""


def _freed_error(node: Tensor) -> GraphFreedError:
    return GraphFreedError(
        "backward: trying to backward through a graph a second time (or through a tensor "
        "whose graph was freed by an earlier backward). The first backward() freed the "
        "intermediate values to save memory; pass retain_graph=True to the first backward() "
        "if you need to call it again.")


_pass_numbers = itertools.count(1)


def _count_consumers(roots: Iterable[Tensor]) -> int:
    """Mark every interior node reachable from the roots with this pass's number and the
    count of edges leading into it (`_deps`); returns the pass number. Nodes whose inputs
    were modified in place since they were recorded are checked here, before any
    gradient is computed (see `_check_versions`)."""
    mark = next(_pass_numbers)
    stack = []
    for r in roots:
        if r._prim is not None and r._mark != mark:
            if r._mark and r._g is FREED:
                raise _freed_error(r)
            r._mark, r._deps, r._g = mark, 0, None
            stack.append(r)
    while stack:
        node = stack.pop()
        inputs = node._inputs
        if node._vers is not None or node._version:
            inputs = _check_versions(node)
        else:
            for p in inputs:
                if p._version:
                    inputs = _check_versions(node)
                    break
        for p in inputs:
            if p._prim is None or not p.requires_grad:
                continue
            if p._mark == mark:
                p._deps += 1
            else:
                if p._mark and p._g is FREED:
                    raise _freed_error(p)
                p._mark, p._deps, p._g = mark, 1, None
                stack.append(p)
    return mark


def backward_pass(outputs: Sequence[Tensor], grads: Sequence[Any], *,
                  retain_graph: bool = False, create_graph: bool = False,
                  inputs: Sequence[Tensor] | None = None,
                  on_node: Callable | None = None) -> list | None:
    """Propagate `grads` from `outputs` back through the graph (Kahn's algorithm: a node
    runs once every consumer has handed it its gradient, so each node is visited once).

    With `inputs=None`, gradients accumulate into leaves' `.grad` (and retained
    non-leaves). With `inputs` given, nothing is accumulated: the gradients of those
    tensors are returned (None where an input does not affect the outputs).
    `on_node(node, g, input_grads)` is called for every node processed (used by explain).
    """
    state = _state
    tensor_mode = create_graph or state.fwd_level > 0
    seeds = [_seed(out, g, tensor_mode) for out, g in zip(outputs, grads)]
    for r in outputs:
        if r._prim is not None and r._mark and r._g is FREED:
            raise _freed_error(r)

    wanted = None if inputs is None else {id(t): i for i, t in enumerate(inputs)}
    found: list = [None] * len(inputs) if inputs is not None else []
    _count_consumers(outputs)
    ready = []
    for r, g in zip(outputs, seeds):
        if r._prim is None:  # a leaf output: its gradient is the seed itself
            _deliver(r, g, wanted, found)
        elif r._g is not None:
            r._g = r._g + g
        else:
            r._g = g
            if r._deps == 0:  # a root that another root consumes waits for its consumers
                ready.append(r)

    prev_mode = state.grad_enabled
    state.grad_enabled = create_graph
    done = None if retain_graph else FREED  # a node's _g once this pass has run it
    token = _quiet_enter(_QUIET)
    try:
        while ready:
            node = ready.pop()
            g = node._g
            node._g = done
            if node._retain or (wanted is not None and id(node) in wanted):
                _deliver(node, g, wanted, found)
            vjps, node_inputs, attrs = node._prim.vjps, node._inputs, node._attrs
            if tensor_mode:
                args, out = node_inputs, node
            elif len(node_inputs) == 2:   # most nodes: no comprehension on the hot path
                args, out = (node_inputs[0]._data, node_inputs[1]._data), node._data
            else:
                args, out = [t._data for t in node_inputs], node._data
            variadic = type(vjps) is VariadicRule
            in_grads = [] if on_node is not None else None
            for i, p in enumerate(node_inputs):
                if not p.requires_grad:
                    if in_grads is not None:
                        in_grads.append(None)
                    continue
                if variadic:
                    gi = vjps.rule(i, g, out, args, **attrs)
                else:
                    gi = vjps[i](g, out, *args, **attrs) if attrs else vjps[i](g, out, *args)
                if gi.shape != p._data.shape:
                    gi = sum_to(gi, p._data.shape)
                if in_grads is not None:
                    in_grads.append(gi)
                if p._prim is None:
                    _deliver(p, gi, wanted, found)
                    continue
                pg = p._g
                p._g = gi if pg is None else pg + gi
                p._deps -= 1
                if not p._deps:
                    ready.append(p)
            if on_node is not None:
                on_node(node, g, in_grads)
            if done is not None and attrs and "cache" in attrs:
                attrs["cache"].clear()  # the structure stays readable; cached values go
    finally:
        _quiet_exit(token)
        state.grad_enabled = prev_mode
    return None if inputs is None else found


def backward(self: Tensor, gradient: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Sequence[Tensor] | None = None,
             grad: Any = None) -> None:
    """Tensor.backward, as PyTorch's: accumulate d(self)/d(leaf) into every leaf's `.grad`
    (weighted by `gradient`, also spelled `grad=`), or only into `inputs` when given."""
    if not self.requires_grad:
        raise RuntimeError("backward: this tensor does not require grad and has no graph; "
                           "create inputs with requires_grad=True")
    if grad is not None:
        if gradient is not None:
            raise TypeError("backward: pass gradient= or grad=, not both")
        gradient = grad
    retain = bool(retain_graph) or create_graph
    if inputs is None:
        backward_pass([self], [gradient], retain_graph=retain, create_graph=create_graph)
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    found = backward_pass([self], [gradient], retain_graph=retain,
                          create_graph=create_graph, inputs=inputs)
    for t, g in zip(inputs, found):
        if g is not None:
            _deliver(t, g, None, [])


Tensor.backward = backward  # the reverse pass is defined after Tensor, so it installs this


def sum_to(x: Any, shape: tuple) -> Any:
    """Sum a broadcast gradient back down to `shape`: the one place where broadcasting is
    undone (rules return the gradient at the output's shape; the reverse pass reduces it).
    Works on arrays and Tensors alike (only `.sum` and `.reshape` are used)."""
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    x = x.sum(axis=axes, keepdims=True)
    return x.reshape(shape) if x.shape != shape else x


def _seed(out: Tensor, g: Any, tensor_mode: bool) -> Any:
    """The starting gradient for one output: ones for a scalar, else the given grad."""
    if g is None:
        if out._data.size != 1:
            raise RuntimeError(
                f"backward: grad can be created implicitly only for a scalar output, "
                f"got shape {out._data.shape}; pass grad= (a tensor of that shape)")
        g = np.ones_like(out._data)
    elif isinstance(g, Tensor):
        g = g if tensor_mode else g._data
    else:
        g = np.asarray(g, dtype=out._data.dtype)
    if g.shape != out._data.shape:
        raise ValueError(f"backward: grad has shape {g.shape} but the output has "
                         f"shape {out._data.shape}")
    if tensor_mode and not isinstance(g, Tensor):
        g = _wrap(g)
    return g


def _deliver(t: Tensor, g: Any, wanted: dict | None, found: list) -> None:
    """Hand a finished gradient to its destination: the caller's list or `t.grad`."""
    if isinstance(g, Tensor):
        if g._data.dtype != t._data.dtype:
            g = g.astype(t._data.dtype)
    else:
        if type(g) is not _ndarray or not g.flags.writeable:  # numpy scalar or broadcast view
            g = np.array(g)
        if g.dtype != t._data.dtype:
            g = g.astype(t._data.dtype)
    if wanted is not None:
        i = wanted.get(id(t))
        if i is not None:
            found[i] = g if found[i] is None else found[i] + g
        return
    if not isinstance(g, Tensor):
        g = _wrap(g)
    t.grad = g if t.grad is None else (
        t.grad + g if g.requires_grad or t.grad.requires_grad
        else _wrap(np.asarray(t.grad._data + g._data)))  # 0-d stays an array, not a NumPy scalar
