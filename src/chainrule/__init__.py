"""chainrule: backpropagation you can see, check and trust.

Two faces, one truth: the book's layers with hand-written backward passes
(`chainrule.layers`, `chainrule.models`) and a define-by-run autograd engine with a
PyTorch-shaped `nn`/`optim` stack (`chainrule.Tensor`, `chainrule.nn`, `chainrule.optim`).
Names are imported on first use, so `import chainrule` stays fast.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

__version__ = "0.1.0"

# public name -> module that defines it (loaded on first access)
_LAZY = {
    # the engine
    **{name: "chainrule.engine" for name in (
        "Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled",
        "device", "Size", "get_default_dtype", "set_default_dtype", "set_default_device",
        "get_default_device")},
    # tensor functions (also Tensor methods)
    **{name: "chainrule.ops" for name in (
        "add", "sub", "mul", "div", "neg", "pow", "sum", "mean", "max", "min",
        "logsumexp", "reshape", "broadcast_to", "concat", "expand_dims", "exp", "log", "log1p",
        "sqrt", "abs", "sin", "cos", "sinh", "cosh", "tanh", "sigmoid", "relu", "clip",
        "maximum", "minimum", "softmax", "log_softmax", "softmax_cross_entropy", "argmax",
        "argmin", "cumsum", "zeros", "ones", "zeros_like", "ones_like", "randn", "arange",
        "empty", "empty_like", "eye", "full", "full_like", "linspace", "rand", "rand_like",
        "randint", "randn_like", "randperm")},
    # PyTorch's names and signatures
    **{name: "chainrule.ops.torch_ops" for name in (
        "transpose", "permute", "t", "flatten", "unsqueeze", "squeeze", "cat", "stack",
        "clamp", "var", "std", "prod", "norm", "flip", "outer", "matmul", "eq", "ne", "lt", "le",
        "gt", "ge", "equal", "allclose", "isclose", "where", "masked_fill", "logical_not")},
    **{name: "chainrule.ops.torch_more" for name in (
        "gather", "index_select", "split", "chunk", "sort", "topk", "mm", "bmm", "dot", "square",
        "isnan", "isinf", "isfinite", "sign", "floor", "ceil", "round")},
    # functional API
    **{name: "chainrule.functional" for name in (
        "grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "elementwise_grad")},
    "autograd_grad": "chainrule.functional",
    # gradient checking
    "numerical_gradient": "chainrule.numerics",
    "gradcheck": "chainrule.gradcheck",
    # the glass box
    "explain": "chainrule.glassbox.explain",
    "trace": "chainrule.glassbox.traces",
    "forward_trace": "chainrule.glassbox.traces",
    "reverse_trace": "chainrule.glassbox.traces",
    "worked_example": "chainrule.glassbox.worked_example",
    "check_layer": "chainrule.glassbox.check",
    # saving
    "save": "chainrule.serialization",
    "load": "chainrule.serialization",
    "manual_seed": "chainrule.random",
    "Generator": "chainrule.random",
    # NumPy's BLAS threads (chainrule.threads explains the policy)
    "set_num_threads": "chainrule.threads",
    "get_num_threads": "chainrule.threads",
    # no GPU: the probes PyTorch programs make
    "cuda": "chainrule.hardware",
    "backends": "chainrule.hardware",
    "accelerator": "chainrule.hardware",
}
_SUBMODULES = {"nn", "optim", "data", "layers", "models", "datasets", "viz", "ops", "functional",
               "engine", "glassbox", "serialization", "numgrad", "random", "cli", "book",
               "train", "gradcheck", "numerics", "utils", "threads", "autograd", "hardware"}


# Old import paths that stay valid after a module moved: `import chainrule.layers` gives
# the module `chainrule.book.layers` itself (and `chainrule.viz.dot` the glass box's `dot`).
# While a file still stands at the old path, that file is imported instead.
ALIASES = {
    "chainrule.layers": "chainrule.book.layers",
    "chainrule.models": "chainrule.book.models",
    "chainrule.viz": "chainrule.glassbox",
    "chainrule.optim.lr_scheduler": "chainrule.nn.lr_scheduler",
    "chainrule.optim": "chainrule.nn.optim",
    "chainrule.data": "chainrule.nn.data",
    "chainrule.utils": "chainrule.nn",
    "chainrule.training": "chainrule.train",
    "chainrule.nn_training": "chainrule.train",
    "chainrule.numgrad": "chainrule.gradcheck",
}


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old path (or a module below it) to the module at its new home."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "chainrule.engine":
            spec = importlib.machinery.PathFinder.find_spec(fullname, __path__)
            spec.loader = _EngineLoader(spec.loader)
            return spec
        new = _new_home(fullname)
        if new is None:
            return None
        if fullname in ALIASES:
            old = importlib.machinery.PathFinder.find_spec(fullname, __path__)
            if old is not None and old.origin is not None:
                return None  # the old file is still there (a leftover empty folder is not)
        elif getattr(sys.modules.get(fullname.rsplit(".", 1)[0]), "__name__", None) \
                != new.rsplit(".", 1)[0]:
            return None  # below an old path that is still a real package
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(_new_home(spec.name))
        sys.modules[spec.name] = module
        return module

    def exec_module(self, module):
        pass  # the module at its new home is already imported


class _EngineLoader(importlib.abc.Loader):
    """Loads the engine, then `chainrule.ops`, which installs Tensor's operators and math
    methods: the engine imports nothing above it, yet every Tensor has them."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        importlib.import_module("chainrule.ops")


def _new_home(fullname: str) -> str | None:
    for old, new in ALIASES.items():
        if fullname == old or fullname.startswith(old + "."):
            return new + fullname[len(old):]
    return None


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())


def _extra(name: str):
    """The names PyTorch programs use beyond the tables: dtypes, concat, from_numpy, ..."""
    from chainrule import engine
    if name in engine.DTYPES:
        return engine.DTYPES[name]
    from chainrule.engine.devices import TENSOR_TYPES
    if name in TENSOR_TYPES:
        return TENSOR_TYPES[name]
    if name == "concat" or name == "concatenate":
        return importlib.import_module("chainrule.ops.torch_ops").cat
    if name == "from_numpy":
        return lambda a: engine._wrap(a)  # shares the array's memory, as torch.from_numpy
    if name == "as_tensor":
        return lambda data, dtype=None, device=None: (
            data if isinstance(data, engine.Tensor) and dtype is None
            else engine.tensor(data, dtype=dtype, device=device))
    if name == "is_tensor":
        return lambda obj: isinstance(obj, engine.Tensor)
    if name == "numel":
        return lambda t: t.numel()
    if name == "inference_mode":
        return lambda mode=True: engine.set_grad_enabled(not mode)
    return None


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"chainrule.{name}")
    value = _extra(name)
    if value is not None:
        globals()[name] = value
        return value
    raise AttributeError(
        f"module 'chainrule' has no attribute {name!r}: if it is a PyTorch name, chainrule "
        f"does not support it yet (chainrule covers the PyTorch surface ordinary tutorials "
        f"use; see the README's 'Coming from PyTorch')")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
