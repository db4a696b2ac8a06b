"""Elementwise primitives: exp log log1p sqrt abs sin cos sinh cosh tanh sigmoid relu clip
maximum minimum where."""
from __future__ import annotations

import numpy as np

from chainrule import numerics
from chainrule.engine import _NO_ATTRS, Primitive, Tensor, apply, as_tensor
from chainrule.engine.graph import Notation
from chainrule.ops.operands import data_of as _data, operands


def sign(x) -> np.ndarray:
    """Sign as a constant array (its derivative is zero almost everywhere); 0 at nan, as
    PyTorch's abs gradient."""
    x = _data(x)
    return (x > 0).astype(x.dtype) - (x < 0)


EXP = Primitive(
    "exp", np.exp,
    vjps=(lambda g, out, a: g * out,),
    jvps=(lambda t, out, a: t * out,),
    notation=Notation("exp", ("exp(a)",), elementwise=True,
                      trace="exp {0}", trace_rules=("{v}",)))

LOG = Primitive(
    "log", np.log,
    vjps=(lambda g, out, a: g / a,),
    jvps=(lambda t, out, a: t / a,),
    notation=Notation("log", ("1/a",), elementwise=True,
                      trace="ln {0}", trace_rules=("1/{0}",)))

SQRT = Primitive(
    "sqrt", np.sqrt,
    vjps=(lambda g, out, a: g / (2 * out),),
    jvps=(lambda t, out, a: t / (2 * out),),
    notation=Notation("√", ("1/(2√a)",), elementwise=True,
                      trace="√{0}", trace_rules=("1/(2{v})",)))

ABS = Primitive(
    "abs", np.abs,
    vjps=(lambda g, out, a: g * sign(a),),
    jvps=(lambda t, out, a: t * sign(a),),
    notation=Notation("|x|", ("sign(a)",), elementwise=True,
                      trace="|{0}|", trace_rules=("sign({0})",)))

SIN = Primitive(
    "sin", np.sin,
    vjps=(lambda g, out, a: g * COS(a),),
    jvps=(lambda t, out, a: t * COS(a),),
    notation=Notation("sin", ("cos(a)",), elementwise=True,
                      trace="sin {0}", trace_rules=("cos {0}",)))

COS = Primitive(
    "cos", np.cos,
    vjps=(lambda g, out, a: -(g * SIN(a)),),
    jvps=(lambda t, out, a: -t * SIN(a),),
    notation=Notation("cos", ("−sin(a)",), elementwise=True,
                      trace="cos {0}", trace_rules=("−sin {0}",)))

LOG1P = Primitive(
    "log1p", np.log1p,  # log(1 + a), exact for tiny a
    vjps=(lambda g, out, a: g / (1 + a),),
    jvps=(lambda t, out, a: t / (1 + a),),
    notation=Notation("log1p", ("1/(1 + a)",), elementwise=True,
                      trace="ln(1 + {0})", trace_rules=("1/(1 + {0})",)))

COSH = Primitive(
    "cosh", np.cosh,
    vjps=(lambda g, out, a: g * SINH(a),),
    jvps=(lambda t, out, a: t * SINH(a),),
    notation=Notation("cosh", ("sinh(a)",), elementwise=True,
                      trace="cosh {0}", trace_rules=("sinh {0}",)))

SINH = Primitive(
    "sinh", np.sinh,
    vjps=(lambda g, out, a: g * COSH(a),),
    jvps=(lambda t, out, a: t * COSH(a),),
    notation=Notation("sinh", ("cosh(a)",), elementwise=True,
                      trace="sinh {0}", trace_rules=("cosh {0}",)))

# the activations' `slope`: the local derivative from the output, ÷ its maximum (σ' ≤ 0.25)
TANH = Primitive(
    "tanh", np.tanh,
    vjps=(lambda g, out, a: g * (1 - out * out),),
    jvps=(lambda t, out, a: t * (1 - out * out),),
    notation=Notation("tanh", ("1 − tanh²(a)",), elementwise=True,
                      trace="tanh {0}", trace_rules=("(1 − {v}²)",),
                      slope=lambda out: 1 - out * out))

SIGMOID = Primitive(
    "sigmoid", numerics.sigmoid,  # 1 / (1 + e^-x) without overflow
    vjps=(lambda g, out, a: g * (out * (1 - out)),),
    jvps=(lambda t, out, a: t * (out * (1 - out)),),
    notation=Notation("σ", ("σ(a)(1 − σ(a))",), elementwise=True,
                      trace="σ({0})", trace_rules=("{v}(1 − {v})",),
                      slope=lambda out: out * (1 - out) / 0.25))


def _maskable(x, cond) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind == "f" and \
        isinstance(cond, np.ndarray) and cond.dtype == bool and cond.shape == x.shape


def _where(a, b, cond):
    """np.where(cond, a, b); when one side is a Python 0 and the other a float array of
    cond's shape (every WHERE of a VJP or JVP, ReLU's among them) the branch-free
    numerics.masked, with the same bits."""
    if type(b) is int and b == 0 and _maskable(a, cond):
        return numerics.masked(a, cond)
    if type(a) is int and a == 0 and _maskable(b, cond):
        return numerics.masked(b, ~cond)
    return np.where(cond, a, b)


# PyTorch's threshold rule on the output: the gradient passes unless out <= 0 (so it
# passes at nan), and a nan or inf upstream gradient does not leak where it is blocked
RELU = Primitive(
    "relu", lambda a: _where(0, a, a < 0),  # keeps nan and -0.0, as PyTorch
    vjps=(lambda g, out, a: WHERE(0, g, cond=_data(out) <= 0),),
    jvps=(lambda t, out, a: WHERE(0, t, cond=_data(out) <= 0),),
    notation=Notation("ReLU", ("1 if a > 0 else 0",), elementwise=True,
                      trace="relu({0})", trace_rules=("[{0} > 0]",),
                      slope=lambda out: (out > 0).astype(float)))


def _clip_mask(a, lo, hi):
    """Where the input passed through clip unchanged (ends included, as in PyTorch)."""
    data = _data(a)
    mask = np.ones(data.shape, dtype=bool)
    if lo is not None:
        mask &= data >= lo
    if hi is not None:
        mask &= data <= hi
    return mask


CLIP = Primitive(
    "clip", lambda a, lo, hi: np.clip(a, lo, hi),
    vjps=(lambda g, out, a, lo, hi: WHERE(g, 0, cond=_clip_mask(a, lo, hi)),),
    jvps=(lambda t, out, a, lo, hi: WHERE(t, 0, cond=_clip_mask(a, lo, hi)),),
    notation=Notation("clip", ("1 inside [min, max] else 0",), elementwise=True))


def _pick_weight(a, b, first_wins):
    """Share of the gradient that goes to `a` in maximum/minimum: PyTorch's rule, 1 unless
    `a` lost (so both sides get it where a nan is involved), 0.5 each at a tie."""
    a, b = _data(a), _data(b)
    lost = (a < b) if first_wins else (a > b)
    return np.where(lost, 0.0, np.where(a == b, 0.5, 1.0))


def _extremum(name, forward, first_wins, notation: Notation) -> Primitive:
    w = lambda a, b: _pick_weight(a, b, first_wins)  # noqa: E731
    def share(g, a, b):  # `where`, so a nan gradient does not leak to the side that lost
        weight = w(a, b)
        return WHERE(g, WHERE(0, g * 0.5, cond=weight == 0), cond=weight == 1)
    return Primitive(
        name, lambda a, b: np.where(a == b, a, forward(a, b)),  # a tie gives a, as PyTorch
        vjps=(lambda g, out, a, b: share(g, a, b),
              lambda g, out, a, b: share(g, b, a)),
        jvps=(lambda t, out, a, b: share(t, a, b),
              lambda t, out, a, b: share(t, b, a)),
        notation=notation)


MAXIMUM = _extremum("maximum", np.maximum, first_wins=True, notation=Notation(
    "maximum", ("1 where a > b", "1 where b > a"), elementwise=True))
MINIMUM = _extremum("minimum", np.minimum, first_wins=False, notation=Notation(
    "minimum", ("1 where a < b", "1 where b < a"), elementwise=True))

WHERE = Primitive(
    "where", _where,
    vjps=(lambda g, out, a, b, cond: WHERE(g, 0, cond=cond),
          lambda g, out, a, b, cond: WHERE(0, g, cond=cond)),
    jvps=(lambda t, out, a, b, cond: WHERE(t, 0, cond=cond),
          lambda t, out, a, b, cond: WHERE(0, t, cond=cond)),
    notation=Notation("where", ("1 where cond", "1 where not cond"), elementwise=True))


def exp(x) -> Tensor: return apply(EXP, (as_tensor(x),), _NO_ATTRS)
def log(x) -> Tensor: return apply(LOG, (as_tensor(x),), _NO_ATTRS)
def sqrt(x) -> Tensor: return apply(SQRT, (as_tensor(x),), _NO_ATTRS)
def abs(x) -> Tensor: return apply(ABS, (as_tensor(x),), _NO_ATTRS)  # noqa: A001
def sin(x) -> Tensor: return apply(SIN, (as_tensor(x),), _NO_ATTRS)
def cos(x) -> Tensor: return apply(COS, (as_tensor(x),), _NO_ATTRS)
def tanh(x) -> Tensor: return apply(TANH, (as_tensor(x),), _NO_ATTRS)
def sigmoid(x) -> Tensor: return apply(SIGMOID, (as_tensor(x),), _NO_ATTRS)
def relu(x) -> Tensor: return apply(RELU, (as_tensor(x),), _NO_ATTRS)
def log1p(x) -> Tensor: return apply(LOG1P, (as_tensor(x),), _NO_ATTRS)
def cosh(x) -> Tensor: return apply(COSH, (as_tensor(x),), _NO_ATTRS)
def sinh(x) -> Tensor: return apply(SINH, (as_tensor(x),), _NO_ATTRS)


def clip(x, min=None, max=None) -> Tensor:  # noqa: A002
    """Clamp to [min, max]; the gradient passes where min <= x <= max."""
    return apply(CLIP, (as_tensor(x),), {"lo": min, "hi": max})


def maximum(a, b) -> Tensor:
    return apply(MAXIMUM, operands(a, b), _NO_ATTRS)


def minimum(a, b) -> Tensor:
    return apply(MINIMUM, operands(a, b), _NO_ATTRS)


def where(cond, a, b) -> Tensor:
    """Elementwise choice: a where cond is true, else b (cond has no gradient)."""
    cond = np.asarray(_data(cond), dtype=bool)
    a, b = operands(a, b)
    return apply(WHERE, (a, b), {"cond": cond})
