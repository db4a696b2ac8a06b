"""Arithmetic primitives: + - * / ** @ and unary minus, broadcasting like NumPy."""
from __future__ import annotations

import numpy as np

from chainrule.engine import _NO_ATTRS, Primitive, Tensor, apply, as_tensor
from chainrule.engine.graph import Notation
from chainrule.numerics import matmul
from chainrule.ops.elementwise import LOG, WHERE
from chainrule.ops.operands import data_of as _data, operands


ADD = Primitive(
    "add", np.add,
    vjps=(lambda g, out, a, b: g,
          lambda g, out, a, b: g),
    jvps=(lambda t, out, a, b: t,
          lambda t, out, a, b: t),
    notation=Notation("+", ("1", "1"), elementwise=True,
                      trace="{0} + {1}", trace_rules=("1", "1")))

SUB = Primitive(
    "sub", np.subtract,
    vjps=(lambda g, out, a, b: g,
          lambda g, out, a, b: -g),
    jvps=(lambda t, out, a, b: t,
          lambda t, out, a, b: -t),
    notation=Notation("−", ("1", "−1"), elementwise=True,
                      trace="{0} − {1}", trace_rules=("1", "−1")))

MUL = Primitive(
    "mul", np.multiply,
    vjps=(lambda g, out, a, b: g * b,
          lambda g, out, a, b: g * a),
    jvps=(lambda t, out, a, b: t * b,
          lambda t, out, a, b: a * t),
    notation=Notation("×", ("b", "a"), elementwise=True,
                      trace="{0} × {1}", trace_rules=("{1}", "{0}")))

DIV = Primitive(
    "div", np.divide,
    vjps=(lambda g, out, a, b: g / b,
          lambda g, out, a, b: -g * a / (b * b)),
    jvps=(lambda t, out, a, b: t / b,
          lambda t, out, a, b: -t * a / (b * b)),
    notation=Notation("÷", ("1/b", "−a/b²"), elementwise=True,
                      trace="{0} / {1}", trace_rules=("1/{1}", "−{v}/{1}")))

NEG = Primitive(
    "neg", np.negative,
    vjps=(lambda g, out, a: -g,),
    jvps=(lambda t, out, a: -t,),
    notation=Notation("−x", ("−1",), elementwise=True, trace="−{0}", trace_rules=("−1",)))


def _slope(a, p):
    """d(a**p)/da for a constant p: p * a**(p-1), and exactly 0 for p == 0 (PyTorch's
    convention, so that x**0, and every higher derivative of x**n, is finite at x = 0)."""
    return np.zeros(a.shape, a.dtype) if p == 0 else p * a ** (p - 1)


def _pow_trace_rule(a: str, *constant: str, v: str, p: float) -> str:
    """d(a**p)/da in a trace: 2·a for a square, p·a^(p−1) otherwise."""
    return f"{p:g}·{a}" if p == 2 else f"{p:g}·{a}^{p - 1:g}"


# x ** p for a constant exponent p (the common case: x**2, x**0.5)
POW_SCALAR = Primitive(
    "pow", lambda a, p: np.power(a, p),
    vjps=(lambda g, out, a, p: g * _slope(a, p),),
    jvps=(lambda t, out, a, p: t * _slope(a, p),),
    notation=Notation("x^{p:g}", (lambda p, **_: f"{p:g}·a^{p - 1:g}",), elementwise=True,
                      trace="{0}^{p:g}", trace_rules=(_pow_trace_rule,)))


def _log_base(a):
    """log(a) where a != 0, and 0 where a == 0 (PyTorch's convention for d(a**b)/db)."""
    nonzero = _data(a) != 0
    return WHERE(LOG(WHERE(a, 1, cond=nonzero)), 0, cond=nonzero)


def _tensor_slope(a, b):
    """d(a**b)/da: b * a**(b-1), and 0 where b == 0 (as PyTorch)."""
    return WHERE(0, b * a ** (b - 1), cond=_data(b) == 0)


POW = Primitive(
    "pow", np.power,
    vjps=(lambda g, out, a, b: g * _tensor_slope(a, b),
          lambda g, out, a, b: g * out * _log_base(a)),
    jvps=(lambda t, out, a, b: t * _tensor_slope(a, b),
          lambda t, out, a, b: t * out * _log_base(a)),
    notation=Notation("xᵖ", ("b·a^(b−1)", "aᵇ·ln a"), elementwise=True,
                      trace="{0} ^ {1}", trace_rules=("{1}·{0}^({1}−1)", "{v}·ln {0}")))


def _as_matrix_args(a, b):
    """Promote 1-D operands to 2-D as matmul does: (k,) @ M is (1,k) @ M, M @ (k,) is M @ (k,1)."""
    return (a.reshape((1,) + a.shape) if a.ndim == 1 else a,
            b.reshape(b.shape + (1,)) if b.ndim == 1 else b)


def _as_matrix_grad(g, a, b):
    """The upstream gradient with the axes matmul dropped for 1-D operands put back."""
    if b.ndim == 1:
        g = g.reshape(g.shape + (1,))
    if a.ndim == 1:
        g = g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
    return g


def _matmul_vjp_a(g, out, a, b):
    a2, b2 = _as_matrix_args(a, b)
    g2 = _as_matrix_grad(g, a, b)
    # the reverse pass sums batch axes and 1-D promotion away
    return matmul(g2, b2.swapaxes(-1, -2))


def _matmul_vjp_b(g, out, a, b):
    a2, b2 = _as_matrix_args(a, b)
    g2 = _as_matrix_grad(g, a, b)
    gb = matmul(a2.swapaxes(-1, -2), g2)
    return gb.reshape(gb.shape[:-1]) if b.ndim == 1 else gb  # (..., k, 1) back to (..., k)


MATMUL = Primitive(
    "matmul", matmul,
    vjps=(_matmul_vjp_a, _matmul_vjp_b),
    jvps=(lambda t, out, a, b: matmul(t, b),
          lambda t, out, a, b: matmul(a, t)),
    notation=Notation("@", ("vector-Jacobian product: g·bᵀ, {shapes}",
                            "vector-Jacobian product: aᵀ·g, {shapes}")))


def add(a, b) -> Tensor:
    return apply(ADD, operands(a, b), _NO_ATTRS)


def sub(a, b) -> Tensor:
    return apply(SUB, operands(a, b), _NO_ATTRS)


def mul(a, b) -> Tensor:
    return apply(MUL, operands(a, b), _NO_ATTRS)


def div(a, b) -> Tensor:
    return apply(DIV, operands(a, b), _NO_ATTRS)


def neg(a) -> Tensor:
    return apply(NEG, (as_tensor(a),), _NO_ATTRS)


def pow(a, b) -> Tensor:
    """a ** b; a constant Python exponent uses the cheaper one-input primitive."""
    if isinstance(b, np.generic) and b.dtype.kind in "iuf":
        b = b.item()  # a NumPy scalar exponent must not make float32 float64
    if isinstance(b, (int, float)) and isinstance(a, Tensor):
        return apply(POW_SCALAR, (a,), {"p": b})
    return apply(POW, operands(a, b), _NO_ATTRS)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules for 1-D, 2-D and batched operands."""
    a, b = operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, "
                         f"got shapes {a.shape} and {b.shape}")
    return apply(MATMUL, (a, b), {})
