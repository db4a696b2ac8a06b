"""`chainrule.autograd`, shaped like torch.autograd: custom `Function`s with hand-written
backward passes, `grad` and `backward` with PyTorch's signatures, and the grad modes.

A Function subclass becomes one primitive of the engine: `apply` runs its `forward` with
grad mode off and records one node whose inputs are the Tensor arguments; the reverse pass
calls its `backward` once per node visit with the output's gradient as a Tensor. When the
backward pass itself is recorded (create_graph=True, grad of grad), `backward` runs with
grad mode on, so a backward written with differentiable operations differentiates again.
"""
from __future__ import annotations

from typing import Any, Sequence

from chainrule.engine import (Tensor, _wrap, as_tensor, enable_grad, is_grad_enabled, no_grad,
                              set_grad_enabled)
from chainrule.functional import autograd_grad
from chainrule.ops.custom import function_primitive

__all__ = ["Function", "FunctionCtx", "grad", "backward", "no_grad", "enable_grad",
           "set_grad_enabled", "Variable"]


class FunctionCtx:
    """The `ctx` a Function's forward and backward share: save_for_backward and
    saved_tensors, needs_input_grad, and any attribute you set on it."""

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()
        self.materialize_grads = True
        self._grads = None  # (the upstream gradient, backward's results) of the last visit

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tuple(tensors)

    def mark_non_differentiable(self, *tensors: Any) -> None:
        """Accepted: chainrule's single-output Functions give no gradient to int outputs."""

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors: Any) -> None:
        raise NotImplementedError("autograd.Function: ctx.mark_dirty (a Function changing its "
                                  "inputs in place) is not supported yet; return a new tensor")


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`, then
    call `YourFunction.apply(*args)`, as in PyTorch (one output tensor)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("autograd.Function: define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        raise NotImplementedError("autograd.Function: define a static backward(ctx, grad)")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with no_grad():
            out = cls.forward(ctx, *args)
        if isinstance(out, (tuple, list)):
            raise NotImplementedError(f"{cls.__name__}.forward returned {len(out)} outputs; "
                                      f"Functions with several outputs are not supported yet "
                                      f"(return one tensor)")
        out = as_tensor(out)
        if not (is_grad_enabled() and any(needs)) or out.dtype.kind != "f":
            return out
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        node = _wrap(out._data)  # a fresh tensor, even if forward returned an input
        node.requires_grad = True
        node._prim = function_primitive(cls)
        node._inputs = tuple(args[i] for i in positions)
        node._attrs = {"ctx": ctx, "positions": positions, "n_args": len(args)}
        return node


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """torch.autograd.grad: the gradients of outputs with respect to inputs, as a tuple,
    leaving every `.grad` alone (inputs the outputs do not depend on get zeros)."""
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched is not supported yet; "
                                  "loop over the batch of grad_outputs")
    if isinstance(grad_outputs, (list, tuple)) and len(grad_outputs) == 1:
        grad_outputs = grad_outputs[0]
    return autograd_grad(outputs, inputs, grad_outputs=grad_outputs,
                         retain_graph=retain_graph, create_graph=create_graph)


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
    """torch.autograd.backward: backward() of each tensor, with its gradient."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors)
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        keep = bool(retain_graph) or create_graph or i < len(tensors) - 1
        t.backward(g, retain_graph=keep, create_graph=create_graph, inputs=inputs)


def Variable(data: Any, requires_grad: bool = False) -> Tensor:  # noqa: N802  (PyTorch's)
    """The old torch.autograd.Variable: today simply a Tensor."""
    return data.requires_grad_(requires_grad) if isinstance(data, Tensor) \
        else Tensor(data, requires_grad=requires_grad)
