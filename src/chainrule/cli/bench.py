"""`chainrule bench seed|ops`: time chainrule against PyTorch in one process, print the ratio."""
from __future__ import annotations

import argparse

BENCHMARKS = {
    "seed": ("chainrule.bench.seed", "the tutorial's MNIST run on the book's layers vs PyTorch"),
    "autograd": ("chainrule.bench.seed_autograd",
                 "the same MNIST run through chainrule.nn/optim vs PyTorch (time and memory)"),
    "ops": ("chainrule.bench.ops", "the autograd engine's per-op overhead vs PyTorch"),
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="time chainrule against PyTorch and print the ratio",
        description="Benchmarks: " + "; ".join(f"{k}: {v[1]}" for k, v in BENCHMARKS.items())
                    + ". Options after the name go to the benchmark (e.g. seed --iters 1000; "
                      "seed --help).")
    parser.add_argument("benchmark", choices=sorted(BENCHMARKS))
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the benchmark's own options")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import importlib
    import sys

    module_name = BENCHMARKS[args.benchmark][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        print(f"chainrule bench {args.benchmark}: {module_name} is not available in this "
              f"installation of chainrule", file=sys.stderr)
        return 1
    try:
        return int(module.main(args.options) or 0)
    except SystemExit as exit:  # argparse inside the benchmark: --help or a bad option
        return exit.code if isinstance(exit.code, int) else 2
