"""Differentiable primitives. Each module defines its primitives' forward, VJP and JVP
rules side by side, and the user-facing functions that apply them."""
from chainrule.ops.arithmetic import add, div, matmul, mul, neg, pow, sub  # noqa: A004
from chainrule.ops.creation import arange, ones, ones_like, randn, zeros, zeros_like
from chainrule.ops.elementwise import (abs, clip, cos, exp, log, maximum, minimum, relu,  # noqa: A004
                                       sigmoid, sin, sqrt, tanh, where)
from chainrule.ops.nn import linear, log_softmax, softmax, softmax_cross_entropy
from chainrule.ops.reductions import logsumexp, max, mean, min, sum  # noqa: A004
from chainrule.ops.inplace import (add_, clamp_, clone, copy_, div_, fill_, mul_, normal_,
                                   pow_, setitem_, sub_, uniform_)
from chainrule.ops.shape import (astype, broadcast_to, concat, expand_dims, flatten, getitem,
                                 index_add, reshape, squeeze, stack, swapaxes, transpose)

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "matmul",
    "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "clip",
    "maximum", "minimum", "where",
    "sum", "mean", "max", "min", "logsumexp",
    "reshape", "transpose", "swapaxes", "squeeze", "expand_dims", "flatten", "broadcast_to",
    "getitem", "index_add", "concat", "stack", "astype",
    "softmax", "log_softmax", "softmax_cross_entropy", "linear",
    "zeros", "ones", "zeros_like", "ones_like", "randn", "arange",
    "add_", "sub_", "mul_", "div_", "pow_", "clamp_", "fill_", "copy_", "normal_", "uniform_",
    "setitem_", "clone",
]

from chainrule.ops import tensor_methods as _tensor_methods  # noqa: E402  (needs the ops above)

_tensor_methods.install()
