"""`chainrule check file.py:Name`: a hand-written layer's backward vs numerical gradients."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="check a hand-written layer's backward pass against numerical gradients",
        description="Load Name from a Python file (a layer class constructible with no "
                    "arguments, a function returning a layer, or a layer object), run "
                    "forward and backward on random inputs and compare every gradient with "
                    "numerical ones in float64. Exit 0 if all agree, 1 if not, 2 on bad usage.")
    parser.add_argument("target", metavar="FILE.py:NAME", help="e.g. my_layers.py:Sigmoid")
    parser.add_argument("--input-shape", metavar="N,D", default=None,
                        help="shape of each input (default 4,5; 4,W.shape[0] for a layer with "
                             "W or params[0])")
    parser.add_argument("--seed", type=int, default=0,
                        help="one seed for every random input, parameter perturbation and "
                             "dout (each drawn from its own stream)")
    parser.add_argument("--eps", type=float, default=1e-6, help="finite-difference step")
    parser.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance")
    parser.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance")
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    import sys
    print(f"chainrule check: {message}", file=sys.stderr)
    return 2


def _load(target: str):
    """The object `Name` from `path/to/file.py:Name`, or an error message."""
    import importlib.util
    from pathlib import Path

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


def _random_inputs(layer, shape: tuple, seed) -> list:
    """One random array per required argument of forward (one-hot targets for one named t),
    each from its own stream spawned from `seed`, so no two inputs are alike."""
    import inspect

    import numpy as np

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


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from chainrule.glassbox.check import check_layer

    if args.seed < 0:
        return _fail(f"--seed must be a non-negative integer, got {args.seed}")
    if not (args.eps > 0 and args.atol >= 0 and args.rtol >= 0):
        return _fail(f"need --eps > 0, --atol >= 0 and --rtol >= 0, got {args.eps:g}, "
                     f"{args.atol:g}, {args.rtol:g}")
    layer, error = _load(args.target)
    if error:
        return _fail(error)
    if args.input_shape is not None:
        try:
            shape = tuple(int(n) for n in args.input_shape.split(","))
        except ValueError:
            return _fail(f"--input-shape must be integers separated by commas, "
                         f"got {args.input_shape!r}")
        if any(n < 1 for n in shape):
            return _fail(f"--input-shape sizes must be positive, got {args.input_shape!r}")
    else:
        W = getattr(layer, "W", None)
        if W is None and getattr(layer, "params", None):  # the second volume: params = [W, b]
            W = layer.params[0]
        shape = (4, W.shape[0]) if isinstance(W, np.ndarray) and W.ndim == 2 else (4, 5)
    # one seed for everything: the inputs' streams, then check_layer's (dout, second draw)
    seed = np.random.SeedSequence(args.seed)
    report = check_layer(layer, *_random_inputs(layer, shape, seed), eps=args.eps,
                         atol=args.atol, rtol=args.rtol, seed=seed)
    print(report)
    return 0 if report.ok else 1
