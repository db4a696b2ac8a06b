"""The book's networks: layers in an OrderedDict, gradients by backprop or by differences.

`TwoLayerNet` keeps the tutorial's interface (`params`, `layers`, `lastLayer`, `predict`,
`loss`, `accuracy`, `numerical_gradient`, `gradient`) and fixes what made the tutorial's run
stall at 0.107: `params` writes into the layers' own arrays, so both update styles train,

    net.params[key] -= lr * grad[key]                      # in place
    net.params[key] = net.params[key] - lr * grad[key]     # rebinding, as the tutorial did
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from chainrule.book.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss
from chainrule.numerics import numerical_gradient

__all__ = ["ParamDict", "TwoLayerNet", "MultiLayerNet"]


class ParamDict(dict):
    """A dict of parameter arrays where `params[k] = value` copies into the existing array.

    The layers hold these very arrays, so rebinding a key must not detach them (the
    tutorial's bug): the new value is written in place, after checking its shape.
    """

    def __setitem__(self, key, value) -> None:
        current = self.get(key)
        if current is None:
            super().__setitem__(key, value)
        elif value is not current:
            value = np.asarray(value)
            if value.shape != current.shape:
                raise ValueError(f"params[{key!r}]: new value has shape {value.shape} but the "
                                 f"parameter has shape {current.shape}; parameters keep "
                                 f"their shape")
            np.copyto(current, value, casting="same_kind")

    def update(self, *args, **kwargs) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


class _BookNet:
    """What both networks share: Affine layers numbered 1..n, each owning W{i}, b{i}."""

    params: ParamDict
    layers: OrderedDict
    lastLayer: SoftmaxWithLoss
    dtype: np.dtype
    weight_decay_lambda: float = 0.0

    def _affines(self) -> list[Affine]:
        return [layer for layer in self.layers.values() if isinstance(layer, Affine)]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The logits (scores before softmax), computed in the network's dtype."""
        x = np.asarray(x).astype(self.dtype, copy=False)
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """Mean cross-entropy of softmax(predict(x)) against t (class indices or one-hot)."""
        loss = self.lastLayer.forward(self.predict(x), t)
        if self.weight_decay_lambda:
            loss += 0.5 * self.weight_decay_lambda * sum(np.sum(a.W ** 2) for a in self._affines())
        return loss

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """Fraction of samples whose largest logit is the label (t indices or one-hot)."""
        y = np.argmax(self.predict(x), axis=1)
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return float(np.mean(y == t))

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Every parameter's gradient by central differences (slow; for checking `gradient`)."""
        loss_W = lambda W: self.loss(x, t)  # noqa: E731 - W is perturbed in place, as in the book
        return {key: numerical_gradient(loss_W, param) for key, param in self.params.items()}

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Every parameter's gradient by backpropagation through the layers."""
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)  # the first Affine returns None: x is data
        grads = {}
        for i, affine in enumerate(self._affines(), start=1):
            dW = affine.dW
            if self.weight_decay_lambda:
                dW = dW + self.weight_decay_lambda * affine.W
            grads[f"W{i}"], grads[f"b{i}"] = dW, affine.db
        return grads


class TwoLayerNet(_BookNet):
    """The tutorial's network: Affine1 -> Relu1 -> Affine2 -> SoftmaxWithLoss."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, dtype=np.float64,
                 seed: int | None = None, rng: np.random.Generator | None = None):
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        self.params = ParamDict(
            W1=(weight_init_std * rng.standard_normal((input_size, hidden_size))).astype(dtype),
            b1=np.zeros(hidden_size, dtype),
            W2=(weight_init_std * rng.standard_normal((hidden_size, output_size))).astype(dtype),
            b2=np.zeros(output_size, dtype))
        self.layers = OrderedDict(
            Affine1=Affine(self.params["W1"], self.params["b1"], input_grad=False),
            Relu1=Relu(),
            Affine2=Affine(self.params["W2"], self.params["b2"]))
        self.lastLayer = SoftmaxWithLoss()


class MultiLayerNet(_BookNet):
    """The book's fully connected net: (Affine -> activation) x len(hidden) -> Affine -> softmax.

    weight_init_std: "he" (sqrt(2 / fan_in), for ReLU), "xavier" (sqrt(1 / fan_in), for
    sigmoid) or a number; the book's names "relu" and "sigmoid" mean he and xavier.
    weight_decay_lambda adds 0.5 * lambda * sum(W**2) to the loss (and lambda * W to dW).
    """

    _ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}
    _INIT_GAIN = {"he": 2.0, "relu": 2.0, "xavier": 1.0, "sigmoid": 1.0}

    def __init__(self, input_size: int, hidden_size_list: list[int], output_size: int,
                 activation: str = "relu", weight_init_std: str | float = "he",
                 weight_decay_lambda: float = 0.0, dtype=np.float64,
                 seed: int | None = None, rng: np.random.Generator | None = None):
        if activation not in self._ACTIVATIONS:
            raise ValueError(f"MultiLayerNet: activation must be 'relu' or 'sigmoid', "
                             f"got {activation!r}")
        if isinstance(weight_init_std, str) and weight_init_std not in self._INIT_GAIN:
            raise ValueError(f"MultiLayerNet: weight_init_std must be 'he', 'xavier' or a number, "
                             f"got {weight_init_std!r}")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.dtype = np.dtype(dtype)
        self.weight_decay_lambda = weight_decay_lambda
        sizes = [input_size, *hidden_size_list, output_size]
        self.params = ParamDict()
        self.layers = OrderedDict()
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            std = (np.sqrt(self._INIT_GAIN[weight_init_std] / fan_in)
                   if isinstance(weight_init_std, str) else weight_init_std)
            self.params[f"W{i}"] = (std * rng.standard_normal((fan_in, fan_out))).astype(dtype)
            self.params[f"b{i}"] = np.zeros(fan_out, dtype)
            self.layers[f"Affine{i}"] = Affine(self.params[f"W{i}"], self.params[f"b{i}"],
                                               input_grad=i > 1)
            if i < len(sizes) - 1:
                self.layers[f"{activation.capitalize()}{i}"] = self._ACTIVATIONS[activation]()
        self.lastLayer = SoftmaxWithLoss()
