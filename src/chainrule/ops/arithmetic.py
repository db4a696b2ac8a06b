"""Arithmetic primitives: + - * / ** @ and unary minus, broadcasting like NumPy."""
from __future__ import annotations

import numpy as np

from chainrule.engine import _NO_ATTRS, Primitive, Tensor, apply, as_tensor
from chainrule.ops.generic import log, sum_to, where, zeros_like


def astype(x, dtype):
    from chainrule.ops.shape import astype as cast  # shape imports this module
    return cast(x, dtype)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _pair(a, b) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors with PyTorch's float promotion: a Python or NumPy number
    takes the other operand's dtype, and so does a 0-d float tensor meeting a float
    tensor with dimensions (float32 * 0-d float64 stays float32)."""
    if not isinstance(b, Tensor):
        a = as_tensor(a)
        b = as_tensor(b, like=a)
        if a.data.dtype.kind == "f":
            return a, b  # the common case: a number met a float tensor and took its dtype
    elif not isinstance(a, Tensor):
        a = as_tensor(a, like=b)
        if b.data.dtype.kind == "f":
            return a, b
    da, db = a.data.dtype, b.data.dtype
    if da is not db and da != db and (a.ndim == 0) != (b.ndim == 0):
        if a.ndim == 0 and db.kind == "f" and da.kind in "biuf":
            a = astype(a, db)  # float32 * 0-d float64 (or 0-d int) stays float32
        elif b.ndim == 0 and da.kind == "f" and db.kind in "biuf":
            b = astype(b, da)
        elif a.ndim == 0 and da.kind == "f" and db.kind in "biu":
            b = astype(b, da)  # int tensor * 1.5 is float32, as in PyTorch
        elif b.ndim == 0 and db.kind == "f" and da.kind in "biu":
            a = astype(a, db)
    return a, b


ADD = Primitive(
    "add", np.add,
    vjps=(lambda g, out, a, b: sum_to(g, a.shape),
          lambda g, out, a, b: sum_to(g, b.shape)),
    jvps=(lambda t, out, a, b: t,
          lambda t, out, a, b: t))

SUB = Primitive(
    "sub", np.subtract,
    vjps=(lambda g, out, a, b: sum_to(g, a.shape),
          lambda g, out, a, b: sum_to(-g, b.shape)),
    jvps=(lambda t, out, a, b: t,
          lambda t, out, a, b: -t))

MUL = Primitive(
    "mul", np.multiply,
    vjps=(lambda g, out, a, b: sum_to(g * b, a.shape),
          lambda g, out, a, b: sum_to(g * a, b.shape)),
    jvps=(lambda t, out, a, b: t * b,
          lambda t, out, a, b: a * t))

DIV = Primitive(
    "div", np.divide,
    vjps=(lambda g, out, a, b: sum_to(g / b, a.shape),
          lambda g, out, a, b: sum_to(-g * a / (b * b), b.shape)),
    jvps=(lambda t, out, a, b: t / b,
          lambda t, out, a, b: -t * a / (b * b)))

NEG = Primitive(
    "neg", np.negative,
    vjps=(lambda g, out, a: -g,),
    jvps=(lambda t, out, a: -t,))

def _slope(a, p):
    """d(a**p)/da for a constant p: p * a**(p-1), and exactly 0 for p == 0 (PyTorch's
    convention, so that x**0, and every higher derivative of x**n, is finite at x = 0)."""
    return zeros_like(a) if p == 0 else p * a ** (p - 1)


# x ** p for a constant exponent p (the common case: x**2, x**0.5)
POW_SCALAR = Primitive(
    "pow", lambda a, p: np.power(a, p),
    vjps=(lambda g, out, a, p: g * _slope(a, p),),
    jvps=(lambda t, out, a, p: t * _slope(a, p),))


def _log_base(a):
    """log(a) where a != 0, and 0 where a == 0 (PyTorch's convention for d(a**b)/db)."""
    nonzero = _data(a) != 0
    return where(nonzero, log(where(nonzero, a, 1)), 0)


def _tensor_slope(a, b):
    """d(a**b)/da: b * a**(b-1), and 0 where b == 0 (as PyTorch)."""
    return where(_data(b) == 0, 0, b * a ** (b - 1))


POW = Primitive(
    "pow", np.power,
    vjps=(lambda g, out, a, b: sum_to(g * _tensor_slope(a, b), a.shape),
          lambda g, out, a, b: sum_to(g * out * _log_base(a), b.shape)),
    jvps=(lambda t, out, a, b: t * _tensor_slope(a, b),
          lambda t, out, a, b: t * out * _log_base(a)))


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
    return sum_to(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)


def _matmul_vjp_b(g, out, a, b):
    a2, b2 = _as_matrix_args(a, b)
    g2 = _as_matrix_grad(g, a, b)
    return sum_to(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(b.shape)


MATMUL = Primitive(
    "matmul", np.matmul,
    vjps=(_matmul_vjp_a, _matmul_vjp_b),
    jvps=(lambda t, out, a, b: t @ b,
          lambda t, out, a, b: a @ t))


def add(a, b) -> Tensor:
    return apply(ADD, _pair(a, b), _NO_ATTRS)


def sub(a, b) -> Tensor:
    return apply(SUB, _pair(a, b), _NO_ATTRS)


def mul(a, b) -> Tensor:
    return apply(MUL, _pair(a, b), _NO_ATTRS)


def div(a, b) -> Tensor:
    return apply(DIV, _pair(a, b), _NO_ATTRS)


def neg(a) -> Tensor:
    return apply(NEG, (as_tensor(a),), _NO_ATTRS)


def pow(a, b) -> Tensor:
    """a ** b; a constant Python exponent uses the cheaper one-input primitive."""
    if isinstance(b, np.generic) and b.dtype.kind in "iuf":
        b = b.item()  # a NumPy scalar exponent must not make float32 float64
    if isinstance(b, (int, float)) and isinstance(a, Tensor):
        return apply(POW_SCALAR, (a,), {"p": b})
    return apply(POW, _pair(a, b), _NO_ATTRS)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules for 1-D, 2-D and batched operands."""
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, "
                         f"got shapes {a.shape} and {b.shape}")
    return apply(MATMUL, (a, b), {})
