"""The forward math both faces share, in plain NumPy (of chainrule, it imports only the two
runtime policies, `threads` and `malloc`). Its parts: `parallel` (kernels split over idle
cores) and `windows` (convolution and pooling); this module holds the rest.

The book's layers and the autograd engine compute the same forward values from these
kernels, so the two faces agree by construction. Every kernel is stable on hard inputs:
logits of +-1e4, sigmoid(+-1000) and BCE of confident, wrong predictions give finite
values, equal to PyTorch's, without NumPy warnings. Float dtypes are kept (float32 in,
float32 out); targets are cast to the logits' dtype, never the other way round.

Classes are on the last axis. A class target is either integer class indices, of shape
`logits.shape[:-1]`, or per-class probabilities (one-hot labels included, of any numeric
dtype), of the logits' own shape; `check_class_target` tells them apart by shape.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

import chainrule.malloc as malloc
import chainrule.threads as threads
from chainrule.numerics.parallel import elementwise, masked, matmul, parallel
from chainrule.numerics.windows import (col2im, conv2d, conv2d_input_grad, conv2d_weight_grad,
                                        conv_out_size, fold, im2col, max_pool,
                                        max_pool_backward, unfold)

# Both faces compute through this package: the first import applies the BLAS threading
# policy (one thread unless overridden) and the allocator policy (a step's large arrays
# reused, not mapped afresh); chainrule.threads and chainrule.malloc say why.
threads.apply_policy()
malloc.apply_policy()

__all__ = [
    "as_float", "sum_to", "sigmoid", "softmax", "log_softmax", "log_softmax_and_softmax",
    "one_hot", "check_class_indices", "check_class_target", "nll_loss",
    "softmax_cross_entropy", "binary_cross_entropy_with_logits", "conv_out_size", "im2col",
    "col2im", "unfold", "fold", "max_pool", "max_pool_backward", "numerical_gradient",
    "matmul", "masked", "parallel", "elementwise", "conv2d", "conv2d_input_grad",
    "conv2d_weight_grad",
]

REDUCTIONS = ("mean", "sum", "none")


# ---- arrays and broadcasting --------------------------------------------------------------

def as_float(x) -> np.ndarray:
    """x as an ndarray of floats: float dtypes are kept, anything else becomes float64."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def sum_to(x, shape: tuple) -> np.ndarray:
    """Sum a broadcast array back down to `shape` (x itself when it already has that shape)."""
    x = np.asarray(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, x.shape[lead:])):
        raise ValueError(f"sum_to: an array of shape {x.shape} is not a broadcast of shape "
                         f"{shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    return x.sum(axis=axes, keepdims=True).reshape(shape)


# ---- activations and normalisation --------------------------------------------------------

def sigmoid(x) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _shifted_exp(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x - max, exp(x - max), its sum) along axis: the one helper behind both softmaxes."""
    shifted = x - x.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return shifted, e, e.sum(axis=axis, keepdims=True)


def softmax(x, axis: int = -1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along axis, shifted by the max so it never overflows."""
    x = as_float(x)
    if x.size == 0:  # nothing to normalise: empty, as PyTorch
        return np.empty_like(x)
    _, e, total = _shifted_exp(x, axis)
    e /= total
    return e


def log_softmax(x, axis: int = -1) -> np.ndarray:
    """x - logsumexp(x) along axis: exact and finite for any finite logits (no log(0))."""
    x = as_float(x)
    if x.size == 0:
        return np.empty_like(x)
    shifted, _, total = _shifted_exp(x, axis)
    shifted -= np.log(total)
    return shifted


def log_softmax_and_softmax(x, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """(log_softmax(x), softmax(x)) from one shifted exponent, as a cross-entropy needs both."""
    x = as_float(x)
    if x.size == 0:
        return np.empty_like(x), np.empty_like(x)
    shifted, e, total = _shifted_exp(x, axis)
    e /= total
    shifted -= np.log(total)
    return shifted, e


# ---- class targets ------------------------------------------------------------------------

def check_class_indices(name: str, labels, num_classes: int) -> np.ndarray:
    """labels as an integer array, or a ValueError naming `name` unless all lie in [0, C)."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{name}: class-index labels must be integers in [0, {num_classes}), "
                         f"got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name}: class-index labels must lie in [0, {num_classes}), got "
                         f"values in [{labels.min()}, {labels.max()}]")
    return labels


def check_class_target(name: str, logits, target, one_hot: bool = False) -> np.ndarray:
    """Indices (checked; one-hot rows if asked) or probabilities (logits' dtype), else an error."""
    logits, target = np.asarray(logits), np.asarray(target)
    if logits.ndim == 0:
        raise ValueError(f"{name}: logits need a class axis, got a scalar")
    if target.shape == logits.shape:
        if target.dtype.kind not in "biuf":
            raise TypeError(f"{name}: a probability (one-hot) target must be numeric, "
                            f"got dtype {target.dtype}")
        return target.astype(logits.dtype, copy=False)
    if target.shape == logits.shape[:-1]:
        target = check_class_indices(name, target, logits.shape[-1])
        return _one_hot_rows(target, logits.shape[-1], logits.dtype) if one_hot else target
    raise ValueError(f"{name}: labels of shape {target.shape} fit neither one-hot "
                     f"probabilities (shape {logits.shape}) nor class indices "
                     f"(shape {logits.shape[:-1]}) for logits of shape {logits.shape}")


def _one_hot_rows(labels: np.ndarray, num_classes: int, dtype) -> np.ndarray:
    """Checked labels as rows of the identity (no second check)."""
    return np.eye(num_classes, dtype=dtype).take(labels, axis=0)


def one_hot(labels, num_classes: int, dtype=np.float64) -> np.ndarray:
    """Class indices of shape S as one-hot rows of shape S + (num_classes,) in `dtype`."""
    labels = check_class_indices("one_hot", labels, num_classes)
    return _one_hot_rows(labels, num_classes, dtype)


# ---- losses -------------------------------------------------------------------------------

def _check_reduction(name: str, reduction: str) -> None:
    """A ValueError naming `name` unless reduction is 'mean', 'sum' or 'none'."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _mean(total, count: int):
    """total / count in total's dtype; the mean of nothing is nan, quietly (as PyTorch)."""
    dtype = np.asarray(total).dtype.type
    return total / dtype(count) if count else dtype(np.nan)


def nll_loss(log_probs, target, reduction: str = "mean"):
    """-log_probs at the target classes (indices) or -sum(target * log_probs) (probabilities)."""
    _check_reduction("nll_loss", reduction)
    log_probs, target = np.asarray(log_probs), np.asarray(target)
    if target.shape == log_probs.shape and reduction != "none":
        total = -np.vdot(target, log_probs)  # one dot product, no per-sample array
        samples = 1
        for n in target.shape[:-1]:
            samples *= n
        return total if reduction == "sum" else _mean(total, samples)
    if target.shape == log_probs.shape:
        losses = -(target * log_probs).sum(axis=-1)
    else:
        rows = log_probs.reshape(-1, log_probs.shape[-1])
        losses = -rows[np.arange(rows.shape[0]), target.reshape(-1)].reshape(target.shape)
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else _mean(losses.sum(), losses.size)


def softmax_cross_entropy(logits, target, reduction: str = "mean"):
    """Cross-entropy of softmax(logits) against indices or probabilities, via log_softmax."""
    logits = as_float(logits)
    target = check_class_target("softmax_cross_entropy", logits, target)
    return nll_loss(log_softmax(logits), target, reduction)


def binary_cross_entropy_with_logits(x, target, reduction: str = "mean"):
    """BCE of sigmoid(x) from logits: max(x, 0) - x*t + log(1 + exp(-|x|)), finite for any x."""
    x = as_float(x)
    target = np.asarray(target)
    if target.shape != x.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target of shape {target.shape} "
                         f"must have the logits' shape {x.shape}")
    target = target.astype(x.dtype, copy=False)
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    losses = np.maximum(x, 0) - x * target + np.log1p(np.exp(-np.abs(x)))
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else _mean(losses.sum(), losses.size)


# ---- the numerical-gradient oracle --------------------------------------------------------

def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       eps: float = 1e-4) -> np.ndarray:
    """The book's central difference (f(x+h) - f(x-h)) / 2h, one element of x at a time.

    `f(x)` returns a scalar; x is perturbed in place (so f may read it through an alias, as
    the book's `lambda W: net.loss(x, t)` does) and every element is restored afterwards,
    even if f raises. The difference is taken in float64 over the step actually stored in x,
    so a float32 x (where x + 1e-4 is rounded) still gives the right slope. The result has
    x's dtype.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient: x must be a float ndarray that f reads, got "
                        f"{type(x).__name__} {getattr(x, 'dtype', '')}".rstrip())
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        original = x[idx].copy()
        try:
            x[idx] = float(original) + eps
            x_plus, f_plus = float(x[idx]), float(f(x))
            x[idx] = float(original) - eps
            x_minus, f_minus = float(x[idx]), float(f(x))
        finally:
            x[idx] = original
        grad[idx] = (f_plus - f_minus) / (x_plus - x_minus)
    return grad.astype(x.dtype, copy=False)
