"""The book's published weights (params.pkl: a pickle of a dict of NumPy arrays) read
without running the pickle's code, and converted to safetensors for `--resume` and
`load_params`.

The pickle is read by a restricted unpickler that resolves only the NumPy and
collections names a dict (list, tuple) of arrays needs; anything else a pickle names is
refused before it is imported or called. This is the one module of chainrule that reads
a pickle; chainrule.serialization never does.
"""
from __future__ import annotations

import codecs
import collections
import os
import pickle
from pathlib import Path
from typing import Any, BinaryIO, Mapping

import numpy as np

from chainrule.serialization import save

__all__ = ["UnsafePickleError", "load_pickle_arrays", "convert_pickle"]


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


def load_pickle_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a pickle holding a dict (list, tuple, nested) of NumPy arrays, such
    as the book's params.pkl, by name ("W1", or "0", "a.b" for lists and nesting).

    The pickle is read by a restricted unpickler that resolves only the NumPy and
    collections names such a pickle needs: any other global (os.system, builtins.eval,
    a class of the author's) is refused with UnsafePickleError naming it, before anything
    it names is imported or called."""
    where = f"convert: {os.fspath(path)}"
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


def convert_pickle(src: str | os.PathLike, dst: str | os.PathLike) -> dict[str, np.ndarray]:
    """Convert a pickle of NumPy arrays (read safely, see load_pickle_arrays) to a
    safetensors file written atomically; returns the arrays written."""
    arrays = load_pickle_arrays(src)
    save(arrays, dst, metadata={"converted_from": Path(src).name})
    return arrays
