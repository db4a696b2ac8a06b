"""Tensor factories (float32 by default, as PyTorch)."""
from __future__ import annotations

import numpy as np

from chainrule.engine import Tensor
from chainrule.random import get_rng


def _shape(shape) -> tuple:
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def zeros(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype=dtype), requires_grad=requires_grad)


def zeros_like(x, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(np.asarray(x)), requires_grad=requires_grad)


def ones_like(x, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(np.asarray(x)), requires_grad=requires_grad)


def randn(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from chainrule's global generator (see manual_seed)."""
    data = get_rng().standard_normal(_shape(shape)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def arange(*args, dtype=np.float32) -> Tensor:
    return Tensor(np.arange(*args, dtype=dtype))
