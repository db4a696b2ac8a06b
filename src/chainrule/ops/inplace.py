"""In-place operations (`x += y`, `x.add_(y)`, `x[i] = v`, `p.zero_()`, ...) with PyTorch's
semantics: the tensor's own array changes and its version counter goes up (see
`chainrule.engine.modify_in_place`). Each is its out-of-place op written back in place;
the two primitives here exist only for what has no out-of-place twin: overwriting and
indexed assignment."""
from __future__ import annotations

import numpy as np

from chainrule.engine import _NO_ATTRS, Primitive, Tensor, apply, as_tensor, modify_in_place
from chainrule.engine.graph import Notation
from chainrule.ops.arithmetic import add, div, mul, pow, sub  # noqa: A004
from chainrule.ops.elementwise import WHERE, clip
from chainrule.ops.shape import BROADCAST_TO, INDEX_ADD, _index, getitem, ints_first
from chainrule.random import get_rng

def _zeros(x) -> np.ndarray:
    """A constant zero gradient of x's shape: nothing flows back through an overwrite."""
    return np.zeros(x.shape, x.dtype)


# a's values replaced by b (broadcast): the gradient reaches b only
OVERWRITE = Primitive(
    "overwrite", lambda a, b: np.broadcast_to(b, a.shape).astype(a.dtype),
    vjps=(lambda g, out, a, b: _zeros(g),
          lambda g, out, a, b: g),
    jvps=(lambda t, out, a, b: _zeros(out),
          lambda t, out, a, b: t),
    notation=Notation.generic("overwrite"))


def _setitem(a, v, index):
    out = a.copy()
    out[index] = v
    return out


def _zeroed_at(g, index):
    """g with the elements at `index` set to zero (the gradient of what was overwritten)."""
    keep = np.ones(g.shape, dtype=bool)
    keep[index] = False
    return WHERE(g, 0, cond=keep)


# a with a[index] = v: the gradient reaches a outside the index, v inside it
SETITEM = Primitive(
    "setitem", _setitem,
    vjps=(lambda g, out, a, v, index: _zeroed_at(g, index),
          lambda g, out, a, v, index: g[index]),
    jvps=(lambda t, out, a, v, index: _zeroed_at(t, index),
          lambda t, out, a, v, index: INDEX_ADD(BROADCAST_TO(t, shape=out[index].shape),
                                                index=index, shape=out.shape)),
    notation=Notation.generic("setitem"))

CLONE = Primitive("clone", lambda a: a.copy(),
                  vjps=(lambda g, out, a: g,), jvps=(lambda t, out, a: t,),
                  notation=Notation.generic("clone"))


def clone(x) -> Tensor:
    """A copy with its own memory that stays in the graph (gradient passes unchanged)."""
    return apply(CLONE, (as_tensor(x),), _NO_ATTRS)


def _scaled(other, alpha):
    return other if alpha == 1 else mul(other, alpha)


def add_(t: Tensor, other, alpha=1) -> Tensor:
    return modify_in_place(t, "add_", lambda s: add(s, _scaled(other, alpha)))


def sub_(t: Tensor, other, alpha=1) -> Tensor:
    return modify_in_place(t, "sub_", lambda s: sub(s, _scaled(other, alpha)))


def mul_(t: Tensor, other) -> Tensor:
    return modify_in_place(t, "mul_", lambda s: mul(s, other))


def div_(t: Tensor, other) -> Tensor:
    return modify_in_place(t, "div_", lambda s: div(s, other))


def pow_(t: Tensor, other) -> Tensor:
    return modify_in_place(t, "pow_", lambda s: pow(s, other))


def clamp_(t: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    return modify_in_place(t, "clamp_", lambda s: clip(s, min, max))


def _overwrite(t: Tensor, name: str, value) -> Tensor:
    def compute(s):
        v = as_tensor(value, like=s)
        try:
            np.broadcast_shapes(v.shape, s.shape)
        except ValueError:
            raise ValueError(f"{name}: cannot broadcast a value of shape {v.shape} to the "
                             f"tensor's shape {s.shape}") from None
        return apply(OVERWRITE, (s, v), _NO_ATTRS)
    return modify_in_place(t, name, compute)


def fill_(t: Tensor, value) -> Tensor:
    """Every element set to `value` (zero_ is fill_(0)); a 0-d tensor value gets the gradient."""
    return _overwrite(t, "fill_", value)


def copy_(t: Tensor, src) -> Tensor:
    """t's values replaced by src's (broadcast, cast to t's dtype), as PyTorch's copy_."""
    return _overwrite(t, "copy_", src)


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Refill with samples of N(mean, std^2) from chainrule's generator (see manual_seed)."""
    return _overwrite(t, "normal_", get_rng().normal(mean, std, t.shape).astype(t.dtype))


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Refill with samples of U(a, b) from chainrule's generator (see manual_seed)."""
    return _overwrite(t, "uniform_", get_rng().uniform(a, b, t.shape).astype(t.dtype))


def setitem_(t: Tensor, index, value) -> Tensor:
    """t[index] = value; value is broadcast to the indexed shape and cast to t's dtype."""
    index = _index(index)
    steps = ints_first(index)
    if steps is not None:  # t[0, :, idx] = v is t[0][:, idx] = v, written through the view
        setitem_(getitem(t, steps[0]), steps[1], value)
        return t

    def compute(s):
        v = as_tensor(value, like=s)
        try:
            target = np.empty(s.shape, dtype=bool)[index].shape
            np.broadcast_to(np.empty(v.shape, dtype=bool), target)
        except IndexError as err:
            raise IndexError(f"setitem: {err} (tensor shape {s.shape})") from None
        except ValueError:
            raise ValueError(f"setitem: cannot assign a value of shape {v.shape} to an "
                             f"indexed region of shape {target} (tensor shape {s.shape})") from None
        if v.dtype != s.dtype:
            v = v.astype(s.dtype) if v.dtype.kind in "biuf" else v
        return apply(SETITEM, (s, v), {"index": index})
    return modify_in_place(t, "setitem", compute)
