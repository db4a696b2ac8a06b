"""The book's chapter-8 network, which passes 99% on MNIST:

    conv - relu - conv - relu - pool -
    conv - relu - conv - relu - pool -
    conv - relu - conv - relu - pool -
    affine - relu - dropout - affine - dropout - softmax

`DeepConvNet` keeps the book's interface: `params` W1..W8/b1..b8, `layers` a list (the
parameter layers at indices 0, 2, 5, 7, 10, 12, 15, 18), `last_layer`, `predict(x,
train_flg=False)`, `loss(x, t)` in training mode (dropout on, as the book's), `accuracy(x, t,
batch_size=100)`, `gradient`, `save_params`/`load_params` (safetensors, never pickle), and
adds the `numerical_gradient` the book left out (dropout masks held fixed; see
`LayeredNet`). Every weight gets He's scale sqrt(2 / fan_in); the book hard-coded the
fan-ins for 28x28 inputs, here they follow from `input_dim` and the conv settings (the same
numbers for the book's defaults).
"""
from __future__ import annotations

import numpy as np

from chainrule.book.layers import Affine, Convolution, Dropout, Pooling, Relu, SoftmaxWithLoss
from chainrule.book.models import ParamDict
from chainrule.book.simple_convnet import ConvNet, check_input_dim, conv_setting, out_hw

__all__ = ["DeepConvNet"]


def _conv(filter_num: int, pad: int) -> dict:
    return {"filter_num": filter_num, "filter_size": 3, "pad": pad, "stride": 1}


class DeepConvNet(ConvNet):
    """Six 3x3 convolutions in three pairs, each pair followed by 2x2 max pooling, then
    Affine -> Relu -> Dropout -> Affine -> Dropout -> softmax. He-initialized."""

    default_train_flg = True   # the book's loss(x, t) runs with dropout on

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param_1=_conv(16, 1), conv_param_2=_conv(16, 1),
                 conv_param_3=_conv(32, 1), conv_param_4=_conv(32, 2),
                 conv_param_5=_conv(64, 1), conv_param_6=_conv(64, 1),
                 hidden_size: int = 50, output_size: int = 10, dropout_ratio: float = 0.5,
                 dtype=np.float64, seed: int | None = None,
                 rng: np.random.Generator | None = None):
        where = "DeepConvNet"
        self.input_dim = check_input_dim(input_dim, where)
        convs = [conv_setting(c, f"{where} (conv_param_{i})") for i, c in enumerate(
            (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5,
             conv_param_6), start=1)]
        for name, value in (("hidden_size", hidden_size), ("output_size", output_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
        if not 0 <= dropout_ratio < 1:
            raise ValueError(f"{where}: dropout_ratio must be in [0, 1), got {dropout_ratio!r}")
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise ValueError(f"{where}: dtype must be a float type, got {self.dtype}")
        rng = rng if rng is not None else np.random.default_rng(seed)

        def draw(shape: tuple, fan_in: int) -> np.ndarray:
            return (np.sqrt(2.0 / fan_in) * rng.standard_normal(shape)).astype(self.dtype)

        self.params = ParamDict()
        self.layers = []
        param_layers = []
        channels, hw = self.input_dim[0], self.input_dim[1:]
        for i, (filter_num, size, pad, stride) in enumerate(convs, start=1):
            self.params[f"W{i}"] = draw((filter_num, channels, size, size), channels * size ** 2)
            self.params[f"b{i}"] = np.zeros(filter_num, self.dtype)
            hw = out_hw(hw, size, stride, pad, f"conv_param_{i}'s filter", where)
            param_layers.append(Convolution(self.params[f"W{i}"], self.params[f"b{i}"],
                                            stride, pad))
            self.layers += [param_layers[-1], Relu()]
            if i % 2 == 0:
                hw = out_hw(hw, 2, 2, 0, f"the 2x2 pooling after conv {i}", where)
                self.layers.append(Pooling(pool_h=2, pool_w=2, stride=2))
            channels = filter_num
        flat = channels * hw[0] * hw[1]
        for i, (fan_in, fan_out) in enumerate(((flat, hidden_size),
                                               (hidden_size, output_size)), start=7):
            self.params[f"W{i}"] = draw((fan_in, fan_out), fan_in)
            self.params[f"b{i}"] = np.zeros(fan_out, self.dtype)
            param_layers.append(Affine(self.params[f"W{i}"], self.params[f"b{i}"]))
            self.layers.append(param_layers[-1])
            self.layers += [Relu(), Dropout(dropout_ratio)] if i == 7 else [Dropout(dropout_ratio)]
        self.last_layer = SoftmaxWithLoss()
        self._grad_sources = [(f"{w}{i}", layer, f"d{w}")
                              for i, layer in enumerate(param_layers, start=1) for w in ("W", "b")]
