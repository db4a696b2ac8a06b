"""The book's published weights (params.pkl: a pickle of a dict of NumPy arrays)
converted to safetensors for `--resume` and `chainrule convert`.

The pickle is read by the book face's restricted unpickler (chainrule.book.params_io),
which refuses any global a dict of arrays does not need before it is imported or called;
chainrule.serialization never reads a pickle.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from chainrule.book.params_io import UnsafePickleError, load_pickle_arrays
from chainrule.serialization import save

__all__ = ["UnsafePickleError", "load_pickle_arrays", "convert_pickle"]


def convert_pickle(src: str | os.PathLike, dst: str | os.PathLike) -> dict[str, np.ndarray]:
    """Convert a pickle of NumPy arrays (read safely, see load_pickle_arrays) to a
    safetensors file written atomically; returns the arrays written."""
    arrays = load_pickle_arrays(src)
    save(arrays, dst, metadata={"converted_from": Path(src).name})
    return arrays
