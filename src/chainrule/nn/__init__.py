"""chainrule.nn: PyTorch-shaped modules, losses and initialisers on the autograd engine.

    from chainrule import nn
    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    loss = nn.CrossEntropyLoss()(model(x), t)
"""
from chainrule.nn import data, functional, init, utils
from chainrule.nn.extra_layers import (ELU, AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Embedding,
                                       L1Loss, LayerNorm, LeakyReLU, ModuleDict, SiLU,
                                       SmoothL1Loss, Softplus)
from chainrule.nn.layers import (BatchNorm1d, Conv2d, Dropout, Flatten, Identity, Linear,
                                 LogSoftmax, MaxPool2d, ReLU, Sigmoid, Softmax, Tanh)
from chainrule.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from chainrule.nn.module import Module, ModuleList, Parameter, Sequential, StateDictError

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "StateDictError",
           "Identity", "Linear", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Flatten",
           "Dropout", "BatchNorm1d", "Conv2d", "MaxPool2d",
           "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
           "functional", "init", "data", "utils", "ELU", "AdaptiveAvgPool2d", "AvgPool2d",
           "BatchNorm2d", "Embedding", "L1Loss", "LayerNorm", "LeakyReLU", "ModuleDict", "SiLU",
           "SmoothL1Loss", "Softplus"]


def __getattr__(name: str):
    raise AttributeError(f"module 'chainrule.nn' has no attribute {name!r}: if it is a "
                         f"PyTorch module or function, chainrule does not support it yet")
