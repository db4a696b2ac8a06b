"""The chapters 6-7 names are where the book keeps them: every layer in (chainrule.)layers,
and a module per book module (optimizer, util, functions, gradient)."""
import importlib

import pytest

import chainrule.book.conv_layers as conv_layers
import chainrule.book.technique_layers as technique_layers


@pytest.mark.parametrize("path", ["chainrule.layers", "chainrule.book.layers"])
def test_every_layer_is_importable_from_the_layers_module(path):
    layers = importlib.import_module(path)
    for name, home in [("Convolution", conv_layers), ("Pooling", conv_layers),
                       ("Dropout", technique_layers), ("BatchNormalization", technique_layers)]:
        assert getattr(layers, name) is getattr(home, name)
        assert name in layers.__all__


@pytest.mark.parametrize("module, names", [
    ("optimizer", ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]),
    ("util", ["smooth_curve", "shuffle_dataset", "conv_output_size", "im2col", "col2im"]),
    ("functions", ["identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu",
                   "relu_grad", "softmax", "mean_squared_error", "sum_squared_error",
                   "cross_entropy_error", "softmax_loss"]),
    ("gradient", ["numerical_gradient", "numerical_gradient_2d"]),
])
def test_the_books_common_modules_have_their_names(module, names):
    mod = importlib.import_module(f"chainrule.book.{module}")
    assert set(names) <= set(mod.__all__)
    assert all(callable(getattr(mod, name)) for name in names)
