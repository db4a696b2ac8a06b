"""Max pooling as one node, with PyTorch's gradient: each window's gradient goes to ONE
input position, the window's first maximum (row-major), never shared among ties (and, as
PyTorch, a window's last NaN, or its first position inside the input if all it holds is
-inf); padding counts as -inf. The forward and its backward are the kernels the book's face uses
(`numerics.max_pool`, `numerics.max_pool_backward`).

Two linear maps carry the derivatives, each the other's transpose: `scatter` (a window's
value onto its argmax position, summed where windows overlap: the VJP) and `gather` (the
value at each window's argmax: the JVP). Both are primitives, so gradients of any order
work: the argmax is fixed once the forward has run, as in PyTorch.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import numerics
from chainrule.engine import Primitive, Tensor
from chainrule.engine.graph import Notation


def _as_pytorch_argmax(x, out, arg, kernel: int, stride: int, pad: int) -> np.ndarray:
    """numerics.max_pool's argmax with PyTorch's two exceptions to "the first maximum": a
    window holding NaN routes to its last NaN, and a window of -inf only (possible with
    padding) to its first position inside the input, not to the padding. Both are rare, so
    they are looked for on the output alone and fixed on a copy."""
    if out.dtype.kind != "f":
        return arg
    nan = np.isnan(out)
    lost = np.isneginf(out) if pad else np.zeros(out.shape, bool)
    if not (nan.any() or lost.any()):
        return arg
    arg = arg.copy()
    h, w = x.shape[2:]
    oh, ow = out.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    top, left = np.arange(oh).reshape(oh, 1) * stride - pad, np.arange(ow) * stride - pad
    for k in range(kernel * kernel):             # NaN: the last one written wins
        i, j = divmod(k, kernel)
        view = xp[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
        np.copyto(arg, k, where=np.isnan(view), casting="unsafe")
    for k in reversed(range(kernel * kernel)):   # -inf only: the first inside wins
        i, j = divmod(k, kernel)
        inside = (top + i >= 0) & (top + i < h) & (left + j >= 0) & (left + j < w)
        np.copyto(arg, k, where=lost & inside, casting="unsafe")
    return arg


def _max_pool2d(x, *, kernel: int, stride: int, pad: int, cache: dict | None = None):
    """The max of every kernel x kernel window; the window positions of the maxima are kept
    for the derivatives (PyTorch's choice of position, see _as_pytorch_argmax)."""
    out, arg = numerics.max_pool(x, kernel, kernel, stride, pad)
    if cache is not None:
        cache["arg"] = _as_pytorch_argmax(x, out, arg, kernel, stride, pad)
    return out


def _scatter(g, *, arg, x_shape: tuple, kernel: int, stride: int, pad: int):
    """g (N, C, OH, OW) onto (N, C, H, W): each value at its window's argmax position."""
    return numerics.max_pool_backward(np.asarray(g), arg, tuple(x_shape), kernel, kernel,
                                      stride, pad)


def _gather(t, *, arg, x_shape: tuple, kernel: int, stride: int, pad: int):
    """t (N, C, H, W) read at each window's argmax position: (N, C, OH, OW)."""
    n, c, h, w = t.shape
    oh, ow = arg.shape[2:]
    if pad:
        t = np.pad(t, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = arg.astype(np.intp)
    rows = np.arange(oh).reshape(oh, 1) * stride + k // kernel
    cols = np.arange(ow) * stride + k % kernel
    flat = (rows * t.shape[3] + cols).reshape(n, c, oh * ow)
    t = t.reshape(n, c, t.shape[2] * t.shape[3])   # explicit sizes: an empty batch has no -1
    return np.take_along_axis(t, flat, axis=2).reshape(n, c, oh, ow)


def _arg_of(x, kernel: int, stride: int, pad: int, cache: dict | None) -> np.ndarray:
    """The argmax the forward kept, or (if a reader cleared it) the same one recomputed."""
    arg = cache.get("arg") if cache else None
    if arg is None:
        recomputed: dict = {}
        _max_pool2d(x.numpy() if isinstance(x, Tensor) else np.asarray(x), kernel=kernel,
                    stride=stride, pad=pad, cache=recomputed)
        arg = recomputed["arg"]
    return arg


def _routing(x, kernel, stride, pad, cache) -> dict:
    return {"arg": _arg_of(x, kernel, stride, pad, cache), "x_shape": tuple(x.shape),
            "kernel": kernel, "stride": stride, "pad": pad}


MAX_POOL2D = Primitive(
    "max_pool2d", _max_pool2d,
    vjps=(lambda g, out, x, *, kernel, stride, pad, cache=None:
          MAX_POOL2D_SCATTER(g, **_routing(x, kernel, stride, pad, cache)),),
    jvps=(lambda t, out, x, *, kernel, stride, pad, cache=None:
          MAX_POOL2D_GATHER(t, **_routing(x, kernel, stride, pad, cache)),),
    notation=Notation("max pool", (
        "1 at each window's first maximum, 0 elsewhere (g routed there), {shapes}",)))

MAX_POOL2D_SCATTER = Primitive(
    "max_pool2d_scatter", _scatter,
    vjps=(lambda gg, out, g, **routing: MAX_POOL2D_GATHER(gg, **routing),),
    jvps=(lambda t, out, g, **routing: MAX_POOL2D_SCATTER(t, **routing),),
    notation=Notation("scatter", (
        "each value sent to its window's argmax (gather is its transpose), {shapes}",)))

MAX_POOL2D_GATHER = Primitive(
    "max_pool2d_gather", _gather,
    vjps=(lambda gg, out, t, **routing: MAX_POOL2D_SCATTER(gg, **routing),),
    jvps=(lambda t2, out, t, **routing: MAX_POOL2D_GATHER(t2, **routing),),
    notation=Notation("gather", (
        "the value at each window's argmax (scatter is its transpose), {shapes}",)))


def max_pool2d(x: Any, kernel: int, stride: int, pad: int = 0) -> Any:
    """The max of every kernel x kernel window of (N, C, H, W) x, as one node (arguments are
    the caller's to check: chainrule.nn.functional.max_pool2d does)."""
    return MAX_POOL2D(x, kernel=int(kernel), stride=int(stride), pad=int(pad), cache={})
