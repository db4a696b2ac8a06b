"""Max pooling as one node, with PyTorch's gradient: each window's gradient goes to ONE
input position, the window's first maximum (row-major), never shared among ties; padding
counts as -inf. The forward and its backward are the kernels the book's face uses
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


def _max_pool2d(x, *, kernel: int, stride: int, pad: int, cache: dict | None = None):
    """The max of every kernel x kernel window; the window positions of the maxima are kept
    for the derivatives."""
    out, arg = numerics.max_pool(x, kernel, kernel, stride, pad)
    if cache is not None:
        cache["arg"] = arg
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
        x = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
        arg = numerics.max_pool(x, kernel, kernel, stride, pad)[1]
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
