"""`TensorDataset` and `DataLoader`, shaped like torch.utils.data.

Batches of a TensorDataset are cut by one fancy-indexing per array (the fast path);
any other dataset (anything with `__len__` and `__getitem__`) is batched by stacking
its items. Shuffling draws a fresh permutation each epoch from a NumPy Generator: pass
`seed=` or `generator=` for a reproducible order, else chainrule's global generator
(`chainrule.manual_seed`) is used.
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from chainrule.engine import Tensor, as_tensor

__all__ = ["Dataset", "TensorDataset", "DataLoader", "Subset", "random_split", "default_collate"]


class Dataset:
    """Anything with `__len__` and `__getitem__(i)`; subclass it for your own data."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are rows of the given arrays/Tensors, which share their first dimension."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: give at least one array")
        arrays = [t.numpy() if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: array {i} is 0-d; samples are rows")
        sizes = [len(a) for a in arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between arrays: first "
                             f"dimensions are {sizes}")
        self.arrays: tuple[np.ndarray, ...] = tuple(arrays)

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return tuple(as_tensor(a) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(as_tensor(a[index]) for a in self.arrays)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Any) -> None:
        self.dataset, self.indices = dataset, [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]


def random_split(dataset: Any, lengths: Any, generator: Any = None) -> list:
    """Split into non-overlapping random Subsets of the given lengths (or fractions that sum
    to 1, as PyTorch), drawing from `generator` or chainrule's global generator."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(0 <= f <= 1 for f in lengths) and math.isclose(sum(lengths), 1) \
            and sum(lengths) != n:
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {lengths} do not sum to the dataset's "
                         f"length {n}")
    if generator is None:
        from chainrule.random import get_rng
        generator = get_rng()
    order = generator.permutation(n)
    out, start = [], 0
    for k in lengths:
        out.append(Subset(dataset, order[start:start + k]))
        start += k
    return out


def default_collate(items: list) -> Any:
    """Stack a list of samples into a batch (as torch.utils.data.default_collate)."""
    return _collate(items)


def _collate(items: list) -> Any:
    """Stack a list of samples: tuples field by field, Tensors/arrays/numbers into one array."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        return tuple(_collate([it[i] for it in items]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _collate([it[k] for it in items]) for k in first}
    if isinstance(first, (int, np.integer)) and not isinstance(first, bool):
        return as_tensor(np.asarray(items, dtype=np.int64))  # class labels: int64, as PyTorch
    arrays = [it.numpy() if isinstance(it, Tensor) else np.asarray(it) for it in items]
    stacked = np.stack(arrays)
    if stacked.dtype == np.float64 and not isinstance(first, (np.ndarray, np.generic, Tensor)):
        stacked = stacked.astype(np.float32)  # Python floats -> float32, as tensor() does
    return as_tensor(stacked)


class DataLoader:
    """Iterate over a dataset in batches of Tensors.

    shuffle: a new random order every epoch; drop_last: skip a final short batch;
    seed / generator: the shuffling's randomness (one or the other)."""

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 sampler: Any = None, batch_sampler: Any = None, num_workers: int = 0,
                 collate_fn: Any = None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn: Any = None,
                 generator: np.random.Generator | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        if sampler is not None or batch_sampler is not None:
            raise NotImplementedError("DataLoader: samplers are not supported yet; use "
                                      "shuffle=True or a Subset")
        self.collate_fn, self.num_workers, self.pin_memory = collate_fn, num_workers, pin_memory
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, "
                             f"got {batch_size!r}")
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: pass seed or generator, not both")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__, "
                            f"got {type(dataset).__name__}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.generator = np.random.default_rng(seed) if seed is not None else generator

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self.generator
        if rng is None:
            from chainrule.random import get_rng
            rng = get_rng()
        return rng.permutation(n)

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        stop = len(self) * self.batch_size
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        for start in range(0, min(stop, len(order)), self.batch_size):
            idx = order[start:start + self.batch_size]
            if fast:
                yield self._slice(idx, start)
            else:
                yield (self.collate_fn or _collate)([self.dataset[int(i)] for i in idx])

    def _slice(self, idx: np.ndarray, start: int) -> tuple[Tensor, ...]:
        if self.shuffle:
            return tuple(as_tensor(a[idx]) for a in self.dataset.arrays)
        end = start + len(idx)                # in order: a slice is a view, no copy needed
        return tuple(as_tensor(a[start:end]) for a in self.dataset.arrays)

