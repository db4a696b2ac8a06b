"""`chainrule check file.py:Name`: a hand-written layer's backward vs numerical gradients."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="check a hand-written layer's backward pass against numerical gradients",
        description="Load Name from a Python file (a layer class constructible with no "
                    "arguments, a function returning a layer, or a layer object), run "
                    "forward and backward on random inputs and compare every gradient with "
                    "numerical ones in float64. Exit 0 if all agree, 1 if not, 2 on bad usage.",
        epilog="examples:\n"
               "  chainrule check my_layers.py:MySigmoid\n"
               "  chainrule check my_layers.py:Affine --input-shape 4,5 --seed 1")
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


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from chainrule.glassbox.check import check_layer
    from chainrule.glassbox.layer_files import default_input_shape, load_layer, random_inputs

    if args.seed < 0:
        return _fail(f"--seed must be a non-negative integer, got {args.seed}")
    if not (args.eps > 0 and args.atol >= 0 and args.rtol >= 0):
        return _fail(f"need --eps > 0, --atol >= 0 and --rtol >= 0, got {args.eps:g}, "
                     f"{args.atol:g}, {args.rtol:g}")
    layer, error = load_layer(args.target)
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
        shape = default_input_shape(layer)
    # one seed for everything: the inputs' streams, then check_layer's (dout, second draw)
    seed = np.random.SeedSequence(args.seed)
    report = check_layer(layer, *random_inputs(layer, shape, seed), eps=args.eps,
                         atol=args.atol, rtol=args.rtol, seed=seed)
    print(report)
    return 0 if report.ok else 1
