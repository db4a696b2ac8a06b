"""nn.functional: activations, linear, dropout, batch norm and losses as functions
(PyTorch's names and conventions: class axis 1, `reduction="mean"|"sum"|"none"`).

The losses check their arguments here and apply the fused primitives of `chainrule.ops`
(the binary cross-entropies in `chainrule.ops.losses`, PyTorch's clamping included; the
softmax cross-entropy in `chainrule.ops.nn`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import ops
from chainrule.engine import Tensor, apply, as_tensor
from chainrule.ops.losses import BINARY_CROSS_ENTROPY, BINARY_CROSS_ENTROPY_WITH_LOGITS, MSE_LOSS
from chainrule.ops.operands import operands
from chainrule.nn.conv import avg_pool2d, conv2d, max_pool2d  # noqa: F401  (part of F)

try:
    from numpy.exceptions import AxisError
except ImportError:  # NumPy < 1.25
    from numpy import AxisError  # type: ignore[attr-defined,no-redef]

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "flatten",
           "dropout", "batch_norm", "mse_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "conv2d", "max_pool2d",
           "avg_pool2d", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _const(name: str, what: str, value: Any, like: Tensor, shape: tuple | None = None):
    """A constant operand (target, weight) as an array of the input's dtype, checked to
    broadcast to the input's shape. Constants get no gradient."""
    if value is None:
        return None
    arr = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: {what} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(like.dtype, copy=False)
    shape = like.shape if shape is None else shape
    try:
        if np.broadcast_shapes(arr.shape, like.shape) != like.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{name}: {what} of shape {arr.shape} does not broadcast to the "
                         f"input's shape {like.shape}") from None
    return arr


def binary_cross_entropy(input: Any, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """-(y log p + (1-y) log(1-p)) with each log clamped at -100 (PyTorch's BCELoss).
    The target (and weight) get no gradient."""
    _check_reduction("binary_cross_entropy", reduction)
    p = as_tensor(input)
    if p.dtype.kind != "f":
        raise TypeError(f"binary_cross_entropy: input must be floating point, got {p.dtype}")
    y = _const("binary_cross_entropy", "target", target, p)
    if y.shape != p.shape:
        raise ValueError(f"binary_cross_entropy: target shape {y.shape} must equal the "
                         f"input shape {p.shape}")
    if p.numel() and not (np.all(p.numpy() >= 0) and np.all(p.numpy() <= 1)):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 "
                         "and 1 (apply a sigmoid first, or use binary_cross_entropy_with_logits)")
    w = _const("binary_cross_entropy", "weight", weight, p)
    return apply(BINARY_CROSS_ENTROPY, (p,),
                 {"target": y, "weight": w, "reduction": reduction})


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """BCE of sigmoid(input) computed from the logits, stable for any logit; `pos_weight`
    multiplies the positive term (PyTorch's BCEWithLogitsLoss). Target gets no gradient."""
    name = "binary_cross_entropy_with_logits"
    _check_reduction(name, reduction)
    x = as_tensor(input)
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be floating point, got {x.dtype}")
    y = _const(name, "target", target, x)
    if y.shape != x.shape:
        raise ValueError(f"{name}: target shape {y.shape} must equal the input shape {x.shape}")
    return apply(BINARY_CROSS_ENTROPY_WITH_LOGITS, (x,),
                 {"target": y, "weight": _const(name, "weight", weight, x),
                  "pos_weight": _const(name, "pos_weight", pos_weight, x),
                  "reduction": reduction})


def nll_loss(input: Any, target: Any, weight: Any = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """The negative log-likelihood of class indices under log-probabilities (N, C), (C,) or
    (N, C, d...) — classes on axis 1: -input[i, target[i]] * weight[target[i]], averaged
    with the weights of the counted targets (ignore_index ones are left out), as PyTorch."""
    _check_reduction("nll_loss", reduction)
    if size_average is not None or reduce is not None:
        raise TypeError("nll_loss: size_average and reduce are deprecated in PyTorch; use "
                        "reduction='mean' | 'sum' | 'none'")
    x = as_tensor(input)
    t = np.asarray(target.numpy() if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold class indices (integers), got {t.dtype}")
    if x.ndim == 1:
        x, t = x.reshape(1, -1), t.reshape(1)
    elif x.ndim > 2:  # (N, C, d...) -> (N*d..., C)
        x = x.transpose(tuple([0] + list(range(2, x.ndim)) + [1])).reshape(-1, x.shape[1])
        t = t.reshape(-1)
    if x.ndim != 2 or t.shape != (x.shape[0],):
        raise ValueError(f"nll_loss: target of shape {np.shape(target)} does not match input "
                         f"of shape {tuple(as_tensor(input).shape)} (expected (N,) for (N, C))")
    c = x.shape[1]
    keep = t != ignore_index
    if np.any((t[keep] < 0) | (t[keep] >= c)):
        raise IndexError(f"nll_loss: target {t[keep].min()}..{t[keep].max()} is out of bounds "
                         f"for {c} classes")
    safe = np.where(keep, t, 0)
    w = np.ones(c, x.dtype) if weight is None else np.asarray(
        weight.numpy() if isinstance(weight, Tensor) else weight, dtype=x.dtype)
    wt = (w[safe] * keep).astype(x.dtype)
    losses = -x[np.arange(x.shape[0]), safe] * wt
    if reduction == "none":
        out_shape = np.shape(target) if as_tensor(input).ndim != 1 else ()
        return losses.reshape(out_shape)
    total = losses.sum()
    return total if reduction == "sum" else total / x.dtype.type(wt.sum())


def cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None,
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (N, C) or (C,) or (N, C, d...) — classes on axis 1 as
    in PyTorch — against class indices or class probabilities. Fused and stable; with a
    class weight or ignored targets, log_softmax then nll_loss."""
    _check_reduction("cross_entropy", reduction)
    if isinstance(weight, str):  # the old positional reduction
        weight, reduction = None, weight
    t_kind = np.asarray(target.numpy() if isinstance(target, Tensor) else target).dtype.kind
    if t_kind in "iu" and not label_smoothing and (
            weight is not None or np.any(np.asarray(
                target.numpy() if isinstance(target, Tensor) else target) == ignore_index)):
        x = as_tensor(input)
        return nll_loss(ops.log_softmax(x, 1 if x.ndim > 1 else 0), target, weight,
                        ignore_index=ignore_index, reduction=reduction)
    if weight is not None:
        raise NotImplementedError("cross_entropy: weight= with label_smoothing or class "
                                  "probabilities is not supported yet")
    x = as_tensor(input)
    in_shape = x.shape
    t = target.numpy() if isinstance(target, Tensor) else np.asarray(target)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], "
                         f"got {label_smoothing}")
    if x.ndim > 2:  # (N, C, d...) -> (N, d..., C): the fused op wants classes last
        axes = (0,) + tuple(range(2, x.ndim)) + (1,)
        x = x.transpose(*axes)
        if t.dtype.kind == "f":
            t = np.transpose(t, axes)
    if label_smoothing and x.ndim >= 1:
        c = x.shape[-1]
        if t.dtype.kind in "iu":
            if t.shape != x.shape[:-1]:
                raise ValueError(f"cross_entropy: class-index target has shape {t.shape}, "
                                 f"expected {x.shape[:-1]}")
            if t.size and (t.min() < 0 or t.max() >= c):  # a -1 would pick the last class
                raise ValueError(f"cross_entropy: target indices must lie in [0, {c}), got "
                                 f"values in [{t.min()}, {t.max()}] (input shape {in_shape})")
            onehot = np.zeros(x.shape, dtype=x.dtype)
            np.put_along_axis(onehot, t[..., None].astype(np.intp), 1, axis=-1)
            t = onehot
        t = t * (1 - label_smoothing) + label_smoothing / c
    return ops.softmax_cross_entropy(x, t, reduction)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """(input - target)^2, reduced; both sides get gradients (as PyTorch)."""
    _check_reduction("mse_loss", reduction)
    a = as_tensor(input)
    b = target if isinstance(target, Tensor) else as_tensor(np.asarray(target, dtype=a.dtype))
    if a.shape != b.shape:
        raise ValueError(f"mse_loss: input shape {a.shape} and target shape {b.shape} differ "
                         f"(PyTorch would broadcast with a warning; reshape one of them)")
    if a.dtype != b.dtype:
        a, b = operands(a, b)
    return apply(MSE_LOSS, (a, b), {"reduction": reduction})


# ---- activations and layers ---------------------------------------------------------------
def relu(x: Any, inplace: bool = False) -> Tensor:
    return ops.relu(x)


def sigmoid(x: Any) -> Tensor:
    return ops.sigmoid(x)


def tanh(x: Any) -> Tensor:
    return ops.tanh(x)


def softmax(x: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None) -> Tensor:
    x = as_tensor(x) if dtype is None else as_tensor(x).to(dtype)
    return ops.softmax(x, _implicit_dim(x) if dim is None else dim)


def log_softmax(x: Any, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    x = as_tensor(x) if dtype is None else as_tensor(x).to(dtype)
    return ops.log_softmax(x, _implicit_dim(x) if dim is None else dim)


def _implicit_dim(x: Tensor) -> int:
    """PyTorch's dim when none is given: 0 for 0-, 1- and 3-d input, else 1."""
    return 0 if x.ndim in (0, 1, 3) else 1


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weight.T + bias (weight is (out_features, in_features))."""
    return ops.linear(x, weight, bias)


def flatten(x: Any, start_dim: int = 1, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one (a 0-d tensor takes 0 or -1 and becomes (1,))."""
    x = as_tensor(x)
    nd = x.ndim
    n = nd or 1
    for what, d in (("start_dim", start_dim), ("end_dim", end_dim)):
        if not -n <= d < n:
            raise AxisError(f"flatten: {what} {d} is out of range for a tensor of shape "
                            f"{x.shape} (expected a dim in [{-n}, {n - 1}])")
    if nd == 0:
        return x.reshape((1,))
    s, e = start_dim % nd, end_dim % nd
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for a tensor of shape {x.shape}")
    shape = x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:]
    return x.reshape(shape)


def dropout(x: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: np.random.Generator | None = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted
    dropout, so eval needs no rescaling); the identity when not training or p == 0."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, got {p}")
    x = as_tensor(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * np.zeros(x.shape, dtype=x.dtype)
    if generator is None:
        from chainrule.random import get_rng
        generator = get_rng()
    keep = generator.random(x.shape, dtype=np.float32) >= p
    mask = keep.astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return x * mask


def batch_norm(x: Any, running_mean: np.ndarray | None, running_var: np.ndarray | None,
               weight: Any = None, bias: Any = None, training: bool = False,
               momentum: float | None = 0.1, eps: float = 1e-5,
               num_batches_tracked: np.ndarray | None = None) -> Tensor:
    """Normalise over the batch (and length) axes of (N, C) or (N, C, L) input.

    Training (or no running stats): batch mean and biased variance normalise, and the
    running stats (arrays, updated in place) move by PyTorch's rule
    running = (1 - momentum) * running + momentum * batch, with the UNBIASED variance;
    momentum=None gives the cumulative average. Eval: the running stats normalise."""
    x = as_tensor(x)
    if x.ndim not in (2, 3):
        raise ValueError(f"batch_norm: expected 2-d (N, C) or 3-d (N, C, L) input, "
                         f"got shape {x.shape}")
    for what, v in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        dtype = getattr(v, "dtype", None)
        if v is not None and dtype is not None and dtype != x.dtype:
            raise TypeError(f"batch_norm: {what} has dtype {dtype} but the input has dtype "
                            f"{x.dtype}; convert one of them (PyTorch refuses mixed dtypes too)")
        shape = getattr(v, "shape", None)
        if v is not None and shape is not None and tuple(shape) != (x.shape[1],):
            raise ValueError(f"batch_norm: {what} has shape {tuple(shape)}, expected "
                             f"({x.shape[1]},) for input of shape {x.shape} (one per channel)")
    axes = (0,) if x.ndim == 2 else (0, 2)
    bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    use_batch = training or running_mean is None
    if use_batch:
        n = x.numel() // x.shape[1]
        if training and n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
        y = xc / (var + eps).sqrt()
        if training and running_mean is not None:
            if num_batches_tracked is not None:
                num_batches_tracked += 1
            m = (1.0 / float(num_batches_tracked)) if momentum is None else momentum
            batch_var = var.numpy().reshape(-1) * (n / (n - 1))
            running_mean *= 1 - m
            running_mean += m * mean.numpy().reshape(-1)
            running_var *= 1 - m
            running_var += m * batch_var.astype(running_var.dtype, copy=False)
    else:
        rm = running_mean.reshape(bshape)
        rv = running_var.reshape(bshape)
        y = (x - rm) * (1.0 / np.sqrt(rv + eps)).astype(x.dtype, copy=False)
    if weight is not None:
        y = y * as_tensor(weight).reshape(bshape)
    if bias is not None:
        y = y + as_tensor(bias).reshape(bshape)
    return y




_MORE = {"leaky_relu", "elu", "silu", "softplus", "layer_norm", "l1_loss", "smooth_l1_loss"}


def __getattr__(name: str) -> Any:
    """The functions defined beside their modules (chainrule.nn.extra_layers), and one_hot."""
    if name in _MORE:
        from chainrule.nn import extra_layers
        return getattr(extra_layers, name)
    if name == "one_hot":
        return ops.torch_more.one_hot
    raise AttributeError(f"module 'chainrule.nn.functional' has no attribute {name!r} (if it "
                         f"is a PyTorch function, chainrule does not support it yet)")
