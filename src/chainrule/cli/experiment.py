"""`chainrule experiment NAME`: the book's chapter-6 experiments, each drawing its figure.

Only argparse is imported here; the experiments, the data and matplotlib are loaded by `run`.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys

HELP = "run one of the book's chapter-6 experiments and draw its figure"

# kept here (not imported) so `chainrule --help` stays instant; the library checks it too
NAMES = {
    "optimizers": "SGD, Momentum, AdaGrad, Adam on a 5-layer ReLU net: loss curves",
    "weight-init": "std 0.01 vs Xavier vs He with ReLU: loss curves",
    "batchnorm": "with vs without batch norm at 16 weight scales: a 4x4 grid",
    "overfitting": "300 images, 7 layers: train/test gap, weight decay, dropout",
    "activations": "histograms of 5 hidden layers' activations per weight scale",
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "experiment", help=HELP,
        description=HELP + ". Each writes NAME's PNG, summary.txt (printed too) and "
        "results.json to --out. Defaults are smaller than the book's runs and take about a "
        "minute; --full uses the book's sizes.",
        epilog="experiments:\n" + "\n".join(f"  {k:<12} {v}" for k, v in NAMES.items())
        + "\n\nexample: chainrule experiment optimizers --iters 2000",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", metavar="NAME", choices=list(NAMES),
                   help="one of: " + ", ".join(NAMES))
    p.add_argument("--out", metavar="DIR",
                   help="where the figure and summary go (default runs/experiment-NAME)")
    p.add_argument("--seed", type=int, default=0, help="weights and mini-batches (default 0)")
    p.add_argument("--full", action="store_true",
                   help="the book's sizes (2000 iterations; 20 epochs; the whole test set)")
    p.add_argument("--iters", type=_positive_int,
                   help="training iterations (optimizers, weight-init; default 500, book 2000)")
    p.add_argument("--epochs", type=_positive_int,
                   help="epochs (batchnorm: default 20; overfitting: default 201)")
    p.add_argument("--train-size", type=_positive_int,
                   help="training images to use (default: all for optimizers and weight-init, "
                        "1000 for batchnorm, 300 for overfitting)")
    p.add_argument("--data", choices=["mnist", "synthetic"], default="mnist",
                   help="MNIST (default) or an MNIST-shaped synthetic set that needs no "
                        "download (not used by activations, which feeds random inputs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    prog = "chainrule experiment"
    if importlib.util.find_spec("matplotlib") is None:
        print(f"{prog}: the experiments draw their figures with matplotlib, which is not "
              "installed: pip install 'chainrule[plot]'", file=sys.stderr)
        return 1
    from chainrule.datasets import MnistUnavailableError
    from chainrule.train.experiments import options_of, run_experiment

    given = {"iters": args.iters, "epochs": args.epochs, "train_size": args.train_size}
    wrong = [f"--{k.replace('_', '-')}" for k, v in given.items()
             if v is not None and k not in options_of(args.name)]
    if wrong:
        print(f"{prog}: {args.name} does not take {', '.join(wrong)}", file=sys.stderr)
        return 2
    options = {**given, "seed": args.seed, "full": args.full or None}
    if "data" in options_of(args.name):
        options["data"] = args.data
    try:
        result = run_experiment(args.name, args.out or "default",
                                log=lambda m: print(m, file=sys.stderr, flush=True),
                                **options)
    except MnistUnavailableError as err:
        print(f"{prog}: MNIST could not be loaded ({str(err).splitlines()[0]}); "
              "try --data synthetic", file=sys.stderr)
        return 1
    print(result.summary)
    print()
    for path in result.files:
        print(f"wrote {path}")
    return 0
