"""The `chainrule` command: one sub-command per module in this package."""
from __future__ import annotations

import argparse
import importlib
import sys

from chainrule.cli.parsing import Parser, parse

# sub-command name -> module with `register(subparsers)`; each module keeps its heavy
# imports inside its run function so `chainrule --help` stays instant.
COMMANDS = {
    "train": "chainrule.cli.train",
    "explain": "chainrule.cli.explain",
    "graph": "chainrule.cli.graph",
    "check": "chainrule.cli.check",
    "vanishing": "chainrule.cli.vanishing",
    "experiment": "chainrule.cli.experiment",
    "convert": "chainrule.cli.convert",
}


def build_parser() -> argparse.ArgumentParser:
    import chainrule  # the package itself, for its version

    parser = Parser(
        prog="chainrule",
        description="Backpropagation you can see, check and trust.",
        epilog="example: chainrule explain -o backprop.html   (then open the page in a "
               "browser)\nEach COMMAND has its own help: chainrule COMMAND --help")
    parser.add_argument("--version", action="version", version=f"chainrule {chainrule.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `chainrule explain | head`: the reader left; not an error
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
