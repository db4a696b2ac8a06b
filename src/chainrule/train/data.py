"""The data a run trains on: the named set cut to size, in the config's dtype, checked."""
from __future__ import annotations

import numpy as np

from chainrule.train.config import TrainConfig

__all__ = ["Data", "load_data", "check_data", "TOY_TRAIN_SIZE", "TOY_TEST_SIZE"]

Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
# the toy sets' default sizes (MNIST's are its own: 60000 / 10000)
TOY_TRAIN_SIZE, TOY_TEST_SIZE = 1000, 500


def load_data(config: TrainConfig) -> Data:
    """The data set named by the config, cut to train_size/test_size (the first samples),
    images flattened, x in the config's dtype and integer labels."""
    if config.dataset == "mnist":
        from chainrule.datasets import load_mnist
        (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True)
    else:
        from chainrule.datasets import load_toy
        (x_train, t_train), (x_test, t_test) = load_toy(
            config.dataset, train_size=config.train_size or TOY_TRAIN_SIZE,
            test_size=config.test_size or TOY_TEST_SIZE, seed=config.seed)
    x_train, t_train = _subset("train", x_train, t_train, config.train_size)
    x_test, t_test = _subset("test", x_test, t_test, config.test_size)
    dtype = np.dtype(config.dtype)
    return ((x_train.astype(dtype, copy=False), t_train),
            (x_test.astype(dtype, copy=False), t_test))


def _subset(split: str, x: np.ndarray, t: np.ndarray, size: int | None):
    if size is None:
        return x, t
    if size > len(x):
        raise ValueError(f"--{split}-size {size} is larger than the {len(x)} {split} samples "
                         f"available")
    return x[:size], t[:size]


def check_data(data: Data, dtype: np.dtype) -> int:
    """Refuse inputs that are not 2-d arrays of `dtype` or labels that are not integer
    class indices (nothing is cast quietly); return the number of classes."""
    (x_train, t_train), (x_test, t_test) = data
    for name, x, t in (("train", x_train, t_train), ("test", x_test, t_test)):
        if x.ndim != 2 or x.dtype != dtype:
            raise TypeError(f"{name} inputs must be a 2-d {dtype} array, got {x.dtype} {x.shape}")
        if t.ndim != 1 or len(t) != len(x) or not np.issubdtype(t.dtype, np.integer):
            raise TypeError(f"{name} labels must be {len(x)} integer class indices, "
                            f"got {t.dtype} {t.shape}")
    return int(max(t_train.max(), t_test.max())) + 1
