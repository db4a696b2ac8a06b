"""`save` / `load` in the safetensors format, written with NumPy and json only.

The format: 8 bytes little-endian u64 N, then N bytes of JSON header
{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__":
{str: str}} (padded with spaces to a multiple of 8), then the raw little-endian bytes,
each tensor's range relative to the end of the header, contiguous and covering the
whole byte buffer. Files interoperate with the `safetensors` package and PyTorch; no
pickle is involved, so loading a file can never run code.

Writes are atomic: a temporary file in the same directory, flushed and fsynced, then
os.replace over the target — a crash mid-save leaves the old file intact.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import numpy as np

from chainrule.engine import Tensor, as_tensor
from chainrule.atomic import atomic_open

__all__ = ["save", "load", "load_metadata", "SafetensorsError"]

_DTYPES = {  # safetensors name -> little-endian NumPy dtype
    "BOOL": np.dtype("bool"), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"), "U16": np.dtype("<u2"), "F16": np.dtype("<f2"),
    "I32": np.dtype("<i4"), "U32": np.dtype("<u4"), "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"), "U64": np.dtype("<u8"), "F64": np.dtype("<f8"),
}
_NAMES = {dt.newbyteorder("=") if dt.itemsize > 1 else dt: name for name, dt in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A file that is not valid safetensors, or values that cannot be saved."""


def _dtype_name(arr: np.ndarray, key: str) -> str:
    name = _NAMES.get(arr.dtype.newbyteorder("=") if arr.dtype.itemsize > 1 else arr.dtype)
    if name is None:
        raise SafetensorsError(f"save: {key!r} has dtype {arr.dtype}, which safetensors cannot "
                               f"store (use bool, integers or float16/32/64)")
    return name


def _to_array(key: str, value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        value = value.data
    if not isinstance(value, (np.ndarray, np.generic)):
        raise SafetensorsError(f"save: {key!r} is a {type(value).__name__}; values must be "
                               f"Tensors or NumPy arrays")
    return np.asarray(value)


def _header(arrays: dict[str, np.ndarray], metadata: Mapping[str, str] | None) -> bytes:
    header: dict[str, Any] = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError(f"save: metadata must map str to str, got "
                                       f"{type(k).__name__} -> {type(v).__name__} for {k!r}")
        header["__metadata__"] = dict(metadata)
    offset = 0
    for key, arr in arrays.items():
        end = offset + arr.nbytes
        header[key] = {"dtype": _dtype_name(arr, key), "shape": list(arr.shape),
                       "data_offsets": [offset, end]}
        offset = end
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def _write_array(f: BinaryIO, arr: np.ndarray) -> None:
    """Write one tensor's bytes, little-endian, C order."""
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _LITTLE):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    f.write(np.ascontiguousarray(arr).data.cast("B") if arr.size else b"")


_LITTLE = np.little_endian


def save(tensors: Mapping[str, Any], path: str | os.PathLike,
         metadata: Mapping[str, str] | None = None) -> None:
    """Save a dict of name -> Tensor/array (e.g. `model.state_dict()`) as safetensors,
    atomically. `metadata` (str -> str) goes to the header's "__metadata__"."""
    if not isinstance(tensors, Mapping):
        raise SafetensorsError(f"save: expected a dict of name -> tensor, got "
                               f"{type(tensors).__name__}")
    arrays: dict[str, np.ndarray] = {}
    for key, value in tensors.items():
        if not isinstance(key, str) or key == "__metadata__":
            raise SafetensorsError(f"save: tensor names must be strings other than "
                                   f"'__metadata__', got {key!r}")
        arrays[key] = _to_array(key, value)
    header = _header(arrays, metadata)
    path = Path(path)
    with atomic_open(path, "wb") as f:
        f.write(header)
        for arr in arrays.values():
            _write_array(f, arr)


def _read_header(f: BinaryIO, size: int, where: str) -> tuple[int, dict, dict]:
    head = f.read(8)
    if len(head) < 8:
        raise SafetensorsError(f"{where}: file is too short to be safetensors")
    (n,) = struct.unpack("<Q", head)
    if n > _MAX_HEADER or 8 + n > size:
        raise SafetensorsError(f"{where}: header length {n} does not fit the file "
                               f"({size} bytes)")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SafetensorsError(f"{where}: header is not valid JSON ({err})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{where}: header must be a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError(f"{where}: __metadata__ must map strings to strings")
    return n, header, metadata


def _read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    where = f"load: {os.fspath(path)}"
    with open(path, "rb") as f:
        n, header, metadata = _read_header(f, os.fstat(f.fileno()).st_size, where)
        data = memoryview(f.read())
    arrays: dict[str, np.ndarray] = {}
    spans = []
    for key, info in header.items():
        try:
            dtype = _DTYPES[info["dtype"]]
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{where}: bad header entry for {key!r}: {info!r}") from None
        if any(s < 0 for s in shape) or not 0 <= begin <= end <= len(data) \
                or end - begin != int(np.prod(shape)) * dtype.itemsize:
            raise SafetensorsError(f"{where}: {key!r} ({info['dtype']} {list(shape)}) does not "
                                   f"match its byte range [{begin}, {end}) of {len(data)}")
        spans.append((begin, end, key))
        arr = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        arrays[key] = arr.astype(dtype.newbyteorder("="), copy=True)
    spans.sort()
    pos = 0
    for begin, end, key in spans:
        if begin != pos:
            raise SafetensorsError(f"{where}: tensor {key!r} starts at byte {begin}, expected "
                                   f"{pos} (ranges must be contiguous, without overlap)")
        pos = end
    if pos != len(data):
        raise SafetensorsError(f"{where}: {len(data) - pos} trailing bytes after the tensors")
    return arrays, metadata


def load(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a safetensors file into a dict of name -> Tensor (in the file's order), e.g.
    for `model.load_state_dict(chainrule.load(path))`."""
    arrays, _ = _read(path)
    return {key: as_tensor(arr) for key, arr in arrays.items()}


def load_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The header's "__metadata__" (str -> str), {} when there is none."""
    with open(path, "rb") as f:
        return _read_header(f, os.fstat(f.fileno()).st_size, f"load: {os.fspath(path)}")[2]
