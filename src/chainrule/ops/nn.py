"""Neural-network primitives: softmax, log_softmax, fused softmax-cross-entropy, linear.
Their forward math is the stable kernels both faces share (`chainrule.numerics`)."""
from __future__ import annotations

import math

import numpy as np

from chainrule import numerics
from chainrule.numerics import matmul
from chainrule.engine import Primitive, Tensor, apply, as_tensor
from chainrule.engine.graph import Notation
from chainrule.ops.elementwise import EXP
from chainrule.ops.operands import numel as _numel

try:
    from numpy.exceptions import AxisError
except ImportError:  # NumPy < 1.25
    from numpy import AxisError  # type: ignore[attr-defined,no-redef]


SOFTMAX = Primitive(
    "softmax", numerics.softmax,
    vjps=(lambda g, out, a, axis: out * (g - (g * out).sum(axis=axis, keepdims=True)),),
    jvps=(lambda t, out, a, axis: out * (t - (t * out).sum(axis=axis, keepdims=True)),),
    notation=Notation("softmax", ("vector-Jacobian product: s·(g − Σ g·s), {shapes}",)))

LOG_SOFTMAX = Primitive(
    "log_softmax", numerics.log_softmax,
    vjps=(lambda g, out, a, axis: g - EXP(out) * g.sum(axis=axis, keepdims=True),),
    jvps=(lambda t, out, a, axis: t - (EXP(out) * t).sum(axis=axis, keepdims=True),),
    notation=Notation("log softmax",
                      ("vector-Jacobian product: g − softmax(a)·Σ g, {shapes}",)))


def _ce_forward(logits, target, reduction, cache):
    """Cross-entropy of softmax(logits) against class indices or class probabilities; the
    softmax is kept for the backward pass."""
    logp, cache["softmax"] = numerics.log_softmax_and_softmax(logits)
    if target.dtype.kind in "iu":
        return numerics.nll_loss(logp, target, reduction)
    # per sample, then reduced (nll_loss's one dot product would round differently)
    losses = -(target * logp).sum(-1)
    if reduction == "mean":  # the mean of no samples is nan, quietly (as PyTorch)
        with np.errstate(invalid="ignore"):
            return losses.sum() / logits.dtype.type(losses.size)
    if reduction == "sum":
        return losses.sum()
    return losses


def _ce_dlogits(out, logits, target, reduction, cache):
    """d loss_i / d logits_i: softmax minus the target distribution (times its mass)."""
    p = SOFTMAX(logits, axis=-1) if isinstance(logits, Tensor) else cache["softmax"]
    if target.dtype.kind in "iu":
        onehot = np.zeros(p.shape, dtype=p.dtype)
        rows = onehot.reshape(-1, p.shape[-1])
        rows[np.arange(rows.shape[0]), target.reshape(-1)] = 1
        d = p - onehot
    else:
        d = p * target.sum(axis=-1, keepdims=True).astype(p.dtype) - target.astype(p.dtype)
    if reduction == "mean":
        d = d / p.dtype.type(_numel(d) // d.shape[-1] if d.ndim > 1 else 1)
    return d


def _ce_vjp(g, out, logits, target, reduction, cache):
    d = _ce_dlogits(out, logits, target, reduction, cache)
    return d * (g if reduction != "none" else g.reshape(g.shape + (1,)))


def _ce_jvp(t, out, logits, target, reduction, cache):
    per_sample = (t * _ce_dlogits(out, logits, target, "none", cache)).sum(axis=-1)
    if reduction == "mean":
        with np.errstate(invalid="ignore"):
            return per_sample.sum() / per_sample.dtype.type(_numel(per_sample))
    return per_sample.sum() if reduction == "sum" else per_sample


SOFTMAX_CROSS_ENTROPY = Primitive(
    "softmax_cross_entropy", _ce_forward, vjps=(_ce_vjp,), jvps=(_ce_jvp,),
    notation=Notation("softmax + CE",
                      ("softmax(a) − target (vector-Jacobian product), {shapes}",)))


def _linear(x, w, b=None):
    out = matmul(x, w.T)
    if b is not None:
        out += b
    return out


def _rows(a):
    """a as a matrix of rows (its last axis); explicit sizes, as -1 is ambiguous when a
    is empty (zero in_features)."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


LINEAR = Primitive(
    "linear", _linear,
    vjps=(lambda g, out, x, w, b=None: matmul(g, w),
          lambda g, out, x, w, b=None: matmul(_rows(g).T, _rows(x)),
          lambda g, out, x, w, b=None: _rows(g).sum(axis=0)),
    jvps=(lambda t, out, x, w, b=None: matmul(t, w.T),
          lambda t, out, x, w, b=None: matmul(x, t.T),
          lambda t, out, x, w, b=None: t),
    notation=Notation("linear", ("vector-Jacobian product: g·W, {shapes}",
                                 "vector-Jacobian product: gᵀ·x, {shapes}",
                                 "sum of g over the batch, {shapes}")))


def _check_axis(name: str, x: Tensor, axis) -> int:
    """One axis of x (a 0-d tensor takes 0 or -1, as in PyTorch), else an AxisError (a
    ValueError and an IndexError) naming the op and the shape."""
    n = x.ndim or 1
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -n <= axis < n:
        raise AxisError(f"{name}: axis {axis!r} is out of range for a tensor of shape "
                        f"{x.shape} (expected an int in [{-n}, {n - 1}])")
    return int(axis)


def softmax(x, dim: int = -1, *, axis: int | None = None, dtype=None) -> Tensor:
    """Softmax along dim (PyTorch's name; NumPy's axis= is an alias)."""
    x = as_tensor(x) if dtype is None else as_tensor(x).astype(dtype)
    dim = dim if axis is None else axis
    return apply(SOFTMAX, (x,), {"axis": _check_axis("softmax", x, dim)})


def log_softmax(x, dim: int = -1, *, axis: int | None = None, dtype=None) -> Tensor:
    x = as_tensor(x) if dtype is None else as_tensor(x).astype(dtype)
    dim = dim if axis is None else axis
    return apply(LOG_SOFTMAX, (x,), {"axis": _check_axis("log_softmax", x, dim)})


def softmax_cross_entropy(logits, target, reduction: str = "mean") -> Tensor:
    """Fused, stable cross-entropy of softmax(logits) (last axis = classes).

    `target` is class indices (shape logits.shape[:-1]) or class probabilities
    (logits' shape); the target gets no gradient. reduction: "mean", "sum" or "none".
    """
    logits = as_tensor(logits)
    t = target._data if isinstance(target, Tensor) else np.asarray(target)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"softmax_cross_entropy: reduction must be 'mean', 'sum' or 'none', "
                         f"got {reduction!r}")
    if logits.ndim == 0:
        raise ValueError("softmax_cross_entropy: logits need a class axis, got a 0-d tensor")
    if t.dtype.kind in "iu":
        if t.shape != logits.shape[:-1]:
            raise ValueError(f"softmax_cross_entropy: class-index target has shape {t.shape}, "
                             f"expected {logits.shape[:-1]} for logits of shape {logits.shape}")
        n_classes = logits.shape[-1]
        if t.size and (t.min() < 0 or t.max() >= n_classes):
            raise ValueError(f"softmax_cross_entropy: target indices must lie in "
                             f"[0, {n_classes}), got values in [{t.min()}, {t.max()}]")
    elif t.dtype.kind == "f":
        if t.shape != logits.shape:
            raise ValueError(f"softmax_cross_entropy: probability target has shape {t.shape}, "
                             f"expected the logits' shape {logits.shape}")
        t = t.astype(logits.dtype, copy=False)
    else:
        raise TypeError(f"softmax_cross_entropy: target must hold class indices (integers) "
                        f"or probabilities (floats), got dtype {t.dtype}")
    return apply(SOFTMAX_CROSS_ENTROPY, (logits,),
                 {"target": t, "reduction": reduction, "cache": {}})


def linear(x, weight, bias=None) -> Tensor:
    """x @ weight.T + bias in one node (weight is (out_features, in_features), as PyTorch)."""
    x, weight = as_tensor(x), as_tensor(weight)
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not fit weight of shape "
                         f"{weight.shape} (expected input (..., {weight.shape[-1]}))")
    if bias is None:
        return apply(LINEAR, (x, weight), {})
    bias = as_tensor(bias)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},)")
    return apply(LINEAR, (x, weight, bias), {})
