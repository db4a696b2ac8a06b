"""The checks the chapter 6-7 layers share: a dout shaped like the output, ints where ints belong.

`book.layers` re-exports those layers, so they cannot import its `Layer` base (that would be
an import circle); `CheckedLayer` gives them the same messages.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["CheckedLayer", "check_int"]


class CheckedLayer:
    """backward needs a forward first and a dout of the output's shape, or a ValueError."""

    out_shape: tuple | None = None

    def _check_dout(self, dout) -> None:
        name = type(self).__name__
        if self.out_shape is None:
            raise ValueError(f"{name}.backward called before forward: run forward first, "
                             f"it caches what backward needs")
        if np.shape(dout) != self.out_shape:
            raise ValueError(f"{name}.backward: dout has shape {np.shape(dout)} but forward's "
                             f"output has shape {self.out_shape}; pass a dout shaped like "
                             f"the output")


def check_int(where: str, what: str, value, low: int) -> int:
    """value as an int, or a ValueError naming `where` unless it is an integer >= low."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{where}: {what} must be an integer >= {low}, got {value!r}")
    return int(value)
