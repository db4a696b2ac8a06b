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
