"""Small deterministic 2-D classification sets (spiral, blobs) for quick demos and tests.

They need no download, are generated in milliseconds, and come back in the same
``((x_train, t_train), (x_test, t_test))`` shape as `load_mnist` (float32 x, int64 t).
"""
from __future__ import annotations

import numpy as np

__all__ = ["make_spiral", "make_blobs", "load_toy", "TOY_SETS"]


def make_spiral(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the classic cs231n set): not linearly
    separable, so a hidden layer is needed. Returns x (N, 2) float32, t (N,) int64."""
    _check_sizes(n_samples, n_classes)
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) % n_classes
    # position along the arm, evenly spread within each class
    r = np.empty(n_samples)
    for c in range(n_classes):
        members = t == c
        r[members] = np.linspace(0.0, 1.0, members.sum())
    theta = r * 4.0 + t * (2 * np.pi / n_classes) + rng.standard_normal(n_samples) * noise
    x = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    return x.astype(np.float32), t.astype(np.int64)


def make_blobs(n_samples: int = 300, n_classes: int = 3, std: float = 0.5,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs with centres evenly spaced on a circle of radius 2 (nearly
    linearly separable). Returns x (N, 2) float32, t (N,) int64."""
    _check_sizes(n_samples, n_classes)
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) % n_classes
    angle = 2 * np.pi * t / n_classes
    centres = 2.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    x = centres + std * rng.standard_normal((n_samples, 2))
    return x.astype(np.float32), t.astype(np.int64)


TOY_SETS = {"spiral": make_spiral, "blobs": make_blobs}


def load_toy(name: str = "spiral", train_size: int = 600, test_size: int = 300,
             seed: int = 0, **kwargs):
    """A shuffled train/test split of a toy set: ``((x_train, t_train), (x_test, t_test))``."""
    if name not in TOY_SETS:
        raise ValueError(f"unknown toy set {name!r}; choose from {sorted(TOY_SETS)}")
    if train_size < 1 or test_size < 1:
        raise ValueError(f"train_size and test_size must be >= 1, got {train_size}, {test_size}")
    x, t = TOY_SETS[name](n_samples=train_size + test_size, seed=seed, **kwargs)
    order = np.random.default_rng(seed + 1).permutation(len(x))
    x, t = x[order], t[order]
    return (x[:train_size], t[:train_size]), (x[train_size:], t[train_size:])


def _check_sizes(n_samples: int, n_classes: int) -> None:
    if n_classes < 2 or n_samples < n_classes:
        raise ValueError(f"need n_classes >= 2 and n_samples >= n_classes, "
                         f"got n_samples={n_samples}, n_classes={n_classes}")
