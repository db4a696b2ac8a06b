"""torch.nn.utils as training loops use it: gradient clipping and flat parameter vectors."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from chainrule.engine import Tensor, _wrap


def _grads(parameters: Any) -> list:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Any = None) -> Tensor:
    """Scale all gradients together so their joint norm is at most max_norm (in place, as
    PyTorch: by max_norm / (norm + 1e-6) when the norm exceeds it); returns the norm."""
    params = _grads(parameters)
    if not params:
        return _wrap(np.asarray(0.0, np.float32))
    arrays = [p.grad.numpy() for p in params]
    if norm_type == float("inf"):
        total = max(float(np.max(np.abs(a))) if a.size else 0.0 for a in arrays)
    else:
        total = float(sum(float(np.sum(np.abs(a.astype(np.float64)) ** norm_type))
                          for a in arrays) ** (1.0 / norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} is "
                           f"non-finite ({total})")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in params:
            p.grad = _wrap(p.grad.numpy() * p.grad.numpy().dtype.type(coef))
    return _wrap(np.asarray(total, arrays[0].dtype))


def clip_grad_value_(parameters: Any, clip_value: float, foreach: Any = None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value]."""
    for p in _grads(parameters):
        p.grad = _wrap(np.clip(p.grad.numpy(), -clip_value, clip_value))


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    return _wrap(np.concatenate([p.numpy().reshape(-1) for p in parameters]))


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    flat, start = vec.numpy(), 0
    for p in parameters:
        n = p.numel()
        p.numpy()[...] = flat[start:start + n].reshape(p.shape)
        start += n
