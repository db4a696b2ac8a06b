"""Differentiable primitives. Each module defines its primitives' forward, VJP and JVP
rules and notation (how the glass box explains them) side by side, in one `Primitive`
literal per op, and the user-facing functions that apply them. Every primitive lives
here; `primitives()` lists them and `primitive(name)` finds one by its name."""
import importlib as _importlib
import pkgutil as _pkgutil

from chainrule.engine import Primitive as _Primitive
from chainrule.ops.arithmetic import add, div, matmul, mul, neg, pow, sub  # noqa: A004
from chainrule.ops.creation import (arange, empty, empty_like, eye, full, full_like, linspace,
                                    ones, ones_like, rand, rand_like, randint, randn,
                                    randn_like, randperm, zeros, zeros_like)
from chainrule.ops.elementwise import (abs, clip, cos, cosh, exp, log, log1p, maximum,  # noqa: A004
                                       minimum, relu, sigmoid, sin, sinh, sqrt, tanh, where)
from chainrule.ops.nn import linear, log_softmax, softmax, softmax_cross_entropy
from chainrule.ops.reductions import (argmax, argmin, cumsum, logsumexp, max, mean,  # noqa: A004
                                      min, sum)
from chainrule.ops.inplace import (add_, clamp_, clone, copy_, div_, fill_, mul_, normal_,
                                   pow_, setitem_, sub_, uniform_)
from chainrule.ops.shape import (astype, broadcast_to, concat, expand_dims, flatten, getitem,
                                 index_add, reshape, squeeze, stack, swapaxes, transpose)

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "matmul",
    "exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "sinh", "cosh", "tanh", "sigmoid",
    "relu", "clip", "maximum", "minimum", "where",
    "sum", "mean", "max", "min", "logsumexp", "argmax", "argmin", "cumsum",
    "reshape", "transpose", "swapaxes", "squeeze", "expand_dims", "flatten", "broadcast_to",
    "getitem", "index_add", "concat", "stack", "astype",
    "softmax", "log_softmax", "softmax_cross_entropy", "linear",
    "zeros", "ones", "zeros_like", "ones_like", "randn", "arange", "empty", "empty_like", "eye",
    "full", "full_like", "linspace", "rand", "rand_like", "randint", "randn_like", "randperm",
    "add_", "sub_", "mul_", "div_", "pow_", "clamp_", "fill_", "copy_", "normal_", "uniform_",
    "setitem_", "clone", "primitives", "primitive",
]

from chainrule.ops import tensor_methods as _tensor_methods  # noqa: E402  (needs the ops above)

_tensor_methods.install()


def primitives() -> list:
    """Every primitive defined in chainrule.ops's modules, each once, in module order."""
    found: dict[int, _Primitive] = {}
    for info in _pkgutil.iter_modules(__path__):
        module = _importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, _Primitive):
                found.setdefault(id(value), value)
    return list(found.values())


_BY_NAME: dict = {}


def primitive(name: str) -> _Primitive:
    """The primitive called `name`, for readers that know an op only by its name (an
    expression traced in forward mode records no nodes). Two primitives are called pow;
    this is the general one (a tensor exponent), whose notation needs no attributes."""
    if not _BY_NAME:
        from chainrule.ops.arithmetic import POW_SCALAR
        _BY_NAME.update((p.name, p) for p in primitives() if p is not POW_SCALAR)
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no primitive called {name!r} in chainrule.ops") from None
