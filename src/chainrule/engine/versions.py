"""In-place operations and version counters, with PyTorch's semantics.

Every tensor counts the in-place changes to its values (`_version`); a node records its
inputs' versions (`_vers`, None while all are 0). An in-place op on a tensor in the graph
moves the tensor's old node into a snapshot (kept in `_prev` with the version it stood
for) and makes the tensor the in-place op's output, as PyTorch re-bases its grad_fn.
Backward then refuses a node whose rules need a value that has changed since, and sends
the gradient of an unneeded one to the node that was current when it was recorded.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from chainrule.engine.graph import VariadicRule
from chainrule.engine.state import _state
from chainrule.engine.tensors import Tensor, _wrap

def modify_in_place(t: Tensor, name: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """Write `compute(t)` into t's own array, as PyTorch's in-place operations do: t keeps
    its identity (and memory), its version goes up, and when the graph is recorded t
    becomes the new value's node while its old node lives on in a snapshot."""
    recording = _state.grad_enabled
    if recording and t.requires_grad and t._prim is None:
        raise RuntimeError(
            f"{name}: a leaf Variable that requires grad is being used in an in-place "
            f"operation (shape {tuple(t._data.shape)}). Update parameters inside "
            f"`with chainrule.no_grad():` as an optimizer step does, or use an "
            f"out-of-place operation (x = x + y).")
    if not t._data.flags.writeable:
        raise ValueError(f"{name}: the tensor's memory is read-only (a broadcast view or a "
                         f"cached constant, shape {tuple(t._data.shape)}); copy it first")
    version = t._version
    src = t
    if recording:  # a stand-in for t's current value, node and all
        src = _wrap(t._data)
        src.requires_grad, src._prim, src._inputs = t.requires_grad, t._prim, t._inputs
        src._attrs, src._vers, src._tangent = t._attrs, t._vers, t._tangent
        src._version = version + 1
    new = compute(src)
    if new._data.shape != t._data.shape:
        raise ValueError(f"{name}: the result has shape {tuple(new._data.shape)}, but an "
                         f"in-place operation keeps the tensor's shape {tuple(t._data.shape)}")
    if new._data.dtype != t._data.dtype and \
            not np.can_cast(new._data.dtype, t._data.dtype, casting="same_kind"):
        raise TypeError(f"{name}: result type {new._data.dtype} can't be cast to the "
                        f"tensor's dtype {t._data.dtype} in place; use an out-of-place "
                        f"operation or convert the tensor first")
    graph = new._prim is not None
    base = None
    if graph:
        if not t._data.flags.owndata:
            base = _indexed_base(t)
            if base is None:
                raise NotImplementedError(
                    f"{name}: in-place change of a view of another array (shape "
                    f"{tuple(t._data.shape)}) while recording gradients is not supported; "
                    f"change the tensor it was taken from, or copy the view first (x.clone())")
        if new._inputs[0] is not src or 0 in _needed(new):
            src._data = t._data.copy()  # the in-place node's backward reads the old values
    if base is not None:  # t = base[index]: write through the base, then t is base[index]
        index = t._attrs["index"]
        base[index] = new
        new = base[index]
    else:
        np.copyto(t._data, new._data, casting="unsafe")
    t._version = version + 1
    if graph:
        t._prev = (version, src, t._prev)
        t.requires_grad, t._prim, t._inputs, t._attrs = True, new._prim, new._inputs, new._attrs
        t._vers = (new._vers or (0,) * (len(new._inputs) + 1))[:-1] + (version + 1,)
    if new._tangent is not None or t._tangent is not None:
        t._tangent = new._tangent
    return t


def _indexed_base(t: Tensor) -> Tensor | None:
    """The tensor t is a basic-indexing view of (x[0], x[:, 1:]), if it is one."""
    if t._prim is not None and t._prim.name == "getitem" \
            and np.may_share_memory(t._data, t._inputs[0]._data):
        return t._inputs[0]
    return None


def _check_versions(node: Tensor) -> tuple:
    """Raise if a value `node`'s backward needs was modified in place after `node` was
    recorded; re-route edges to re-based tensors. Returns the node's (new) inputs."""
    inputs = node._inputs
    vers = node._vers or (0,) * (len(inputs) + 1)
    needed = _needed(node)
    if node._version != vers[-1]:
        if -1 in needed:
            raise _modified_error(node, -1, node, vers[-1])
    routed = list(inputs)
    for i, p in enumerate(inputs):
        if p._version == vers[i]:
            continue
        if i in needed:
            raise _modified_error(node, i, p, vers[i])
        routed[i] = _node_at(p, vers[i])
    node._inputs = tuple(routed)
    node._vers = tuple([t._version for t in routed]) + (node._version,)
    return node._inputs


def _node_at(t: Tensor, version: int) -> Tensor:
    """The node that stood for `t` when it was at `version` (t itself if never re-based
    since)."""
    best, entry = t, t._prev
    while entry is not None:
        stood_for, snapshot, entry = entry
        if stood_for >= version:
            best = snapshot
    return best


def _needed(node: Tensor) -> set:
    """Which values node's VJP rules read, for the inputs that need a gradient: input
    positions, and -1 for the node's own output."""
    vjps, inputs = node._prim.vjps, node._inputs
    needed: set = set()
    for i, p in enumerate(inputs):
        if p.requires_grad:
            if type(vjps) is VariadicRule:
                return set(range(-1, len(inputs)))
            needed |= _reads(vjps[i], len(inputs))
    return needed


_READS: dict = {}
_SHAPE_ONLY = {"shape", "dtype", "ndim"}


def _reads(rule: Callable, n_inputs: int) -> frozenset:
    """The values a rule uses (-1: the output; i: input i), read once from its bytecode.
    A parameter used only for `.shape`, `.dtype` or `.ndim` is not a value the rule needs;
    anything the bytecode does not show plainly counts as read."""
    key = (rule, n_inputs)
    found = _READS.get(key)
    if found is not None:
        return found
    everything = frozenset(range(-1, n_inputs))
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & 0x04 or type(rule) is not type(_reads) \
            or code.co_argcount < 2 + n_inputs:
        found = everything  # *args rules and callables we cannot read
    else:
        import dis
        params = code.co_varnames[1:2 + n_inputs]  # out, then the inputs
        instructions = list(dis.get_instructions(code))
        used = set()
        for k, ins in enumerate(instructions):
            names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
            if not ins.opname.startswith(("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE")):
                continue
            nxt = instructions[k + 1] if k + 1 < len(instructions) else None
            shape_only = (nxt is not None and nxt.opname == "LOAD_ATTR"
                          and nxt.argval in _SHAPE_ONLY and len(names) == 1)
            if not shape_only:
                used.update(n for n in names if n in params)
        if code.co_cellvars:  # a parameter captured by an inner function: assume it is read
            used.update(n for n in code.co_cellvars if n in params)
        found = frozenset(params.index(n) - 1 for n in used)
    _READS[key] = found
    return found


def _describe(t: Tensor) -> str:
    made_by = "a leaf" if t._prim is None else f"the output of {t._prim.name}"
    return f"a {t._data.dtype} tensor of shape {tuple(t._data.shape)}, {made_by}"


def _modified_error(node: Tensor, i: int, t: Tensor, expected: int) -> RuntimeError:
    which = "its output" if i == -1 else f"its input {i}"
    return RuntimeError(
        f"backward: one of the variables needed for gradient computation has been modified "
        f"by an inplace operation: {node._prim.name} needs {which} ({_describe(t)}) as it "
        f"was, but it is at version {t._version}; expected version {expected}. Change it "
        f"only after backward() (call backward() before optimizer.step()), or use an "
        f"out-of-place operation (x = x + y instead of x += y).")
