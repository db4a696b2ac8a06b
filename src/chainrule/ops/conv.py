"""im2col and col2im as primitives: the two linear maps convolution and pooling are built
from. Each is the other's VJP and its own JVP; the forward kernels are the ones the book's
face uses too (chainrule.numerics)."""
from __future__ import annotations

from typing import Any

from chainrule import numerics
from chainrule.engine import Primitive
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

