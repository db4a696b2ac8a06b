"""Layers: Linear, the activations, Flatten, Dropout, BatchNorm1d, Conv2d and MaxPool2d
(PyTorch's semantics)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.engine import Tensor, as_tensor
from chainrule.nn import functional as F
from chainrule.nn.conv import conv2d, max_pool2d, square
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter

__all__ = ["Identity", "Linear", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
           "Flatten", "Dropout", "BatchNorm1d", "Conv2d", "MaxPool2d"]


def check_input_dtype(layer: str, x: Any, weight: Tensor) -> Tensor:
    """The input as a Tensor of the weight's dtype: a float64 array meeting float32 weights
    is an error (as in PyTorch), not a silent upcast of the whole network to float64."""
    x = as_tensor(x)
    if x.dtype != weight.dtype:
        raise TypeError(f"{layer}: input dtype {x.dtype} does not match the weight dtype "
                        f"{weight.dtype}; convert the input (x.astype(np.{weight.dtype})) or "
                        f"the model (model.to(np.{x.dtype}))")
    return x


class Identity(Module):
    """Returns its input unchanged (a placeholder in Sequential models)."""

    def forward(self, x: Any) -> Any:
        return x


class Linear(Module):
    """y = x @ weight.T + bias, weight of shape (out_features, in_features).

    Initialised as PyTorch does: kaiming_uniform(a=sqrt(5)) for the weight, which is
    U(-1/sqrt(in), 1/sqrt(in)), and the same bound for the bias."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"Linear: {name} must be a non-negative integer, got {n!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.in_features == 0:
            init.zeros_(self.weight)
        else:
            init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Any) -> Tensor:
        return ops.linear(check_input_dtype("Linear", x, self.weight), self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class ReLU(Module):
    def __init__(self, inplace: bool = False) -> None:  # computed out of place either way
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Any) -> Tensor:
        return ops.relu(x)


class Sigmoid(Module):
    def forward(self, x: Any) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Any) -> Tensor:
        return ops.tanh(x)


class Softmax(Module):
    """Softmax along `dim` (the class axis: -1, or 1 for (N, C) input)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return ops.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x: Any) -> Tensor:
        return ops.log_softmax(x, self.dim)


class Flatten(Module):
    """Merge dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Tensor:
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout: in training zero each element with probability p and scale the
    rest by 1/(1-p); in eval mode the identity. Draws from chainrule's global generator."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, got {p}")
        self.p = float(p)

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch normalisation of (N, C) or (N, C, L) input over N (and L).

    Training: batch mean and biased variance normalise; running_mean/running_var move by
    running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance
    (PyTorch's convention). Eval: the running statistics normalise."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Any = np.float32, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.use_bias = bias
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if bias else None
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.numpy()[...] = 0
            self.running_var.numpy()[...] = 1
            self.num_batches_tracked.numpy()[...] = 0

    def forward(self, x: Any) -> Tensor:
        x = as_tensor(x)
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected input (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got shape {x.shape}")
        tracking = self.track_running_stats
        return F.batch_norm(
            x, self.running_mean.numpy() if tracking else None,
            self.running_var.numpy() if tracking else None, self.weight, self.bias,
            training=self.training or not tracking, momentum=self.momentum, eps=self.eps,
            num_batches_tracked=self.num_batches_tracked.numpy() if tracking else None)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.use_bias}, "
                f"track_running_stats={self.track_running_stats}")


class Conv2d(Module):
    """2-d convolution (square kernel, stride and padding), PyTorch's default init:
    kaiming_uniform(a=sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple,
                 stride: int | tuple = 1, padding: int | tuple = 0, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        k = square(kernel_size, "Conv2d kernel_size")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride = (k, k), square(stride, "Conv2d stride")
        self.padding = square(padding, "Conv2d padding")
        self.weight = Parameter(np.empty((out_channels, in_channels, k, k), dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            init.uniform_(self.bias, -1 / math.sqrt(in_channels * k * k),
                          1 / math.sqrt(in_channels * k * k))

    def forward(self, x: Any) -> Tensor:
        x = check_input_dtype("Conv2d", x, self.weight)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={(self.stride, self.stride)}")
        if self.padding:
            s += f", padding={(self.padding, self.padding)}"
        return s + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    """Max over square windows (stride defaults to the kernel size, as in PyTorch)."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> None:
        super().__init__()
        self.kernel_size = square(kernel_size, "MaxPool2d kernel_size")
        self.stride = self.kernel_size if stride is None else square(stride, "MaxPool2d stride")
        self.padding = square(padding, "MaxPool2d padding")

    def forward(self, x: Any) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation=1, ceil_mode=False")
