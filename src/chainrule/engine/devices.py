"""Devices and dtypes as PyTorch names them, for a library that computes on the CPU only.

`device("cpu")` is accepted everywhere PyTorch takes a device; any other device (CUDA, MPS,
XPU, ...) can be named, as in PyTorch, but using it is a clear error. The dtype names
(`float32`, `float`, `double`, `long`, `bool`, ...) are NumPy's scalar types, so they work
wherever NumPy takes a dtype and compare equal to a tensor's `.dtype`."""
from __future__ import annotations

from typing import Any

import numpy as np


class device:  # noqa: N801  (PyTorch's name)
    """A device as PyTorch names it: `device("cpu")`, `device("cuda", 0)`, `device("cuda:1")`."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any = "cpu", index: int | None = None):  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # torch.device(0) is the first CUDA device
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu', got {type!r}")
        kind, _, idx = type.partition(":")
        if idx:
            if not idx.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}")
            index = int(idx)
        self.type, self.index = kind.strip().lower(), index

    def __repr__(self) -> str:
        extra = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{extra})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


class DeviceError(RuntimeError):
    """A device other than the CPU was asked for."""


def check_device(dev: Any, where: str) -> None:
    """Accept None, "cpu" or a CPU device; refuse any other device with what to do."""
    if dev is None or dev is CPU:
        return
    d = dev if isinstance(dev, device) else device(dev)
    if d.type != "cpu":
        raise DeviceError(
            f"{where}: device '{d}' is not available: chainrule computes on the CPU with "
            f"NumPy only (no CUDA, MPS or other accelerator). Use device='cpu' or leave the "
            f"device out; to train on a GPU, move the script to PyTorch (chainrule.save "
            f"writes safetensors files that torch loads with safetensors.torch.load_file).")


_default_device = CPU


def set_default_device(dev: Any) -> None:
    """As PyTorch's, for the CPU (the only device chainrule has); None resets it."""
    check_device(dev, "set_default_device")


def get_default_device() -> device:
    return _default_device


# PyTorch's dtype names -> NumPy scalar types
DTYPES = {
    "float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
    "float16": np.float16, "half": np.float16, "int64": np.int64, "long": np.int64,
    "int32": np.int32, "int": np.int32, "int16": np.int16, "short": np.int16,
    "int8": np.int8, "uint8": np.uint8, "bool": np.bool_, "complex64": np.complex64,
    "complex128": np.complex128, "cfloat": np.complex64, "cdouble": np.complex128,
}

_TENSOR_TYPES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
    "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor",
}


def as_dtype(dtype: Any, where: str) -> np.dtype:
    """A dtype given as a NumPy type, a NumPy dtype or a PyTorch name ('float32', 'long',
    'torch.float64'), as a NumPy dtype."""
    if hasattr(dtype, "chainrule_dtype"):  # torch.FloatTensor and its kind
        return np.dtype(dtype.chainrule_dtype)
    if isinstance(dtype, str):
        name = dtype[len("torch."):] if dtype.startswith("torch.") else dtype
        if name in DTYPES:
            return np.dtype(DTYPES[name])
        kind = name[:-len("Tensor")] if name.endswith("Tensor") else None
        for key, tname in _TENSOR_TYPES.items():
            if tname == name or (kind and tname == kind + "Tensor"):
                return np.dtype(key)
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: {dtype!r} is not a dtype; use one of chainrule's dtypes "
                        f"(chainrule.float32, chainrule.int64, ...)") from None


class TensorType:
    """torch.FloatTensor, torch.LongTensor, ...: makes a tensor of its dtype from data, and
    names that dtype in x.type(torch.FloatTensor)."""

    def __init__(self, name: str, dtype: Any):
        self.__name__, self.chainrule_dtype = name, dtype

    def __call__(self, data: Any = ()) -> Any:
        from chainrule.engine.tensors import Tensor
        return Tensor(data, dtype=self.chainrule_dtype)

    def __repr__(self) -> str:
        return f"<class 'torch.{self.__name__}'>"


TENSOR_TYPES = {name: TensorType(name, np.dtype(key)) for key, name in _TENSOR_TYPES.items()}


def tensor_type_name(dtype: np.dtype) -> str:
    """PyTorch's x.type() string for a CPU tensor of this dtype ('torch.FloatTensor')."""
    return "torch." + _TENSOR_TYPES.get(np.dtype(dtype).name, f"{np.dtype(dtype).name}Tensor")
