"""Tensor factories with PyTorch's signatures and dtypes: float32 by default (the default
dtype), int64 for `arange` of ints and `randint`; each takes dtype=, device= (the CPU only)
and requires_grad=."""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.engine import Tensor, get_default_dtype
from chainrule.engine.devices import as_dtype, check_device
from chainrule.random import get_rng


def _shape(name: str, shape: tuple) -> tuple:
    """zeros(2, 3), zeros((2, 3)), zeros([2, 3]) and zeros(size=...) all name a shape."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise TypeError(f"{name}: the shape must be non-negative ints, got {shape!r}")
    return tuple(int(n) for n in shape)


def _make(name: str, data: np.ndarray, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    check_device(device, name)
    if dtype is not None:
        data = data.astype(as_dtype(dtype, name), copy=False)
    return Tensor(data, requires_grad=requires_grad)


def _float(dtype: Any, name: str) -> np.dtype:
    return np.dtype(get_default_dtype()) if dtype is None else as_dtype(dtype, name)


def zeros(*shape, size=None, dtype=None, device=None, requires_grad: bool = False,
          out=None) -> Tensor:
    shape = _shape("zeros", shape if size is None else (size,))
    return _make("zeros", np.zeros(shape, _float(dtype, "zeros")), None, device, requires_grad)


def ones(*shape, size=None, dtype=None, device=None, requires_grad: bool = False,
         out=None) -> Tensor:
    shape = _shape("ones", shape if size is None else (size,))
    return _make("ones", np.ones(shape, _float(dtype, "ones")), None, device, requires_grad)


def empty(*shape, size=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uninitialised in PyTorch; zeros here (NumPy's empty would leak old memory into sums)."""
    shape = _shape("empty", shape if size is None else (size,))
    return _make("empty", np.zeros(shape, _float(dtype, "empty")), None, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of `size` filled with `fill_value`; its dtype follows the value as in PyTorch
    (float -> the default dtype, int -> int64, bool -> bool) unless dtype= says otherwise."""
    shape = _shape("full", (size,) if not isinstance(size, (tuple, list)) else tuple(size))
    if dtype is None:
        v = fill_value.item() if isinstance(fill_value, (Tensor, np.generic)) else fill_value
        dtype = (np.bool_ if isinstance(v, bool) else np.int64 if isinstance(v, int)
                 else get_default_dtype())
    return _make("full", np.full(shape, fill_value, as_dtype(dtype, "full")), None, device,
                 requires_grad)


def _like(name: str, x: Any, dtype: Any) -> tuple:
    arr = np.asarray(x)
    return arr.shape, (arr.dtype if dtype is None else as_dtype(dtype, name))


def zeros_like(x, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like("zeros_like", x, dtype)
    return _make("zeros_like", np.zeros(shape, dt), None, device, requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like("ones_like", x, dtype)
    return _make("ones_like", np.ones(shape, dt), None, device, requires_grad)


def empty_like(x, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return zeros_like(x, dtype, device, requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like("full_like", x, dtype)
    return _make("full_like", np.full(shape, fill_value, dt), None, device, requires_grad)


def randn(*shape, size=None, dtype=None, device=None, requires_grad: bool = False,
          generator=None) -> Tensor:
    """Standard normal samples from chainrule's global generator (see manual_seed)."""
    shape = _shape("randn", shape if size is None else (size,))
    rng = generator or get_rng()
    return _make("randn", rng.standard_normal(shape).astype(_float(dtype, "randn")), None,
                 device, requires_grad)


def rand(*shape, size=None, dtype=None, device=None, requires_grad: bool = False,
         generator=None) -> Tensor:
    """Uniform samples in [0, 1) from chainrule's global generator (see manual_seed)."""
    shape = _shape("rand", shape if size is None else (size,))
    rng = generator or get_rng()
    return _make("rand", rng.random(shape).astype(_float(dtype, "rand")), None, device,
                 requires_grad)


def randn_like(x, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like("randn_like", x, dtype)
    return _make("randn_like", get_rng().standard_normal(shape).astype(dt), None, device,
                 requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape, dt = _like("rand_like", x, dtype)
    return _make("rand_like", get_rng().random(shape).astype(dt), None, device, requires_grad)


def randint(low, high=None, size=None, *, dtype=None, device=None,
            requires_grad: bool = False, generator=None) -> Tensor:
    """Integers in [low, high) (int64), as torch.randint(low=0, high, size)."""
    if size is None:
        if not isinstance(high, (tuple, list)):
            raise TypeError("randint: pass the size, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    shape = _shape("randint", tuple(size))
    rng = generator or get_rng()
    data = rng.integers(low, high, shape, dtype=np.int64)
    return _make("randint", data, dtype, device, requires_grad)


def randperm(n: int, *, dtype=None, device=None, requires_grad: bool = False,
             generator=None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    rng = generator or get_rng()
    return _make("randperm", rng.permutation(int(n)).astype(np.int64), dtype, device,
                 requires_grad)


def arange(start=0, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """As torch.arange: int64 when start, end and step are ints, else the default dtype."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, (Tensor, np.generic)) else v for v in (start, end, step)]
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in vals)
        dtype = np.int64 if ints else get_default_dtype()
    dtype = as_dtype(dtype, "arange")
    if dtype.kind == "f":  # computed in float64, then cast: PyTorch's values
        data = np.arange(*vals, dtype=np.float64).astype(dtype)
    else:
        data = np.arange(*vals, dtype=dtype)
    return _make("arange", data, None, device, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end, computed as PyTorch's CPU kernel does:
    step = (end - start) / (steps - 1) in the dtype, the first half start + step*i and the
    second half end - step*(steps-1-i), each with one rounding (a fused multiply-add, here
    done in a wider float), so the values are PyTorch's to the bit."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise TypeError(f"linspace: steps must be a non-negative int, got {steps!r}")
    dt = _float(dtype, "linspace")
    start, end = (v.item() if isinstance(v, Tensor) else v for v in (start, end))
    calc = dt if dt.kind == "f" else np.dtype(np.float64)
    s, e = calc.type(start), calc.type(end)
    if steps == 1:
        data = np.array([s])
    else:
        step = calc.type((e - s) / calc.type(steps - 1))
        wide = np.float64 if calc.itemsize < 8 else np.longdouble
        i = np.arange(steps, dtype=wide)
        data = np.where(i < steps // 2, wide(s) + wide(step) * i,
                        wide(e) - wide(step) * (steps - 1 - i)).astype(calc)
    return _make("linspace", np.asarray(data).astype(dt), None, device, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    return _make("eye", np.eye(n, m, dtype=_float(dtype, "eye")), None, device, requires_grad)
