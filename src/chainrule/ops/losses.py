"""The binary cross-entropies as fused primitives (`chainrule.nn.functional` checks the
arguments and applies them; the fused softmax cross-entropy is in `chainrule.ops.nn`).

BCE clamps its logs at -100 and divides its gradient by max(p(1-p), 1e-12) exactly as
PyTorch does, so p of exactly 0 or 1 gives PyTorch's finite numbers; BCE-with-logits
uses (1-y)x + log(1 + e^-x), with log(1 + e^-x) = log1p(e^-|x|) + max(-x, 0), finite for
any logit. The target, weight and pos_weight are constants (attributes, no gradient).
The rules are written with primitives, so they take arrays or Tensors and second
derivatives work.
"""
from __future__ import annotations

import math

import numpy as np

from chainrule.engine import Primitive
from chainrule.engine.graph import Notation
from chainrule.ops.elementwise import MAXIMUM, SIGMOID
from chainrule.ops.operands import numel


def _reduce(losses, reduction: str):
    """Per-element losses reduced: their mean (nan of no losses, as PyTorch), their sum, or
    as they are."""
    if reduction == "mean":
        return losses.mean() if numel(losses) else np.asarray(np.nan, dtype=losses.dtype)
    if reduction == "sum":
        return losses.sum()
    return losses


def _reduce_rule(g, per_element, reduction: str, shape: tuple):
    """Chain an upstream gradient through the reduction: spread, scale by 1/n for mean."""
    if reduction == "none":
        return g * per_element
    if reduction == "mean":
        n = math.prod(shape) or 1
        return per_element * (g / n)
    return per_element * g


# ---- mean squared error -----------------------------------------------------------------
def _mse_forward(a, b, reduction):
    d = a - b
    return _reduce(d * d, reduction)


MSE_LOSS = Primitive(
    "mse_loss", _mse_forward,
    vjps=(lambda g, out, a, b, reduction: _reduce_rule(g, 2 * (a - b), reduction, a.shape),
          lambda g, out, a, b, reduction: _reduce_rule(g, 2 * (b - a), reduction, a.shape)),
    jvps=(lambda t, out, a, b, reduction: _reduce(t * (2 * (a - b)), reduction),
          lambda t, out, a, b, reduction: _reduce(t * (2 * (b - a)), reduction)),
    notation=Notation("MSE", ("2(a − b)/n", "2(b − a)/n")))


# ---- binary cross-entropy on probabilities ------------------------------------------------
_BCE_EPS = 1e-12  # PyTorch's floor on p(1-p) in BCE's backward


def _bce_forward(p, target, weight, reduction):
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100)
        log_1mp = np.maximum(np.log(1 - p), -100)
    losses = -(target * log_p + (1 - target) * log_1mp)
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction)


def _bce_dp(p, target, weight):
    """d loss_i / d p_i as PyTorch computes it: (p - y) / max(p(1-p), 1e-12)."""
    d = (p - target) / MAXIMUM((1 - p) * p, _BCE_EPS)
    return d if weight is None else d * weight


BINARY_CROSS_ENTROPY = Primitive(
    "binary_cross_entropy", _bce_forward,
    vjps=(lambda g, out, p, target, weight, reduction:
          _reduce_rule(g, _bce_dp(p, target, weight), reduction, p.shape),),
    jvps=(lambda t, out, p, target, weight, reduction:
          _reduce(t * _bce_dp(p, target, weight), reduction),),
    notation=Notation.generic("binary_cross_entropy"))


# ---- binary cross-entropy on logits -------------------------------------------------------
def _bcel_forward(x, target, weight, pos_weight, reduction):
    softplus_neg = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)   # log(1 + e^-x)
    if pos_weight is None:
        losses = (1 - target) * x + softplus_neg
    else:
        losses = (1 - target) * x + ((pos_weight - 1) * target + 1) * softplus_neg
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction)


def _bcel_dx(x, target, weight, pos_weight):
    """d loss_i / d x_i = sigmoid(x) - y, or (1-y) - (1 + (pw-1)y) sigmoid(-x) with pos_weight."""
    s = SIGMOID(x)
    if pos_weight is None:
        d = s - target
    else:
        d = (1 - target) - ((pos_weight - 1) * target + 1) * (1 - s)
    return d if weight is None else d * weight


BINARY_CROSS_ENTROPY_WITH_LOGITS = Primitive(
    "binary_cross_entropy_with_logits", _bcel_forward,
    vjps=(lambda g, out, x, target, weight, pos_weight, reduction:
          _reduce_rule(g, _bcel_dx(x, target, weight, pos_weight), reduction, x.shape),),
    jvps=(lambda t, out, x, target, weight, pos_weight, reduction:
          _reduce(t * _bcel_dx(x, target, weight, pos_weight), reduction),),
    notation=Notation.generic("binary_cross_entropy_with_logits"))
