"""Shared by the chapter 6-8 network tests: small data and the gradient comparison."""
import numpy as np


def blobs(n=8, dim=5, classes=3, seed=0):
    """A small separable problem: one Gaussian blob per class (float64)."""
    rng = np.random.default_rng(seed)
    centers = 3 * rng.standard_normal((classes, dim))
    t = rng.integers(0, classes, n)
    return centers[t] + rng.standard_normal((n, dim)), t


def bars(n, size=8, seed=0, noise=0.3):
    """(n, 1, size, size) images of three classes: a horizontal bar, a vertical bar or a
    diagonal, at a random place, under Gaussian noise."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 3, n)
    x = noise * rng.standard_normal((n, 1, size, size))
    for i, label in enumerate(t):
        k = rng.integers(1, size - 1)
        if label == 0:
            x[i, 0, k, :] += 1.0
        elif label == 1:
            x[i, 0, :, k] += 1.0
        else:
            x[i, 0] += np.roll(np.eye(size), k, axis=1)
    return x, t


def shift_biases(net, seed=0, scale=0.1):
    """Move the zero-initialised biases off zero, so that no pre-activation sits exactly on
    ReLU's kink (where a central difference sees half a slope)."""
    rng = np.random.default_rng(seed)
    for key, value in net.params.items():
        if key.startswith("b"):
            value += scale * rng.standard_normal(value.shape)


def assert_gradients_agree(net, x, t, rtol=1e-6):
    """gradient() against numerical_gradient(): for every parameter, the worst element's
    error is at most rtol times the largest numerical gradient of the network."""
    grad = net.gradient(x, t)
    numerical = net.numerical_gradient(x, t)
    assert list(grad) == list(numerical) == list(net.params)
    scale = max(float(np.max(np.abs(v))) for v in numerical.values())
    assert scale > 1e-3, scale          # a check of all-zero gradients would prove nothing
    errors = {}
    for key in grad:
        assert grad[key].shape == numerical[key].shape == net.params[key].shape, key
        assert grad[key].dtype == np.float64, key
        errors[key] = float(np.max(np.abs(grad[key] - numerical[key])))
    assert max(errors.values()) <= rtol * scale, (errors, scale)
    return grad, numerical
