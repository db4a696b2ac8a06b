"""`chainrule vanishing`: the vanishing-gradient experiment, as a table and a plot.

Only argparse is imported here; the engine, the data and matplotlib are loaded by `run`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "show how gradients shrink layer by layer in a deep sigmoid/tanh/relu network"


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "vanishing", help=HELP,
        description=HELP + ": one forward/backward pass of a deep MLP on a batch, then each "
        "layer's mean |∂L/∂W| next to the last layer's. Weights are N(0, std²) with the init "
        "suited to the activation (Xavier for sigmoid/tanh, He for relu) unless --init says "
        "otherwise, so what vanishes is the activation's doing.",
        epilog="examples:\n"
               "  chainrule vanishing --depth 10 --activation sigmoid -o sigmoid.png\n"
               "  chainrule vanishing --activation sigmoid tanh relu -o compare.png   "
               "# one axis")
    p.add_argument("--depth", type=_int_at_least(2), default=10,
                   help="number of weight layers (default 10)")
    p.add_argument("--activation", choices=["sigmoid", "tanh", "relu"], nargs="+",
                   default=["sigmoid"], metavar="{sigmoid,tanh,relu}",
                   help="one or several activations; several are run with the same weights' "
                        "seed and drawn on one comparable axis")
    p.add_argument("--width", type=_int_at_least(1), default=100,
                   help="units per hidden layer (default 100)")
    p.add_argument("--data", choices=["mnist", "toy"], default="mnist",
                   help="a batch of MNIST (default; falls back to the toy set if it cannot "
                        "be loaded) or the built-in 2-D spiral set")
    p.add_argument("--batch-size", type=_int_at_least(1), default=100,
                   help="examples in the batch")
    p.add_argument("--init", default=None,
                   help="xavier, he, normal (std 1), small (std 0.01) or a number (the std)")
    p.add_argument("--seed", type=int, default=0, help="seed for the weights and the batch")
    p.add_argument("-o", "--output", help="save a bar chart of the gradients here (.png)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chainrule.glassbox.flow import INITS, vanishing

    init = args.init
    if init is not None and init not in INITS:
        try:
            init = float(init)
        except ValueError:
            print(f"chainrule vanishing: --init must be one of {', '.join(sorted(INITS))} or "
                  f"a number, got {args.init!r}", file=sys.stderr)
            return 2
    out = Path(args.output) if args.output else None
    if out is not None and out.suffix.lower() not in (".png", ".svg", ".pdf"):
        print(f"chainrule vanishing: -o must end in .png, .svg or .pdf, got {args.output}",
              file=sys.stderr)
        return 2
    results = [vanishing(depth=args.depth, activation=a, width=args.width, data=args.data,
                         seed=args.seed, batch_size=args.batch_size, init=init)
               for a in dict.fromkeys(args.activation)]
    if args.json:
        import json
        found = [r.to_dict() for r in results]
        print(json.dumps(found[0] if len(found) == 1 else found, indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(str(r) for r in results))
    if out is not None:
        from chainrule.glassbox.plots import plot_layer_gradients
        out.parent.mkdir(parents=True, exist_ok=True)
        plot_layer_gradients(results, out)
        if not args.json:
            print(f"\nwrote {out}")
    return 0
