"""Reading and writing the book face's parameter files, NumPy only: safetensors written
atomically, and the book's own published pickles (params.pkl) read without running code.

`save_params` always writes safetensors. `load_params` reads safetensors, or a pickle of a
dict (list, tuple) of NumPy arrays through a restricted unpickler that resolves only the
NumPy and collections names such a pickle needs; any other global (os.system,
builtins.eval, a class of the author's) is refused before it is imported or called, as
`torch.load(weights_only=True)` does. So the book's ch07/ch08 scripts load its params.pkl
unchanged, and no pickle can run code.
"""
from __future__ import annotations

import codecs
import collections
import json
import os
import pickle
import struct
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import numpy as np

__all__ = ["save_params_file", "load_params_file", "load_pickle_arrays", "UnsafePickleError"]

def _short(value: Any, limit: int = 200) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "..."


class UnsafePickleError(ValueError):
    """A pickle that names a global other than the few a dict of NumPy arrays needs, or
    that does not hold a dict (list, tuple) of numeric arrays."""


def _numpy_core(module: str, name: str):
    core = getattr(np, "_core", None) or np.core
    return getattr(getattr(core, module), name)


# (module, name) a pickled dict/list/tuple of ndarrays refers to -> the object it gets;
# nothing else is ever looked up or imported
_PICKLE_GLOBALS: dict[tuple[str, str], Any] = {
    **{(f"{pkg}.multiarray", "_reconstruct"): ("multiarray", "_reconstruct")
       for pkg in ("numpy.core", "numpy._core")},
    **{(f"{pkg}.multiarray", "scalar"): ("multiarray", "scalar")
       for pkg in ("numpy.core", "numpy._core")},
    **{(f"{pkg}.numeric", "_frombuffer"): ("numeric", "_frombuffer")
       for pkg in ("numpy.core", "numpy._core")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("collections", "OrderedDict"): "OrderedDict",
    ("_codecs", "encode"): "encode",        # how protocol 2 writes bytes
}


def _restricted_unpickler(f: BinaryIO, where: str):
    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            target = _PICKLE_GLOBALS.get((module, name))
            if target is None:
                raise UnsafePickleError(
                    f"{where}: refused: the pickle asks for the global {module}.{name}, "
                    f"which a dict of NumPy arrays never needs (loading it could run code); "
                    f"nothing was run")
            if isinstance(target, tuple):
                return _numpy_core(*target)
            if target == "OrderedDict":
                return collections.OrderedDict
            if target == "encode":
                return codecs.encode
            return target

        def persistent_load(self, pid: Any) -> Any:
            raise UnsafePickleError(f"{where}: refused: the pickle uses persistent ids")

    return RestrictedUnpickler(f)


def _flatten(where: str, obj: Any, prefix: str, out: dict[str, np.ndarray]) -> None:
    if isinstance(obj, Mapping):
        items = list(obj.items())
    elif isinstance(obj, (list, tuple)):
        items = list(enumerate(obj))
    else:
        if isinstance(obj, np.generic):
            obj = np.asarray(obj)
        if not isinstance(obj, np.ndarray) or obj.dtype.kind not in "biuf":
            raise UnsafePickleError(
                f"{where}: {prefix or 'the pickle'} holds a {type(obj).__name__}"
                f"{' of ' + str(obj.dtype) if isinstance(obj, np.ndarray) else ''}; only "
                f"numeric NumPy arrays (in a dict, list or tuple) can be converted")
        out[prefix] = obj
        return
    if not items and not prefix:
        raise UnsafePickleError(f"{where}: the pickle holds an empty "
                                f"{type(obj).__name__}: no arrays to convert")
    for key, value in items:
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise UnsafePickleError(f"{where}: key {_short(key)} is not a string")
        name = f"{prefix}.{key}" if prefix else str(key)
        if name in out:
            raise UnsafePickleError(f"{where}: two arrays would both be named {name!r}")
        _flatten(where, value, name, out)


def load_pickle_arrays(path: str | os.PathLike, where: str | None = None) -> dict[str, np.ndarray]:
    """The arrays of a pickle holding a dict (list, tuple, nested) of NumPy arrays, such
    as the book's params.pkl, by name ("W1", or "0", "a.b" for lists and nesting).

    The pickle is read by a restricted unpickler that resolves only the NumPy and
    collections names such a pickle needs: any other global (os.system, builtins.eval,
    a class of the author's) is refused with UnsafePickleError naming it, before anything
    it names is imported or called."""
    where = where or f"convert: {os.fspath(path)}"
    with open(path, "rb") as f:
        try:
            obj = _restricted_unpickler(f, where).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                IndexError, KeyError, MemoryError, RecursionError) as err:
            raise UnsafePickleError(f"{where}: not a readable pickle of NumPy arrays "
                                    f"({type(err).__name__}: {_short(str(err))})") from None
    arrays: dict[str, np.ndarray] = {}
    _flatten(where, obj, "", arrays)
    return arrays



_DTYPES = {"F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2")}
_NAMES = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}
_MAX_HEADER = 100 * 1024 * 1024


def save_params_file(params: dict, file_name, network: str = "network") -> None:
    """Write {name: float array} as a safetensors file, atomically."""
    arrays, header, offset = {}, {"__metadata__": {"format": "np", "network": network}}, 0
    for key, value in params.items():
        arr = np.asarray(value)
        if arr.dtype not in _NAMES:
            raise ValueError(f"{network}.save_params: {key!r} has dtype {arr.dtype}; only "
                             f"float16/32/64 parameters are saved")
        arrays[key] = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        header[key] = {"dtype": _NAMES[arr.dtype], "shape": list(arr.shape),
                       "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    path = Path(file_name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(raw)) + raw)
            for arr in arrays.values():
                f.write(arr.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_params_file(file_name, network: str = "network") -> dict[str, np.ndarray]:
    """{name: array} from a safetensors file, or from a pickle of NumPy arrays such as the
    book's params.pkl (read by the restricted unpickler: nothing in it runs); anything else
    is a clear ValueError."""
    data = Path(file_name).read_bytes()
    where = f"{network}.load_params({str(file_name)!r})"
    if data[:1] == b"\x80":  # every pickle of protocol 2 and later starts with PROTO
        return {k: np.asarray(v, dtype=np.float64) if v.dtype.kind in "biu" else v
                for k, v in load_pickle_arrays(file_name, where).items()}
    not_ours = (f"{where}: neither a safetensors file nor a pickle of NumPy arrays "
                f"(save_params writes safetensors; the book's params.pkl is read too)")
    if len(data) < 8:
        raise ValueError(not_ours)
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(_MAX_HEADER, len(data) - 8):
        raise ValueError(not_ours)
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (ValueError, RecursionError):
        raise ValueError(not_ours) from None
    if not isinstance(header, dict):
        raise ValueError(not_ours)
    header.pop("__metadata__", None)
    body, out = data[8 + n:], {}
    for key, info in header.items():
        ok = (isinstance(info, dict) and info.get("dtype") in _DTYPES
              and isinstance(info.get("shape"), list)
              and all(type(s) is int and s >= 0 for s in info["shape"])
              and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2
              and all(type(o) is int for o in info["data_offsets"]))
        if not ok:
            raise ValueError(f"{where}: bad header entry for {key!r}: {str(info)[:200]}")
        dtype, shape = _DTYPES[info["dtype"]], tuple(info["shape"])
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(body) or end - begin != dtype.itemsize * int(
                np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{where}: {key!r} has byte range [{begin}, {end}) which does not "
                             f"fit its shape {list(shape)} or the file (is it cut short?)")
        out[key] = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape).astype(
            dtype.newbyteorder("="))
    return out
