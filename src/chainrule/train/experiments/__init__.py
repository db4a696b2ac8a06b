"""The book's chapter-6 experiments ("Deep Learning from Scratch", training techniques), one
function each: each trains (or runs) the book's networks, returns an ExperimentResult (the
measured numbers and a short text reading them) and, given `out`, writes the book's figure as
a PNG with summary.txt and results.json beside it.

    optimizers   SGD, Momentum, AdaGrad, Adam on a 5-layer ReLU net: loss curves
    weight-init  std 0.01, Xavier, He with ReLU: loss curves
    batchnorm    with/without batch norm over 16 weight scales: a 4x4 grid of accuracies
    overfitting  300 images, 7 layers: train/test gap, with weight decay, with dropout
    activations  histograms of 5 hidden layers' activations for several weight scales
"""
from __future__ import annotations

import importlib
import inspect

from .common import (DATA_CHOICES, ExperimentResult, PlotUnavailableError, default_out_dir,
                     synthetic_mnist)

__all__ = ["EXPERIMENTS", "DATA_CHOICES", "ExperimentResult", "PlotUnavailableError",
           "default_out_dir", "run_experiment", "synthetic_mnist"]

# name -> (module of this package, one line on what it shows)
EXPERIMENTS = {
    "optimizers": ("optimizers", "SGD, Momentum, AdaGrad and Adam on MNIST: loss curves"),
    "weight-init": ("weight_init", "std 0.01 vs Xavier vs He with ReLU: loss curves"),
    "batchnorm": ("batchnorm", "with vs without batch norm at 16 weight scales"),
    "overfitting": ("overfitting", "300 images: the train/test gap, weight decay, dropout"),
    "activations": ("activations", "histograms of hidden activations per weight scale"),
}


def options_of(name: str) -> set[str]:
    """The keyword options experiment `name` takes."""
    return set(inspect.signature(_module(name).run).parameters) - {"out"}


def _module(name: str):
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"{__name__}.{EXPERIMENTS[name][0]}")


def run_experiment(name: str, out=None, **options) -> ExperimentResult:
    """Run experiment `name`; with `out` (a directory; "default" for runs/experiment-NAME)
    write its figure, summary.txt and results.json there. Options an experiment does not
    take are refused by name; None values are left at the experiment's defaults."""
    module = _module(name)
    options = {k: v for k, v in options.items() if v is not None}
    wrong = sorted(set(options) - options_of(name))
    if wrong:
        raise ValueError(f"experiment {name!r} does not take {', '.join(wrong)}; it takes "
                         f"{', '.join(sorted(options_of(name)))}")
    if out == "default":
        out = default_out_dir(name)
    return module.run(out, **options)
