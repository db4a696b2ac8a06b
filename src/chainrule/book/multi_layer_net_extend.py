"""The book's chapter-6 network with weight decay, dropout and batch normalization.

`MultiLayerNetExtend` keeps the book's interface (`params`, `layers`, `last_layer`,
`predict(x, train_flg=False)`, `loss(x, t, train_flg=False)`, `accuracy`,
`numerical_gradient`, `gradient`) and its spelling `dropout_ration`.

`LayeredNet`, the machinery the chapter-7 and chapter-8 networks share with it, runs the
layers (Dropout and BatchNormalization get `train_flg`), backpropagates, and gives a
numerical gradient of the very function that `gradient` differentiated:

- dropout masks stay fixed during `numerical_gradient`: when the network's last forward
  pass was a training one on a batch of x's shape (as right after `gradient(x, t)`), its
  masks are reused, otherwise masks are drawn once; so `gradient(x, t)` then
  `numerical_gradient(x, t)` compare the same function (the book's version redrew the masks
  at every difference, and its check of a network with dropout could not pass);
- batch normalization's running mean and variance are restored afterwards, so a gradient
  check does not move them (the book's moved them at every difference);
- `params[key] = value` writes into the layers' own arrays (a `ParamDict`), so every update
  style trains.
"""
from __future__ import annotations

import numbers
from collections import OrderedDict

import numpy as np

from chainrule.book.layers import (Affine, BatchNormalization, Dropout, Relu, Sigmoid,
                                   SoftmaxWithLoss)
from chainrule.book.models import ParamDict
from chainrule.numerics import numerical_gradient

__all__ = ["MultiLayerNetExtend", "LayeredNet"]

_TRAIN_FLG_LAYERS = (Dropout, BatchNormalization)


class LayeredNet:
    """Layers run in order, a SoftmaxWithLoss on top, parameter gradients read off layers.

    A subclass sets `params` (a ParamDict), `layers` (an OrderedDict or a list),
    `last_layer`, `dtype`, `_grad_sources` [(param key, layer, gradient attribute)],
    `_decay_keys` (the weights weight decay applies to) and `_check_input(x, where)`.
    """

    params: ParamDict
    last_layer: SoftmaxWithLoss
    dtype: np.dtype
    weight_decay_lambda: float = 0.0
    default_train_flg: bool = False      # what loss(x, t) does without train_flg
    _grad_sources: list
    _decay_keys: tuple = ()

    def _layer_list(self) -> list:
        return list(self.layers.values()) if isinstance(self.layers, dict) else list(self.layers)

    def _check_input(self, x: np.ndarray, where: str) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _as_input(self, x, where: str) -> np.ndarray:
        x = np.asarray(x)
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"{type(self).__name__}.{where}: x must be a numeric array, got "
                            f"dtype {x.dtype}")
        self._check_input(x, where)
        return x.astype(self.dtype, copy=False)

    def _run(self, x: np.ndarray, train_flg: bool, masks: dict | None = None) -> np.ndarray:
        """Forward through the layers; with `masks`, dropout multiplies by those fixed masks."""
        recording = train_flg and masks is None
        if masks is None:  # the layers' state changes: what was recorded no longer holds
            self._dropout_io, self._train_shape = {}, (x.shape if train_flg else None)
        for i, layer in enumerate(self._layer_list()):
            if masks is not None and i in masks:
                x = x * masks[i]
            elif isinstance(layer, _TRAIN_FLG_LAYERS):
                out = layer.forward(x, train_flg)
                if recording and isinstance(layer, Dropout):
                    self._dropout_io[i] = (x, out)
                x = out
            else:
                x = layer.forward(x)
        return x

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        """The logits (scores before softmax), in the network's dtype."""
        return self._run(self._as_input(x, "predict"), train_flg)

    def _check_targets(self, x: np.ndarray, t, where: str) -> np.ndarray:
        t = np.asarray(t)
        if t.ndim == 0 or t.shape[0] != x.shape[0]:
            raise ValueError(f"{type(self).__name__}.{where}: x of shape {x.shape} has "
                             f"{x.shape[0]} samples but t has shape {t.shape}; pass one label "
                             f"(class index or one-hot row) per sample")
        return t

    def _weight_decay(self) -> float:
        if not self.weight_decay_lambda:
            return 0.0
        return 0.5 * self.weight_decay_lambda * sum(float(np.sum(self.params[k] ** 2))
                                                    for k in self._decay_keys)

    def _loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool, masks=None) -> float:
        y = self._run(x, train_flg, masks)
        return self.last_layer.forward(y, t) + self._weight_decay()

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool | None = None) -> float:
        """Mean cross-entropy of softmax(predict(x, train_flg)) against t, plus weight decay
        0.5 * lambda * sum(W**2). train_flg=None is the network's default: inference mode,
        except DeepConvNet, whose loss runs with dropout on as the book's."""
        train_flg = self.default_train_flg if train_flg is None else train_flg
        x = self._as_input(x, "loss")
        return self._loss(x, self._check_targets(x, t, "loss"), train_flg)

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int | None = None) -> float:
        """Fraction of samples whose largest logit is the label (inference mode), computed
        `batch_size` samples at a time; every sample counts, the last short batch too."""
        x = self._as_input(x, "accuracy")
        t = self._check_targets(x, t, "accuracy")
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError(f"{type(self).__name__}.accuracy: batch_size must be a positive "
                             f"int or None, got {batch_size!r}")
        step = len(x) if not batch_size else batch_size
        hits = 0
        for i in range(0, len(x), max(step, 1)):
            y = self._run(x[i:i + step], train_flg=False)
            hits += int(np.sum(np.argmax(y, axis=1) == t[i:i + step]))
        return hits / len(x) if len(x) else 0.0

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Every parameter's gradient by backpropagation (a training-mode forward pass)."""
        x = self._as_input(x, "gradient")
        self._loss(x, self._check_targets(x, t, "gradient"), train_flg=True)
        self._backward()
        grads = {}
        for key, layer, attr in self._grad_sources:
            grads[key] = getattr(layer, attr)
            if key in self._decay_keys and self.weight_decay_lambda:
                grads[key] = grads[key] + self.weight_decay_lambda * self.params[key]
        return {key: grads[key] for key in self.params}

    def _backward(self) -> None:
        """Backpropagate the last forward pass, setting every layer's parameter gradients.
        The first layer's dx (the gradient of the data) has no one to take it: a layer that
        can skip it (`backward_params`) does."""
        dout = self.last_layer.backward(1)
        first, *rest = self._layer_list()
        for layer in reversed(rest):
            dout = layer.backward(dout)
        getattr(first, "backward_params", first.backward)(dout)

    def _fixed_masks(self, x: np.ndarray, t: np.ndarray) -> dict[int, np.ndarray]:
        """Each Dropout's multiplier from the last training forward of x's shape (drawn now
        if there was none), checked against what that forward pass computed."""
        layers = self._layer_list()
        if not any(isinstance(layer, Dropout) for layer in layers):
            return {}
        if getattr(self, "_train_shape", None) != x.shape:
            self._loss(x, t, train_flg=True)
        masks = {}
        for i, (x_in, out) in self._dropout_io.items():
            masks[i] = layers[i].backward(np.ones_like(out))
            if not np.allclose(x_in * masks[i], out, atol=0,
                               rtol=100 * np.finfo(out.dtype).eps):
                raise RuntimeError(f"{type(self).__name__}.numerical_gradient: layer {i} "
                                   f"(Dropout) has a backward that does not match its forward "
                                   f"(forward(x) != x * backward(ones)); fix the layer first")
        return masks

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Every parameter's gradient by central differences of the training-mode loss
        (slow; the oracle for `gradient`). Dropout masks are held fixed and batch
        normalization's running statistics are left as they were."""
        x = self._as_input(x, "numerical_gradient")
        t = self._check_targets(x, t, "numerical_gradient")
        saved = [(layer, name, None if getattr(layer, name) is None
                  else np.array(getattr(layer, name), copy=True))
                 for layer in self._layer_list() if isinstance(layer, BatchNormalization)
                 for name in ("running_mean", "running_var") if hasattr(layer, name)]
        try:
            masks = self._fixed_masks(x, t)
            loss_W = lambda W: self._loss(x, t, True, masks)  # noqa: E731 - W is changed in place
            return {key: numerical_gradient(loss_W, param) for key, param in self.params.items()}
        finally:
            for layer, name, value in saved:
                setattr(layer, name, value)


def _positive_int(value, what: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: {what} must be a positive int, got {value!r}")
    return int(value)


def init_scale(weight_init_std, fan_in: int, where: str) -> float:
    """The book's weight scale: 'relu'/'he' sqrt(2/fan_in), 'sigmoid'/'xavier'
    sqrt(1/fan_in), or a number as it is."""
    if isinstance(weight_init_std, str):
        name = weight_init_std.lower()
        if name in ("relu", "he"):
            return float(np.sqrt(2.0 / fan_in))
        if name in ("sigmoid", "xavier"):
            return float(np.sqrt(1.0 / fan_in))
        raise ValueError(f"{where}: weight_init_std must be 'relu'/'he', 'sigmoid'/'xavier' or "
                         f"a number, got {weight_init_std!r}")
    if isinstance(weight_init_std, bool) or not isinstance(weight_init_std, numbers.Real):
        raise ValueError(f"{where}: weight_init_std must be 'relu'/'he', 'sigmoid'/'xavier' or "
                         f"a number, got {weight_init_std!r}")
    return float(weight_init_std)


class MultiLayerNetExtend(LayeredNet):
    """Fully connected: (Affine -> [BatchNorm] -> activation -> [Dropout]) x hidden -> Affine.

    Layers are named as in the book: Affine{i}, BatchNorm{i}, Activation_function{i},
    Dropout{i}; parameters W{i}, b{i} (and gamma{i}, beta{i} with batch normalization).
    weight_init_std: 'relu'/'he' (sqrt(2 / fan_in)), 'sigmoid'/'xavier' (sqrt(1 / fan_in))
    or a number. weight_decay_lambda adds 0.5 * lambda * sum(W**2) over the Affine weights
    to the loss (and lambda * W to their gradients). `seed`/`rng` make the weights (not the
    dropout masks) reproducible.
    """

    _ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}

    def __init__(self, input_size: int, hidden_size_list: list[int], output_size: int,
                 activation: str = "relu", weight_init_std="relu",
                 weight_decay_lambda: float = 0, use_dropout: bool = False,
                 dropout_ration: float = 0.5, use_batchnorm: bool = False,
                 dtype=np.float64, seed: int | None = None,
                 rng: np.random.Generator | None = None):
        where = "MultiLayerNetExtend"
        self.input_size = _positive_int(input_size, "input_size", where)
        self.output_size = _positive_int(output_size, "output_size", where)
        if isinstance(hidden_size_list, (int, np.integer)) or not hasattr(hidden_size_list,
                                                                           "__iter__"):
            raise ValueError(f"{where}: hidden_size_list must be a list of sizes such as "
                             f"[100, 100], got {hidden_size_list!r}")
        self.hidden_size_list = [_positive_int(h, "each hidden size", where)
                                 for h in hidden_size_list]
        if activation not in self._ACTIVATIONS:
            raise ValueError(f"{where}: activation must be 'relu' or 'sigmoid', got "
                             f"{activation!r}")
        if not 0 <= dropout_ration < 1:
            raise ValueError(f"{where}: dropout_ration must be in [0, 1), got {dropout_ration!r}")
        if weight_decay_lambda < 0:
            raise ValueError(f"{where}: weight_decay_lambda must be >= 0, got "
                             f"{weight_decay_lambda!r}")
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise ValueError(f"{where}: dtype must be a float type, got {self.dtype}")
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.use_dropout, self.use_batchnorm = use_dropout, use_batchnorm
        rng = rng if rng is not None else np.random.default_rng(seed)

        sizes = [self.input_size, *self.hidden_size_list, self.output_size]
        self.params = ParamDict()
        for i in range(1, len(sizes)):
            scale = init_scale(weight_init_std, sizes[i - 1], where)
            self.params[f"W{i}"] = (scale * rng.standard_normal((sizes[i - 1], sizes[i]))
                                    ).astype(self.dtype)
            self.params[f"b{i}"] = np.zeros(sizes[i], self.dtype)

        self.layers = OrderedDict()
        self._grad_sources = []
        for i in range(1, len(sizes)):
            affine = Affine(self.params[f"W{i}"], self.params[f"b{i}"], input_grad=i > 1)
            self.layers[f"Affine{i}"] = affine
            self._grad_sources += [(f"W{i}", affine, "dW"), (f"b{i}", affine, "db")]
            if i == len(sizes) - 1:
                break
            if use_batchnorm:
                self.params[f"gamma{i}"] = np.ones(sizes[i], self.dtype)
                self.params[f"beta{i}"] = np.zeros(sizes[i], self.dtype)
                norm = BatchNormalization(self.params[f"gamma{i}"], self.params[f"beta{i}"])
                self.layers[f"BatchNorm{i}"] = norm
                self._grad_sources += [(f"gamma{i}", norm, "dgamma"), (f"beta{i}", norm, "dbeta")]
            self.layers[f"Activation_function{i}"] = self._ACTIVATIONS[activation]()
            if use_dropout:
                self.layers[f"Dropout{i}"] = Dropout(dropout_ration)
        self._decay_keys = tuple(f"W{i}" for i in range(1, len(sizes)))
        self.last_layer = SoftmaxWithLoss()

    def _check_input(self, x: np.ndarray, where: str) -> None:
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != self.input_size:
            raise ValueError(f"MultiLayerNetExtend.{where}: x has shape {x.shape} but the "
                             f"network takes (N, {self.input_size}) (input_size="
                             f"{self.input_size}); pass a batch of flattened samples")

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """Fraction of samples whose largest logit is the label (inference mode)."""
        return super().accuracy(x, t)
