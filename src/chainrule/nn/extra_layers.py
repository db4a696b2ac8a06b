"""More of PyTorch's layers and losses, composed from the primitives: LeakyReLU, ELU, SiLU,
Softplus, LayerNorm, Embedding, BatchNorm2d, AvgPool2d, AdaptiveAvgPool2d (to 1x1), L1Loss,
SmoothL1Loss, and ModuleDict."""
from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import ops
from chainrule.engine import Tensor, as_tensor
from chainrule.nn import init
from chainrule.nn.conv import avg_pool2d
from chainrule.nn.layers import BatchNorm1d
from chainrule.nn.loss import _Loss
from chainrule.nn.module import Module, Parameter


# ---- functions ------------------------------------------------------------------------------
def leaky_relu(x: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    x = as_tensor(x)
    return ops.where(x._data > 0, x, x * negative_slope)


def elu(x: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    x = as_tensor(x)
    return ops.where(x._data > 0, x, (ops.exp(ops.minimum(x, 0.0)) - 1) * alpha)


def silu(x: Any, inplace: bool = False) -> Tensor:
    x = as_tensor(x)
    return x * ops.sigmoid(x)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold (as PyTorch)."""
    x = as_tensor(x)
    bx = x * beta
    smooth = (ops.log1p(ops.exp(-ops.abs(bx))) + ops.relu(bx)) / beta
    return ops.where(bx._data > threshold, x, smooth)


def layer_norm(x: Any, normalized_shape: Any, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the last len(normalized_shape) dims (biased variance, as PyTorch)."""
    x = as_tensor(x)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in the "
                         f"normalized shape {shape}")
    dims = tuple(range(x.ndim - len(shape), x.ndim))
    centered = x - ops.mean(x, dims, keepdim=True)
    var = ops.mean(centered * centered, dims, keepdim=True)
    out = centered / ops.sqrt(var + eps)
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    d = ops.abs(as_tensor(input) - target)
    return d.mean() if reduction == "mean" else d.sum() if reduction == "sum" else d


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    d = as_tensor(input) - target
    a = ops.abs(d)
    losses = ops.where(a._data < beta, d * d * (0.5 / beta), a - 0.5 * beta) if beta else a
    return losses.mean() if reduction == "mean" else losses.sum() if reduction == "sum" \
        else losses


# ---- modules --------------------------------------------------------------------------------
class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Tensor:
        return leaky_relu(x, self.negative_slope)


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Any) -> Tensor:
        return elu(x, self.alpha)


class SiLU(Module):
    def forward(self, x: Any) -> Tensor:
        return silu(x)


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Tensor:
        return softplus(x, self.beta, self.threshold)


class LayerNorm(Module):
    """PyTorch's LayerNorm: weight ones and bias zeros over normalized_shape."""

    def __init__(self, normalized_shape: Any, eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) \
            else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape, np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, np.float32)) if elementwise_affine and bias \
            else None

    def forward(self, x: Any) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class Embedding(Module):
    """A lookup table of num_embeddings vectors, initialised N(0, 1) as PyTorch's."""

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), np.float32))
        init.normal_(self.weight)
        self.padding_idx = padding_idx
        if padding_idx is not None:
            self.weight.numpy()[padding_idx] = 0

    def forward(self, index: Any) -> Tensor:
        idx = np.asarray(index.numpy() if isinstance(index, Tensor) else index)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got {idx.dtype}")
        return self.weight[idx]


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of (N, C, H, W) input over N, H and W."""

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        if x.ndim != 4:
            raise ValueError(f"BatchNorm2d: expected (N, C, H, W) input, got shape {x.shape}")
        n, c, h, w = x.shape
        return super().forward(x.reshape(n, c, h * w)).reshape(n, c, h, w)


class AvgPool2d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Any) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class AdaptiveAvgPool2d(Module):
    """The mean over H and W, for output size 1 (the common global pooling)."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        if output_size not in (1, (1, 1), [1, 1]):
            raise NotImplementedError(f"AdaptiveAvgPool2d: only output size 1 is supported "
                                      f"yet, got {output_size!r}")
        self.output_size = output_size

    def forward(self, x: Any) -> Tensor:
        return ops.mean(as_tensor(x), (2, 3), keepdim=True)


class L1Loss(_Loss):
    def forward(self, input: Any, target: Any) -> Tensor:
        return l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Any, target: Any) -> Tensor:
        return smooth_l1_loss(input, target, self.reduction, self.beta)


class ModuleDict(Module):
    """Modules by name, registered as submodules."""

    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        for name, module in (dict(modules or {})).items():
            self.add_module(name, module)

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __setitem__(self, name: str, module: Module) -> None:
        self.add_module(name, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

