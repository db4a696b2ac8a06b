"""Kernels that split their work over the idle cores (chainrule.threads decides when), each
index computed alone so the bits never depend on the split: the product of two matrices, an
elementwise update, and np.where against zero without its branches."""
from __future__ import annotations

from typing import Callable

import numpy as np

import chainrule.threads as threads

__all__ = ["parallel", "elementwise", "masked", "matmul"]


def parallel(n: int, work: Callable[[int, int], None], *, products: int = 0,
             elements: int = 0) -> None:
    """work(lo, hi) over 0 .. n (images, rows, elements): in parts on the idle cores when the
    whole is at least SPLIT_PRODUCT multiply-adds or SPLIT_ELEMENTS elements passed over
    (chainrule.threads), else at once here. Every kernel that uses it computes each index
    alone, so the bits do not depend on the split."""
    if products >= threads.SPLIT_PRODUCT or elements >= threads.SPLIT_ELEMENTS:
        threads.in_parts(work, n)
    else:
        work(0, n)


def elementwise(update: Callable, arrays: list, passes: int = 1) -> None:
    """update(*arrays) for an update that works element by element (an optimizer's step; a
    None stands for an array it does not have): in flat parts on the idle cores when the
    arrays are large (`passes` passes over them) and contiguous, with the same bits."""
    size = arrays[0].size
    if passes * size < threads.SPLIT_ELEMENTS or not all(
            a is None or (a.flags.c_contiguous and a.shape == arrays[0].shape) for a in arrays):
        update(*arrays)   # small (most parameters): straight through, no checks or copies
        return
    flat = [None if a is None else a.reshape(-1) for a in arrays]
    threads.in_parts(lambda lo, hi: update(*(None if a is None else a[lo:hi] for a in flat)),
                     size)


def masked(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """np.where(keep, x, 0) bit for bit, for a float array x and a bool mask of its shape,
    without np.where's branches: x's bits times the mask (np.where takes about 4 ns an
    element on a random mask, this about 0.6). A nan or inf of x where keep is False gives
    +0.0, as np.where does, where x * keep would give nan."""
    bits = np.dtype(f"i{x.dtype.itemsize}")
    if x.size < threads.SPLIT_ELEMENTS or not (x.flags.c_contiguous and keep.flags.c_contiguous):
        return np.multiply(x.view(bits), keep, dtype=bits).view(x.dtype)
    out = np.empty(x.shape, x.dtype)
    flat_x, flat_keep, flat_out = (a.reshape(-1) for a in (x.view(bits), keep, out.view(bits)))
    parallel(x.size, lambda lo, hi: np.multiply(
        flat_x[lo:hi], flat_keep[lo:hi], out=flat_out[lo:hi], dtype=bits), elements=x.size)
    return out


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b; a product of two float matrices of SPLIT_PRODUCT multiply-adds or more is
    computed in row blocks on the idle cores (chainrule.threads says when and why), with
    the same bits as one call."""
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == b.ndim == 2
            and a.shape[1] == b.shape[0] and a.dtype == b.dtype and a.dtype.kind == "f"
            and a.shape[0] * a.shape[1] * b.shape[1] >= threads.SPLIT_PRODUCT):
        return np.matmul(a, b)   # small, batched or mixed: NumPy's product (and its errors)
    out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    parallel(a.shape[0], lambda lo, hi: np.matmul(a[lo:hi], b, out=out[lo:hi]),
             products=a.shape[0] * a.shape[1] * b.shape[1])
    return out
