"""The forward math both faces share, in plain NumPy (of chainrule, it imports only the two
runtime policies, `threads` and `malloc`).

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

# Both faces compute through this module: the first import applies the BLAS threading
# policy (one thread unless overridden) and the allocator policy (a step's large arrays
# reused, not mapped afresh); chainrule.threads and chainrule.malloc say why.
threads.apply_policy()
malloc.apply_policy()

__all__ = [
    "as_float", "sum_to", "sigmoid", "softmax", "log_softmax", "log_softmax_and_softmax",
    "one_hot", "check_class_indices", "check_class_target", "nll_loss",
    "softmax_cross_entropy", "binary_cross_entropy_with_logits", "conv_out_size", "im2col",
    "col2im", "unfold", "fold", "max_pool", "max_pool_backward", "numerical_gradient",
    "matmul", "masked",
]

REDUCTIONS = ("mean", "sum", "none")


# ---- arrays and broadcasting --------------------------------------------------------------

def masked(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """np.where(keep, x, 0) bit for bit, for a float array x and a bool mask of its shape,
    without np.where's branches: x's bits times the mask (np.where takes about 4 ns an
    element on a random mask, this about 0.6). A nan or inf of x where keep is False gives
    +0.0, as np.where does, where x * keep would give nan."""
    bits = np.dtype(f"i{x.dtype.itemsize}")
    return np.multiply(x.view(bits), keep, dtype=bits).view(x.dtype)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b; a product of LARGE_PRODUCT multiply-adds or more (an evaluation on thousands of
    images) gets every core for its duration, the small ones of a training step one thread
    (chainrule.threads says why)."""
    sa, sb = np.shape(a), np.shape(b)
    if len(sa) < 2 or len(sb) < 2 or sa[-2] * sa[-1] * sb[-1] < threads.LARGE_PRODUCT:
        return np.matmul(a, b)
    with threads.large_product():
        return np.matmul(a, b)


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


# ---- convolution as a matrix product (the book's im2col) ----------------------------------

def conv_out_size(size: int, k: int, stride: int, pad: int) -> int:
    """Output length of a window of k sliding with `stride` over `size` padded by `pad`."""
    return (size + 2 * pad - k) // stride + 1


def _padded(x: np.ndarray, pad: int, value: float = 0.0) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=value) \
        if pad else x


def _window_offsets(img: np.ndarray, kh: int, kw: int, stride: int, oh: int, ow: int):
    """For each window position (i, j) in row-major order, the (N, C, OH, OW) basic-slice view
    of img holding that position of every window (writable when img is)."""
    for i in range(kh):
        for j in range(kw):
            yield img[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]


def unfold(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """(N, C, H, W) -> (N, C*kh*kw, OH*OW): im2col per image, transposed, in one copy.

    The layout of a convolution as a batched product: W (FN, C*kh*kw) @ unfold(x) gives
    (N, FN, OH*OW), the NCHW output with no transpose; the copy is made from a strided
    window view (sliding_window_view), so no Python loop runs over positions.
    """
    n, c, h, w = x.shape
    oh, ow = conv_out_size(h, kh, stride, pad), conv_out_size(w, kw, stride, pad)
    win = np.lib.stride_tricks.sliding_window_view(_padded(x, pad), (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride][:, :, :oh, :ow]      # (N, C, OH, OW, kh, kw)
    return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


def fold(cols: np.ndarray, x_shape: tuple, kh: int, kw: int, stride: int = 1,
         pad: int = 0) -> np.ndarray:
    """The transpose of unfold: (N, C*kh*kw, OH*OW) added back onto an (N, C, H, W) image,
    one contiguous block per window position (kh*kw adds, overlaps summed)."""
    n, c, h, w = x_shape
    oh, ow = conv_out_size(h, kh, stride, pad), conv_out_size(w, kw, stride, pad)
    col = np.ascontiguousarray(cols).reshape(n, c, kh * kw, oh, ow)
    img = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    for k, view in enumerate(_window_offsets(img, kh, kw, stride, oh, ow)):
        view += col[:, :, k]
    return img[:, :, pad:pad + h, pad:pad + w] if pad else img


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, pad: int = 0,
           pad_value: float = 0.0) -> np.ndarray:
    """(N, C, H, W) -> (N*OH*OW, C*kh*kw): one row per output position (receptive field)."""
    n, c, h, w = x.shape
    oh, ow = conv_out_size(h, kh, stride, pad), conv_out_size(w, kw, stride, pad)
    win = np.lib.stride_tricks.sliding_window_view(_padded(x, pad, pad_value), (kh, kw),
                                                   axis=(2, 3))
    win = win[:, :, ::stride, ::stride][:, :, :oh, :ow]      # (N, C, OH, OW, kh, kw)
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)


def col2im(cols: np.ndarray, x_shape: tuple, kh: int, kw: int, stride: int = 1,
           pad: int = 0) -> np.ndarray:
    """The transpose of im2col: add every row back onto the input positions it came from."""
    n, c, h, w = x_shape
    oh, ow = conv_out_size(h, kh, stride, pad), conv_out_size(w, kw, stride, pad)
    per_image = cols.reshape(n, oh * ow, c * kh * kw).transpose(0, 2, 1)
    return fold(per_image, x_shape, kh, kw, stride, pad)   # one transposing copy, then adds


def _first_lowest_bit(bits: int) -> np.ndarray:
    """LUT[code] = the lowest set bit of code (the first window position equal to the max),
    or `bits` when no bit is set (then the last position is the max)."""
    codes = np.arange(2 ** bits)
    low = (codes & -codes)
    return np.where(codes == 0, bits, np.log2(np.maximum(low, 1)).astype(np.int64)) \
        .astype(np.uint8)


_LUTS: dict[int, np.ndarray] = {}


def _max_pool_tiled(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """max_pool for k x k windows with stride k and no padding (the usual pooling layer),
    for NaN-free x: each window position's values copied once into a contiguous array, a
    running maximum along each window row (ties keep the left one), then down the rows
    (ties keep the upper one): the row-major first maximum, with no table lookup."""
    n, c, h, w = x.shape
    oh, ow = h // k, w // k
    r = x[:, :, :oh * k, :ow * k].reshape(n, c, oh, k, ow, k)
    out = arg = None
    for i in range(k):
        row = r[:, :, :, i, :, 0].copy()          # written below: never a view of x
        col = np.zeros(row.shape, np.uint8)
        for j in range(1, k):
            v = np.ascontiguousarray(r[:, :, :, i, :, j])
            col += (v > row).view(np.uint8) * (np.uint8(j) - col)   # j where v wins (mod 256)
            np.maximum(row, v, out=row)
        if out is None:
            out, arg = row, col
            continue
        arg += (row > out).view(np.uint8) * (np.uint8(i * k) + col - arg)   # i*k + col there
        np.maximum(out, row, out=out)
    return out, arg



def max_pool(x: np.ndarray, kh: int, kw: int, stride: int, pad: int = 0
             ) -> tuple[np.ndarray, np.ndarray]:
    """(the max of every kh x kw window, (N, C, OH, OW), and which window position held it,
    0 .. kh*kw-1 in row-major order): padding counts as -inf, and ties and NaN go to the
    first position, as np.argmax over the window's im2col row.

    The max is a running np.maximum over the kh*kw strided views of x, one per window
    position, with no copy of the windows. The argmax packs "view k equals the max" into
    one bit each and looks the first set bit up in a table: a few byte-wide passes.
    """
    n, c, h, w = x.shape
    if pad == 0 and 1 < kh == kw == stride <= h and kw <= w and 16 >= kh * kw:
        out, arg = _max_pool_tiled(x, kh)
        if not np.isnan(out).any():
            return out, arg
    oh, ow = conv_out_size(h, kh, stride, pad), conv_out_size(w, kw, stride, pad)
    views = list(_window_offsets(_padded(x, pad, -np.inf), kh, kw, stride, oh, ow))
    out = np.maximum(views[0], views[1]) if len(views) > 1 else views[0].copy()
    for view in views[2:]:
        np.maximum(out, view, out=out)
    bits = len(views) - 1
    if bits > 16 or np.isnan(out).any():  # a large window, or NaN: np.argmax, row by row
        rows = im2col(x.reshape(n * c, 1, h, w), kh, kw, stride, pad, pad_value=-np.inf)
        arg = rows.argmax(axis=1)
        return rows[np.arange(rows.shape[0]), arg].reshape(out.shape), \
            arg.reshape(out.shape).astype(np.intp if bits > 16 else np.uint8)
    if bits == 0:  # a 1x1 window: its one position is the max
        return out, np.zeros(out.shape, np.uint8)
    code = np.equal(views[0], out).view(np.uint8).astype(np.uint8 if bits <= 8 else np.uint16)
    for k in range(1, bits):
        code |= np.equal(views[k], out).view(np.uint8).astype(code.dtype, copy=False) << k
    if bits not in _LUTS:
        _LUTS[bits] = _first_lowest_bit(bits)
    return out, _LUTS[bits].take(code)


def max_pool_backward(dout: np.ndarray, arg: np.ndarray, x_shape: tuple, kh: int, kw: int,
                      stride: int, pad: int = 0) -> np.ndarray:
    """The gradient of max_pool: each dout element goes to the input position that held its
    window's max (`arg`), summed where windows overlap; (N, C, H, W)."""
    n, c, h, w = x_shape
    oh, ow = arg.shape[2:]
    # disjoint windows and a finite dout: dout * (arg == k) is exact and writes each input
    # position once; otherwise route with np.where (0 * inf would be nan) and add overlaps
    fast = stride >= kh and stride >= kw and bool(np.isfinite(dout).all())
    tiled = fast and kh == kw == stride and oh * stride == h + 2 * pad \
        and ow * stride == w + 2 * pad          # the windows cover every position once
    dx = (np.empty if tiled else np.zeros)((n, c, h + 2 * pad, w + 2 * pad), dtype=dout.dtype)
    for k, view in enumerate(_window_offsets(dx, kh, kw, stride, oh, ow)):
        if fast:
            np.multiply(dout, arg == k, out=view)
        else:
            view += np.where(arg == k, dout, 0)
    return dx[:, :, pad:pad + h, pad:pad + w] if pad else dx


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
