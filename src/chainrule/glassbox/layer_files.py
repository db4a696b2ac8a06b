"""A user's layer for `chainrule check`: loaded from `file.py:Name`, with random inputs
for its forward drawn from independent streams of one seed."""
from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import numpy as np


def load_layer(target: str):
    """The object `Name` from `path/to/file.py:Name`, or an error message."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        return None, f"expected FILE.py:NAME, got {target!r}"
    file = Path(path)
    if not file.is_file():
        return None, f"no such file: {path}"
    spec = importlib.util.spec_from_file_location(f"_chainrule_check_{file.stem}", file)
    if spec is None or spec.loader is None:
        return None, f"cannot load {path} as Python"
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        return None, f"importing {path} raised {type(err).__name__}: {err}"
    if not hasattr(module, name):
        found = sorted(n for n in vars(module) if not n.startswith("_"))
        return None, f"{path} has no {name!r} (it defines: {', '.join(found) or 'nothing'})"
    obj = getattr(module, name)
    if hasattr(obj, "forward") and hasattr(obj, "backward") and not isinstance(obj, type):
        return obj, None
    try:
        layer = obj()
    except Exception as err:
        return None, f"{name}() raised {type(err).__name__}: {err}; it must be constructible " \
                     f"with no arguments (or be a function returning a layer)"
    if not (hasattr(layer, "forward") and hasattr(layer, "backward")):
        return None, f"{name}() gave a {type(layer).__name__}, which has no forward/backward"
    return layer, None


def random_inputs(layer, shape: tuple, seed: np.random.SeedSequence) -> list:
    """One random array per required argument of forward (one-hot targets for one named t),
    each from its own stream spawned from `seed`, so no two inputs are alike."""
    params = [p for p in inspect.signature(layer.forward).parameters.values()
              if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    params = params or [None]
    inputs = []
    for p, stream in zip(params, seed.spawn(len(params))):
        rng = np.random.default_rng(stream)
        if p is not None and p.name == "t" and len(shape) >= 2:
            inputs.append(np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])])
        else:
            inputs.append(rng.standard_normal(shape))
    return inputs


def default_input_shape(layer) -> tuple:
    """(4, W.shape[0]) for a layer with a 2-d W (or params[0], as in the second volume),
    else (4, 5)."""
    W = getattr(layer, "W", None)
    if W is None and getattr(layer, "params", None):
        W = layer.params[0]
    return (4, W.shape[0]) if isinstance(W, np.ndarray) and W.ndim == 2 else (4, 5)
