"""`grad_fn` as PyTorch shows it: a node named like PyTorch's (`MulBackward0`,
`AddmmBackward0`) whose `next_functions` lead to the nodes of its inputs, ending in
`AccumulateGrad` entries for leaves that require grad (and `None` for those that do not).
Nodes are views of the recorded graph, made on demand; the graph stays as the engine
records it (a backward pass without retain_graph frees it for a second backward, but the
structure stays readable)."""
from __future__ import annotations

from typing import Any

# chainrule primitive name -> PyTorch's backward-node name (the rest: Name + Backward0)
_TORCH = {
    "add": "AddBackward0", "sub": "SubBackward0", "mul": "MulBackward0", "div": "DivBackward0",
    "neg": "NegBackward0", "exp": "ExpBackward0", "log": "LogBackward0",
    "sqrt": "SqrtBackward0", "abs": "AbsBackward0", "sin": "SinBackward0",
    "cos": "CosBackward0", "tanh": "TanhBackward0", "sigmoid": "SigmoidBackward0",
    "relu": "ReluBackward0", "clip": "ClampBackward1", "maximum": "MaximumBackward0",
    "minimum": "MinimumBackward0", "where": "WhereBackward0", "logsumexp": "LogsumexpBackward0",
    "reshape": "ViewBackward0", "broadcast_to": "ExpandBackward0", "astype": "ToCopyBackward0",
    "concat": "CatBackward0", "stack": "StackBackward0", "softmax": "SoftmaxBackward0",
    "log_softmax": "LogSoftmaxBackward0", "softmax_cross_entropy": "NllLossBackward0",
    "binary_cross_entropy": "BinaryCrossEntropyBackward0", "mse_loss": "MseLossBackward0",
    "binary_cross_entropy_with_logits": "BinaryCrossEntropyWithLogitsBackward0",
    "clone": "CloneBackward0", "overwrite": "CopyBackwards", "setitem": "CopySlices",
    "log1p": "Log1PBackward0", "cumsum": "CumsumBackward0", "prod": "ProdBackward0",
    "flip": "FlipBackward0", "cosh": "CoshBackward0", "sinh": "SinhBackward0",
}


def torch_name(t: Any) -> str:
    """PyTorch's name for the backward node of the op that made t."""
    prim, attrs, inputs = t._prim, t._attrs or {}, t._inputs or ()
    name = prim.name
    if name == "pow":
        return "PowBackward1" if len(inputs) == 2 else "PowBackward0"
    if name in ("sum", "mean"):
        return f"{name.capitalize()}Backward{0 if attrs.get('axes') is None else 1}"
    if name in ("max", "min"):
        return f"{name.capitalize()}Backward{1 if attrs.get('axes') is None else 0}"
    if name == "matmul" and len(inputs) == 2:
        dims = (inputs[0]._data.ndim, inputs[1]._data.ndim)
        return {(1, 1): "DotBackward0", (2, 1): "MvBackward0",
                (2, 2): "MmBackward0"}.get(dims, "BmmBackward0")
    if name == "linear":
        return "AddmmBackward0" if len(inputs) == 3 else "MmBackward0"
    if name == "transpose":
        axes = attrs.get("axes", ())
        return "TBackward0" if axes == (1, 0) else "PermuteBackward0"
    if name == "getitem":
        return "IndexBackward0"
    if name in _TORCH:
        return _TORCH[name]
    if name != name.lower():  # a user's autograd.Function, named by its class
        return f"{name}Backward"
    return "".join(part.capitalize() for part in name.split("_")) + "Backward0"


class Node:
    """A backward node: `name()`, `next_functions`, and `variable`-less (see AccumulateGrad)."""

    __slots__ = ("_t", "__weakref__")

    def __init__(self, t: Any):
        self._t = t

    def name(self) -> str:
        return torch_name(self._t)

    @property
    def next_functions(self) -> tuple:
        """One (node, 0) pair per input: its grad_fn, an AccumulateGrad for a leaf that
        requires grad, or None for an input that needs no gradient."""
        inputs = self._t._inputs or ()
        if self._t._prim.name == "linear" and len(inputs) == 3:
            inputs = (inputs[2], inputs[0], inputs[1])  # addmm's order: bias, input, weight
        return tuple((function_of(p), 0) for p in inputs)

    @property
    def metadata(self) -> dict:
        return self._t.__dict__.setdefault("_grad_fn_metadata", {})

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other._t is self._t

    def __hash__(self) -> int:
        return id(self._t)

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self._t))}>"


class AccumulateGrad(Node):
    """Where a leaf's gradient lands: PyTorch's AccumulateGrad, with the leaf as `variable`."""

    __slots__ = ()

    @property
    def variable(self) -> Any:
        return self._t

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self._t))}>"


def function_of(t: Any) -> Node | None:
    """t's grad_fn, an AccumulateGrad for a leaf that requires grad, or None."""
    if t._prim is not None:
        return Node(t)
    return AccumulateGrad(t) if t.requires_grad else None


def grad_fn(t: Any) -> Node | None:
    """Tensor.grad_fn: None for leaves, else the node that made t."""
    return None if t._prim is None else Node(t)
