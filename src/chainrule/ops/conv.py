"""Convolution primitives. conv2d is one node (a batched product over the unfolded input),
with the transposed convolution and the weight correlation as its gradient primitives;
im2col and col2im are the generic linear maps (each the other's VJP) that average pooling
is built from. The forward kernels are the ones the book's face uses (chainrule.numerics)."""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import numerics
from chainrule.engine import Primitive, Tensor
from chainrule.engine.graph import Notation

# The padding value only decides what padded positions hold; they have no input behind
# them, so the derivative is the same linear map either way.
IM2COL = Primitive(
    "im2col", numerics.im2col,
    vjps=(lambda g, out, x, kh, kw, stride, pad, pad_value:
          COL2IM(g, x_shape=x.shape, kh=kh, kw=kw, stride=stride, pad=pad),),
    jvps=(lambda t, out, x, kh, kw, stride, pad, pad_value:
          IM2COL(t, kh=kh, kw=kw, stride=stride, pad=pad, pad_value=0.0),),
    notation=Notation.generic("im2col"))

COL2IM = Primitive(
    "col2im", numerics.col2im,
    vjps=(lambda g, out, cols, x_shape, kh, kw, stride, pad:
          IM2COL(g, kh=kh, kw=kw, stride=stride, pad=pad, pad_value=0.0),),
    jvps=(lambda t, out, cols, x_shape, kh, kw, stride, pad:
          COL2IM(t, x_shape=x_shape, kh=kh, kw=kw, stride=stride, pad=pad),),
    notation=Notation.generic("col2im"))


def im2col(x: Any, kh: int, kw: int, stride: int = 1, pad: int = 0,
           pad_value: float = 0.0) -> Any:
    """(N, C, H, W) -> (N*OH*OW, C*kh*kw), one row per output position: an array for an
    array, a recorded Tensor for a Tensor."""
    return IM2COL(x, kh=kh, kw=kw, stride=stride, pad=pad, pad_value=pad_value)


def col2im(cols: Any, x_shape: tuple, kh: int, kw: int, stride: int = 1, pad: int = 0) -> Any:
    """The transpose of im2col: every row added back onto the positions it came from."""
    return COL2IM(cols, x_shape=tuple(x_shape), kh=kh, kw=kw, stride=stride, pad=pad)



# ---- conv2d: one node per convolution ------------------------------------------------------
# A convolution is bilinear in (x, W): out = W_rows @ unfold(x) per image (+ b). Its two
# partial VJPs are bilinear too, so they are primitives of their own (the transposed
# convolution, giving dx, and the weight correlation, giving dW); each one's VJPs and JVPs
# are again these three maps, which is what makes gradients of any order work.

def _out_hw(x_shape: tuple, kh: int, kw: int, stride: int, pad: int) -> tuple:
    return (numerics.conv_out_size(x_shape[2], kh, stride, pad),
            numerics.conv_out_size(x_shape[3], kw, stride, pad))


def _conv2d(x, w, b=None, *, stride: int, pad: int, cache: dict | None = None):
    """(N, C, H, W) ⋆ (O, C, kh, kw) (+ b) -> (N, O, OH, OW): one batched product over the
    unfolded input, already in NCHW order; the unfolded input is kept for dW."""
    o, c, kh, kw = w.shape
    out, cols = numerics.conv2d(x, w.reshape(o, c * kh * kw), b, kh, kw, stride, pad)
    if cache is not None:
        cache["cols"] = cols                                    # (N, C*kh*kw, OH*OW)
    return out.reshape((x.shape[0], o) + _out_hw(x.shape, kh, kw, stride, pad))


def _conv2d_input_grad(g, w, *, x_shape: tuple, stride: int, pad: int):
    """The transposed convolution: g (N, O, OH, OW) through W back onto (N, C, H, W)."""
    o, c, kh, kw = w.shape
    n, _, oh, ow = g.shape           # explicit sizes: -1 is ambiguous for an empty batch
    return numerics.conv2d_input_grad(np.reshape(g, (n, o, oh * ow)),
                                      w.reshape(o, c * kh * kw), x_shape, kh, kw, stride, pad)


def _weight_from_cols(g, cols, w_shape: tuple):
    """sum over images and positions of g[n, o, p] * cols[n, k, p], in W's shape."""
    n, o, oh, ow = g.shape
    return numerics.conv2d_weight_grad(np.reshape(g, (n, o, oh * ow)), cols).reshape(w_shape)


def _conv2d_weight_grad(g, x, *, w_shape: tuple, stride: int, pad: int):
    """The correlation of g (N, O, OH, OW) with the input x: dW of shape (O, C, kh, kw)."""
    return _weight_from_cols(g, numerics.unfold(x, w_shape[2], w_shape[3], stride, pad),
                             tuple(w_shape))


def _recorded(*values) -> bool:
    return any(isinstance(v, Tensor) for v in values)


def _conv_vjp_w(g, out, x, w, b=None, *, stride, pad, cache=None):
    """dW: on arrays from the unfolded input the forward kept; on Tensors (a backward that
    is itself differentiated) through the weight-correlation primitive."""
    if _recorded(g, x, w):
        return CONV2D_WEIGHT_GRAD(g, x, w_shape=tuple(w.shape), stride=stride, pad=pad)
    cols = cache.get("cols") if cache else None
    if cols is None:
        cols = numerics.unfold(x, w.shape[2], w.shape[3], stride, pad)
    return _weight_from_cols(g, cols, w.shape)


CONV2D = Primitive(
    "conv2d", _conv2d,
    vjps=(lambda g, out, x, w, b=None, *, stride, pad, cache=None:
          CONV2D_INPUT_GRAD(g, w, x_shape=tuple(x.shape), stride=stride, pad=pad),
          _conv_vjp_w,
          lambda g, out, x, w, b=None, *, stride, pad, cache=None: g.sum(axis=(0, 2, 3))),
    jvps=(lambda t, out, x, w, b=None, *, stride, pad, cache=None:
          CONV2D(t, w, stride=stride, pad=pad),
          lambda t, out, x, w, b=None, *, stride, pad, cache=None:
          CONV2D(x, t, stride=stride, pad=pad),
          lambda t, out, x, w, b=None, *, stride, pad, cache=None: t.reshape(-1, 1, 1)),
    notation=Notation("conv", (
        "vector-Jacobian product: g through W transposed (a transposed convolution), {shapes}",
        "vector-Jacobian product: g correlated with the input, {shapes}",
        "sum of g over the batch and positions, {shapes}")))

CONV2D_INPUT_GRAD = Primitive(
    "conv2d_input_grad", _conv2d_input_grad,
    vjps=(lambda gg, out, g, w, *, x_shape, stride, pad: CONV2D(gg, w, stride=stride, pad=pad),
          lambda gg, out, g, w, *, x_shape, stride, pad:
          CONV2D_WEIGHT_GRAD(g, gg, w_shape=tuple(w.shape), stride=stride, pad=pad)),
    jvps=(lambda t, out, g, w, *, x_shape, stride, pad:
          CONV2D_INPUT_GRAD(t, w, x_shape=x_shape, stride=stride, pad=pad),
          lambda t, out, g, w, *, x_shape, stride, pad:
          CONV2D_INPUT_GRAD(g, t, x_shape=x_shape, stride=stride, pad=pad)),
    notation=Notation("convᵀ", (
        "vector-Jacobian product: a convolution of g by W, {shapes}",
        "vector-Jacobian product: the correlation of the first input with g, {shapes}")))

CONV2D_WEIGHT_GRAD = Primitive(
    "conv2d_weight_grad", _conv2d_weight_grad,
    vjps=(lambda gw, out, g, x, *, w_shape, stride, pad: CONV2D(x, gw, stride=stride, pad=pad),
          lambda gw, out, g, x, *, w_shape, stride, pad:
          CONV2D_INPUT_GRAD(g, gw, x_shape=tuple(x.shape), stride=stride, pad=pad)),
    jvps=(lambda t, out, g, x, *, w_shape, stride, pad:
          CONV2D_WEIGHT_GRAD(t, x, w_shape=w_shape, stride=stride, pad=pad),
          lambda t, out, g, x, *, w_shape, stride, pad:
          CONV2D_WEIGHT_GRAD(g, t, w_shape=w_shape, stride=stride, pad=pad)),
    notation=Notation("conv dW", (
        "vector-Jacobian product: a convolution of the input by g, {shapes}",
        "vector-Jacobian product: the first input through g transposed, {shapes}")))


def conv2d(x: Any, w: Any, b: Any = None, stride: int = 1, pad: int = 0) -> Any:
    """The cross-correlation of (N, C, H, W) x with (O, C, kh, kw) filters w, plus b (O,),
    as one node (shapes are the caller's to check: chainrule.nn.functional.conv2d does)."""
    args = (x, w) if b is None else (x, w, b)
    return CONV2D(*args, stride=int(stride), pad=int(pad), cache={})
