"""Backprop vs numerical gradients for TwoLayerNet on a few MNIST images (the book's check).

Prints, per parameter, the mean absolute difference (what the book prints) plus the largest
relative difference and a verdict, so "is 1e-10 small?" has an answer.
"""
import numpy as np

from chainrule.models import TwoLayerNet


def load_samples(n: int = 3):
    """The first n MNIST training images with one-hot labels; random data if MNIST is absent."""
    try:
        from chainrule.datasets import load_mnist
        (x_train, t_train), _ = load_mnist(normalize=True, one_hot_label=True)
        return x_train[:n], t_train[:n]
    except Exception as err:  # no dataset module yet, no network, no cache ...
        print(f"note: MNIST could not be loaded ({type(err).__name__}: {err}); "
              f"using random data instead")
        rng = np.random.default_rng(0)
        return rng.random((n, 784)), np.eye(10)[rng.integers(0, 10, n)]


x_batch, t_batch = load_samples()
network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, seed=0)

grad_numerical = network.numerical_gradient(x_batch, t_batch)
grad_backprop = network.gradient(x_batch, t_batch)

for key in grad_numerical:
    diff = np.abs(grad_backprop[key] - grad_numerical[key])
    scale = np.maximum(np.abs(grad_backprop[key]), np.abs(grad_numerical[key]))
    rel = np.max(diff / np.maximum(scale, 1e-8))
    verdict = "ok" if diff.mean() < 1e-7 and rel < 1e-3 else "MISMATCH"
    print(f"{key}: mean abs diff {diff.mean():.3e}, max rel diff {rel:.1e}  {verdict}")
