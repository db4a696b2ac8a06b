"""What the benchmark scripts share: the tutorial's MNIST workload, and PyTorch if installed.

The scripts import it as `common`: Python puts a script's own folder first on sys.path,
so `python benchmarks/<script>.py` finds it from anywhere.
"""
from __future__ import annotations

import numpy as np

INPUT, HIDDEN, OUTPUT = 784, 100, 10
NO_TORCH = "PyTorch is not installed (pip install torch==2.13.0)"


def epoch_starts(iters: int, train_size: int, batch: int) -> list[int]:
    """The iterations at which the tutorial evaluates (i % iter_per_epoch == 0)."""
    per_epoch = max(train_size // batch, 1)
    return [i for i in range(iters) if i % per_epoch == 0]


def workload(iters: int, batch_size: int, seed: int) -> tuple:
    """MNIST as contiguous float32, ((x_train, t_train), (x_test, t_test)), and the row
    indices of every batch, shape (iters, batch_size): the same for every library."""
    from chainrule.datasets import load_mnist

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True,
                                                      one_hot_label=False)
    data = ((np.ascontiguousarray(x_train, np.float32), t_train),
            (np.ascontiguousarray(x_test, np.float32), t_test))
    batches = np.random.default_rng(seed).integers(0, len(x_train), (iters, batch_size))
    return data, batches


def import_torch():
    """The torch module, or None when PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch
