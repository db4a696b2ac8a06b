"""The global random generator behind chainrule's initialisers, dropout and shuffling."""
from __future__ import annotations

import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed chainrule's global generator (like torch.manual_seed) and return it."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def get_rng() -> np.random.Generator:
    return _rng


class Generator:
    """PyTorch's torch.Generator over a NumPy generator: `Generator().manual_seed(42)` for
    random_split, DataLoader(generator=...) and the factories' generator= argument."""

    def __init__(self, device: object = None) -> None:
        if device not in (None, "cpu") and str(device) != "cpu":
            raise RuntimeError(f"Generator: device {device!r} is not available; chainrule "
                               f"computes on the CPU with NumPy only")
        self._rng = np.random.default_rng()
        self._seed: int | None = None

    def manual_seed(self, seed: int) -> "Generator":
        self._rng, self._seed = np.random.default_rng(seed), int(seed)
        return self

    def initial_seed(self) -> int | None:
        return self._seed

    def __getattr__(self, name: str):
        return getattr(self._rng, name)  # permutation, random, standard_normal, ...
