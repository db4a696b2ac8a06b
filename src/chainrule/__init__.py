"""chainrule: backpropagation you can see, check and trust.

Two faces, one truth: the book's layers with hand-written backward passes
(`chainrule.layers`, `chainrule.models`) and a define-by-run autograd engine with a
PyTorch-shaped `nn`/`optim` stack (`chainrule.Tensor`, `chainrule.nn`, `chainrule.optim`).
Names are imported on first use, so `import chainrule` stays fast.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it (loaded on first access)
_LAZY = {
    # the engine
    "Tensor": "chainrule.engine",
    "tensor": "chainrule.engine",
    "no_grad": "chainrule.engine",
    "enable_grad": "chainrule.engine",
    "is_grad_enabled": "chainrule.engine",
    # tensor functions (also Tensor methods)
    **{name: "chainrule.ops" for name in (
        "add", "sub", "mul", "div", "neg", "pow", "matmul", "sum", "mean", "max", "min",
        "logsumexp", "reshape", "transpose", "broadcast_to", "concat", "stack", "squeeze",
        "expand_dims", "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
        "clip", "maximum", "minimum", "where", "softmax", "log_softmax",
        "softmax_cross_entropy", "zeros", "ones", "zeros_like", "ones_like", "randn", "arange")},
    # functional API
    **{name: "chainrule.functional" for name in (
        "grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian")},
    "autograd_grad": "chainrule.functional",
    # gradient checking
    "numerical_gradient": "chainrule.numgrad",
    "gradcheck": "chainrule.numgrad",
    # the glass box
    "explain": "chainrule.glassbox.explain",
    "check_layer": "chainrule.glassbox.check",
    # saving
    "save": "chainrule.serialization",
    "load": "chainrule.serialization",
    "manual_seed": "chainrule.random",
}
_SUBMODULES = {"nn", "optim", "data", "layers", "models", "datasets", "viz", "ops", "functional",
               "engine", "glassbox", "serialization", "numgrad", "random", "cli"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"chainrule.{name}")
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
