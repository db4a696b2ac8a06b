"""The book's chapter-7 network: conv - relu - pool - affine - relu - affine - softmax.

`SimpleConvNet` keeps the book's interface (`params` W1..W3/b1..b3, `layers` Conv1, Relu1,
Pool1, Affine1, Relu2, Affine2, `last_layer`, `predict`, `loss`, `accuracy(x, t,
batch_size=100)`, `numerical_gradient`, `gradient`, `save_params`, `load_params`), with
what the book's code got wrong done right:

- `save_params` writes safetensors (an 8-byte header length, a JSON header, the raw
  little-endian bytes), never pickle, atomically (a temporary file, then a rename);
  `load_params` reads only that format, checks every name, shape and byte range before it
  changes anything, and copies the values into the network's own arrays;
- `accuracy` counts every sample (the book's dropped the last short batch but still
  divided by all of them);
- the pooled size is computed from the real output sizes (non-square inputs and odd
  convolution outputs included), and inputs of the wrong shape are a ValueError that names
  the network and both shapes.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from chainrule.book.layers import Affine, Convolution, Pooling, Relu, SoftmaxWithLoss
from chainrule.book.models import ParamDict
from chainrule.book.params_io import load_params_file, save_params_file
from chainrule.book.multi_layer_net_extend import LayeredNet, init_scale
from chainrule.numerics import conv_out_size

__all__ = ["SimpleConvNet", "ConvNet", "save_params_file", "load_params_file"]

# ---- what the convolutional networks share --------------------------------------------------

class ConvNet(LayeredNet):
    """Image networks: (N, C, H, W) input, accuracy by batches, safetensors save/load."""

    input_dim: tuple

    def _check_input(self, x: np.ndarray, where: str) -> None:
        if x.ndim == 4 and x.shape[1:] == self.input_dim:
            return
        hint = ""
        if x.ndim == 2 and x.shape[1] == int(np.prod(self.input_dim)):
            hint = (" (these look like flattened images: reshape them to (N, "
                    f"{', '.join(map(str, self.input_dim))}) or load MNIST with flatten=False)")
        raise ValueError(f"{type(self).__name__}.{where}: x has shape {x.shape} but the network "
                         f"takes (N, {', '.join(map(str, self.input_dim))}) (input_dim="
                         f"{self.input_dim}){hint}")

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 100) -> float:
        """Fraction of samples whose largest logit is the label, `batch_size` at a time."""
        return super().accuracy(x, t, batch_size)

    def save_params(self, file_name="params.safetensors") -> None:
        """Save `params` as a safetensors file (never pickle), atomically."""
        save_params_file(self.params, file_name, type(self).__name__)

    def load_params(self, file_name="params.safetensors") -> None:
        """Load parameters saved by `save_params` into the network's own arrays.

        Every name, shape and byte range is checked first: on any error nothing changes.
        Values are cast to the network's dtype.
        """
        name = type(self).__name__
        loaded = load_params_file(file_name, name)
        if set(loaded) != set(self.params):
            raise ValueError(f"{name}.load_params({str(file_name)!r}): the file holds "
                             f"{sorted(loaded)} but the network has {sorted(self.params)}")
        for key, value in loaded.items():
            if value.shape != self.params[key].shape:
                raise ValueError(f"{name}.load_params({str(file_name)!r}): {key!r} has shape "
                                 f"{value.shape} in the file but {self.params[key].shape} in "
                                 f"the network (was it built with other sizes?)")
        for key, value in loaded.items():
            np.copyto(self.params[key], value, casting="unsafe")


def conv_setting(conv_param: dict, where: str) -> tuple[int, int, int, int]:
    """(filter_num, filter_size, pad, stride) from the book's conv_param dict, checked."""
    missing = {"filter_num", "filter_size", "pad", "stride"} - set(conv_param)
    if missing:
        raise ValueError(f"{where}: conv_param lacks {sorted(missing)}; give filter_num, "
                         f"filter_size, pad and stride, e.g. {{'filter_num': 30, "
                         f"'filter_size': 5, 'pad': 0, 'stride': 1}}")
    values = [conv_param[k] for k in ("filter_num", "filter_size", "pad", "stride")]
    for k, v, low in zip(("filter_num", "filter_size", "pad", "stride"), values, (1, 1, 0, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise ValueError(f"{where}: conv_param[{k!r}] must be an int >= {low}, got {v!r}")
    return tuple(int(v) for v in values)


def check_input_dim(input_dim, where: str) -> tuple[int, int, int]:
    if (not isinstance(input_dim, (tuple, list)) or len(input_dim) != 3
            or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
                   for d in input_dim)):
        raise ValueError(f"{where}: input_dim must be (channels, height, width) of positive "
                         f"ints, got {input_dim!r}")
    return tuple(int(d) for d in input_dim)


def out_hw(hw: tuple[int, int], k: int, stride: int, pad: int, what: str, where: str):
    """(height, width) after a k x k window; a window larger than its input is an error."""
    out = tuple(conv_out_size(s, k, stride, pad) for s in hw)
    if min(out) < 1:
        raise ValueError(f"{where}: {what} of size {k} (pad {pad}, stride {stride}) does not "
                         f"fit its {hw[0]}x{hw[1]} input; use a smaller filter or a larger "
                         f"input_dim")
    return out


class SimpleConvNet(ConvNet):
    """Conv1 -> Relu1 -> Pool1 (2x2, stride 2) -> Affine1 -> Relu2 -> Affine2 -> softmax.

    conv_param: filter_num, filter_size, pad, stride of the convolution. Weights are drawn
    from N(0, weight_init_std**2) as in the book ('relu'/'he' and 'sigmoid'/'xavier' are
    accepted too, scaled by each layer's fan-in); biases start at zero. `seed`/`rng` make
    the weights reproducible.
    """

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
                 hidden_size: int = 100, output_size: int = 10, weight_init_std=0.01,
                 dtype=np.float64, seed: int | None = None,
                 rng: np.random.Generator | None = None):
        where = "SimpleConvNet"
        self.input_dim = check_input_dim(input_dim, where)
        filter_num, filter_size, pad, stride = conv_setting(conv_param, where)
        for name, value in (("hidden_size", hidden_size), ("output_size", output_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise ValueError(f"{where}: dtype must be a float type, got {self.dtype}")
        rng = rng if rng is not None else np.random.default_rng(seed)

        channels, height, width = self.input_dim
        conv_hw = out_hw((height, width), filter_size, stride, pad, "the filter", where)
        pool_hw = out_hw(conv_hw, 2, 2, 0, "the 2x2 pooling", where)
        pool_output_size = filter_num * pool_hw[0] * pool_hw[1]
        shapes = {"W1": (filter_num, channels, filter_size, filter_size),
                  "W2": (pool_output_size, hidden_size), "W3": (hidden_size, output_size)}
        fan_in = {"W1": channels * filter_size ** 2, "W2": pool_output_size, "W3": hidden_size}
        self.params = ParamDict()
        for i, key in enumerate(shapes, start=1):
            scale = init_scale(weight_init_std, fan_in[key], where)
            self.params[key] = (scale * rng.standard_normal(shapes[key])).astype(self.dtype)
            self.params[f"b{i}"] = np.zeros(shapes[key][0 if i == 1 else 1], self.dtype)

        p = self.params
        self.layers = OrderedDict(
            Conv1=Convolution(p["W1"], p["b1"], stride, pad),
            Relu1=Relu(),
            Pool1=Pooling(pool_h=2, pool_w=2, stride=2),
            Affine1=Affine(p["W2"], p["b2"]),
            Relu2=Relu(),
            Affine2=Affine(p["W3"], p["b3"]))
        self.last_layer = SoftmaxWithLoss()
        self._grad_sources = [(f"{w}{i}", self.layers[name], f"d{w}")
                              for i, name in enumerate(("Conv1", "Affine1", "Affine2"), start=1)
                              for w in ("W", "b")]
