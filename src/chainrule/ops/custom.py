"""The primitive behind a user's `chainrule.autograd.Function` subclass: one per class,
made on first use; its VJP rule calls the class's hand-written `backward` once per node
visit (all inputs' gradients at once) and hands each input its share."""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.engine import Primitive, Tensor, VariadicRule, _wrap, as_tensor, is_grad_enabled
from chainrule.engine import set_grad_enabled
from chainrule.engine.graph import Notation


def _gradients(cls: type, g: Any, ctx: Any, n_args: int) -> tuple:
    """backward's gradients for this visit (run once per visit, shared by all inputs)."""
    cached = ctx._grads
    if cached is not None and cached[0] is g:
        return cached[1]
    tensor_mode = isinstance(g, Tensor)
    with set_grad_enabled(tensor_mode and is_grad_enabled()):
        grads = cls.backward(ctx, g if tensor_mode else _wrap(np.asarray(g)))
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) < n_args:
        raise RuntimeError(f"{cls.__name__}.backward returned {len(grads)} gradient(s), but "
                           f"forward took {n_args} input(s): return one per input (None for "
                           f"inputs that need no gradient)")
    ctx._grads = (g, grads)
    return grads


def _vjp(cls: type):
    def rule(i, g, out, args, ctx, positions, n_args):
        gi = _gradients(cls, g, ctx, n_args)[positions[i]]
        shape = args[i].shape
        if gi is None:
            gi = np.zeros(shape, out.dtype)
        if isinstance(g, Tensor):
            gi = as_tensor(gi)
        else:
            gi = gi._data if isinstance(gi, Tensor) else np.asarray(gi)
        if tuple(gi.shape) != tuple(shape):
            raise RuntimeError(f"{cls.__name__}.backward: the gradient for input {positions[i]} "
                               f"has shape {tuple(gi.shape)}, but the input has shape "
                               f"{tuple(shape)}")
        return gi
    return rule


def _refuse_forward(*args: Any, **kwargs: Any) -> Any:
    raise TypeError("a Function's primitive is applied through Function.apply")


def function_primitive(cls: type) -> Primitive:
    """The primitive of Function subclass `cls` (made once, kept on the class)."""
    prim = cls.__dict__.get("_chainrule_primitive")
    if prim is None:
        prim = Primitive(cls.__name__, _refuse_forward, vjps=VariadicRule(_vjp(cls)),
                         jvps=None, notation=Notation.generic(cls.__name__))
        cls._chainrule_primitive = prim
    return prim
