"""`save` / `load` in the safetensors format, written with NumPy and json only.

The format: 8 bytes little-endian u64 N, then N bytes of JSON header
{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__":
{str: str}} (padded with spaces to a multiple of 8), then the raw little-endian bytes,
each tensor's range relative to the end of the header, contiguous and covering the
whole byte buffer. Files interoperate with the `safetensors` package and PyTorch; no
pickle is involved, so loading a file can never run code.

Writes are atomic: a temporary file in the same directory, flushed and fsynced, then
os.replace over the target — a crash mid-save leaves the old file intact. Every file
records each tensor's SHA-256 in the metadata field "chainrule.sha256", which `load`
verifies. Reading treats the file as untrusted: any malformed header is a
SafetensorsError naming the file, never a crash.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import numpy as np

from chainrule.engine import Tensor, as_tensor, check_device
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
_MAX_INT64 = 2**63 - 1
HASH_KEY = "chainrule.sha256"   # metadata field: JSON {tensor name: SHA-256 hex of its bytes}


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
        value = value.numpy()
    if not isinstance(value, (np.ndarray, np.generic)):
        raise SafetensorsError(f"save: {key!r} is a {type(value).__name__}; values must be "
                               f"Tensors or NumPy arrays")
    return np.asarray(value)


def _header(arrays: dict[str, np.ndarray], metadata: Mapping[str, str] | None) -> bytes:
    header: dict[str, Any] = {}
    for k, v in (metadata or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise SafetensorsError(f"save: metadata must map str to str, got "
                                   f"{type(k).__name__} -> {type(v).__name__} for {k!r}")
        if k == HASH_KEY:
            raise SafetensorsError(f"save: the metadata key {HASH_KEY!r} is reserved for the "
                                   f"tensors' checksums, which save records itself")
    hashes = {key: hashlib.sha256(_raw(arr)).hexdigest() for key, arr in arrays.items()}
    header["__metadata__"] = {**(metadata or {}), HASH_KEY: json.dumps(hashes)}
    offset = 0
    for key, arr in arrays.items():
        end = offset + arr.nbytes
        header[key] = {"dtype": _dtype_name(arr, key), "shape": list(arr.shape),
                       "data_offsets": [offset, end]}
        offset = end
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw


def _little_endian(arr: np.ndarray) -> np.ndarray:
    """The array as the file stores it: little-endian, C order."""
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and not _LITTLE):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return arr if arr.flags.c_contiguous else arr.copy(order="C")  # keeps 0-d as 0-d


def _raw(arr: np.ndarray) -> memoryview | bytes:
    """The bytes of a little-endian C-ordered array, without a copy."""
    return arr.data.cast("B") if arr.size else b""


def _write_array(f: BinaryIO, arr: np.ndarray) -> None:
    """Write one tensor's bytes, little-endian, C order."""
    f.write(_raw(_little_endian(arr)))


_LITTLE = np.little_endian


def save(tensors: Mapping[str, Any], path: str | os.PathLike,
         metadata: Mapping[str, str] | None = None) -> None:
    """Save a dict of name -> Tensor/array (e.g. `model.state_dict()`) as safetensors,
    atomically. `metadata` (str -> str) goes to the header's "__metadata__", with each
    tensor's SHA-256 under "chainrule.sha256" so that `load` can detect corruption."""
    if not isinstance(tensors, Mapping):
        raise SafetensorsError(f"save: expected a dict of name -> tensor (a state dict: "
                               f"save model.state_dict(), not the model), got "
                               f"{type(tensors).__name__}; chainrule saves safetensors files "
                               f"and never pickles objects")
    arrays: dict[str, np.ndarray] = {}
    for key, value in tensors.items():
        if not isinstance(key, str) or key == "__metadata__":
            raise SafetensorsError(f"save: tensor names must be strings other than "
                                   f"'__metadata__', got {key!r}")
        arrays[key] = _little_endian(_to_array(key, value))
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
    except ValueError as err:        # bad UTF-8 or JSON, an integer of thousands of digits
        raise SafetensorsError(f"{where}: header is not valid JSON ({err})") from None
    except (RecursionError, MemoryError):
        raise SafetensorsError(f"{where}: header nests JSON too deeply (or is too large) "
                               f"to be safetensors") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{where}: header must be a JSON object")
    metadata = header.pop("__metadata__", None)
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError(f"{where}: __metadata__ must map strings to strings")
    return n, header, metadata


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _entry(where: str, key: str, info: Any) -> tuple[np.dtype, tuple[int, ...], int, int]:
    """(dtype, shape, begin, end) of one header entry, every number a checked int64."""
    def ints(value: Any, length: int | None = None) -> bool:
        return isinstance(value, list) and (length is None or len(value) == length) \
            and all(type(v) is int for v in value)
    if not isinstance(info, dict) or info.get("dtype") not in _DTYPES \
            or not ints(info.get("shape")) or not ints(info.get("data_offsets"), 2):
        raise SafetensorsError(f"{where}: bad header entry for {key!r}: {_short(info)} "
                               f"(expected dtype, shape and data_offsets of integers)")
    dtype, shape = _DTYPES[info["dtype"]], tuple(info["shape"])
    begin, end = info["data_offsets"]
    if any(s < 0 for s in shape):
        raise SafetensorsError(f"{where}: {key!r} has a negative dimension in its shape "
                               f"{_short(list(shape))}")
    if any(s > _MAX_INT64 for s in shape) or math.prod(shape) * dtype.itemsize > _MAX_INT64:
        raise SafetensorsError(f"{where}: {key!r} declares the shape {_short(list(shape))}, "
                               f"whose size overflows int64")
    return dtype, shape, begin, end


def _recorded_hashes(where: str, metadata: Mapping[str, str], names: list[str]
                     ) -> dict[str, str] | None:
    """The SHA-256 per tensor from the metadata; None for files written without them
    (other tools, older chainrule). A damaged field is a SafetensorsError."""
    if HASH_KEY not in metadata:
        return None
    try:
        hashes = json.loads(metadata[HASH_KEY])
    except (ValueError, RecursionError):
        raise SafetensorsError(f"{where}: metadata field {HASH_KEY!r} is not valid JSON "
                               f"(the file is damaged)") from None
    if not isinstance(hashes, dict) or not all(isinstance(h, str) for h in hashes.values()):
        raise SafetensorsError(f"{where}: metadata field {HASH_KEY!r} must map tensor names "
                               f"to SHA-256 hex digests (the file is damaged)")
    for key in names:
        if key not in hashes:
            raise SafetensorsError(f"{where}: metadata field {HASH_KEY!r} has no SHA-256 for "
                                   f"tensor {key!r} (the file is damaged)")
    for key in hashes:
        if key not in names:
            raise SafetensorsError(f"{where}: metadata field {HASH_KEY!r} records tensor "
                                   f"{key!r}, which the file does not hold (it was cut)")
    return hashes


def _read(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    where = f"load: {os.fspath(path)}"
    with open(path, "rb") as f:
        n, header, metadata = _read_header(f, os.fstat(f.fileno()).st_size, where)
        data = memoryview(f.read())
    hashes = _recorded_hashes(where, metadata, list(header))
    arrays: dict[str, np.ndarray] = {}
    spans = []
    for key, info in header.items():
        dtype, shape, begin, end = _entry(where, key, info)
        if not 0 <= begin <= end <= len(data) \
                or end - begin != math.prod(shape) * dtype.itemsize:
            raise SafetensorsError(f"{where}: {key!r} ({info['dtype']} {list(shape)}) does not "
                                   f"match its byte range [{begin}, {end}) of {len(data)}")
        if hashes is not None and hashlib.sha256(data[begin:end]).hexdigest() != hashes[key]:
            raise SafetensorsError(f"{where}: tensor {key!r} does not match the SHA-256 "
                                   f"recorded when it was saved: the file is corrupted "
                                   f"(restore it from a copy or save it again)")
        spans.append((begin, end, key))
        try:
            arr = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        except ValueError as err:    # e.g. more dimensions than NumPy supports
            raise SafetensorsError(f"{where}: {key!r} cannot be read as an array: {err}") \
                from None
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


def load(path: str | os.PathLike, map_location: Any = None, weights_only: bool = True,
         mmap: Any = None) -> dict[str, Tensor]:
    """Read a safetensors file into a dict of name -> Tensor (in the file's order), e.g.
    for `model.load_state_dict(chainrule.load(path))`. PyTorch's `map_location` (the CPU)
    and `weights_only` are accepted: a safetensors file holds weights only, and nothing is
    ever unpickled, whatever weights_only says.

    Each tensor is checked against the SHA-256 that `save` recorded (a mismatch is a
    SafetensorsError naming the file and the tensor); files without the record (other
    tools, chainrule before it was added) still load, unverified."""
    if map_location is not None and not callable(map_location) \
            and not isinstance(map_location, dict):
        check_device(map_location, "load")
    arrays, _ = _read(path)
    return {key: as_tensor(arr) for key, arr in arrays.items()}


def load_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The header's "__metadata__" (str -> str) as given to `save`, without the checksum
    record; {} when there is none."""
    with open(path, "rb") as f:
        metadata = _read_header(f, os.fstat(f.fileno()).st_size, f"load: {os.fspath(path)}")[2]
    return {k: v for k, v in metadata.items() if k != HASH_KEY}
