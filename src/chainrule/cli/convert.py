"""`chainrule convert params.pkl params.safetensors`: the book's published weights (a
pickle of a dict of NumPy arrays) rewritten as safetensors, read without running the
pickle's code. Exit 0 when written, 2 when the pickle is refused or unreadable, 1 when
the output cannot be written."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "convert the book's pickled weights (params.pkl) to safetensors, safely"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "convert", help=HELP, description=HELP + ". The pickle is read by a restricted "
        "unpickler that accepts only what a dict (list, tuple) of NumPy arrays needs; "
        "any other global it names (os.system, eval, a class) is refused and nothing runs.",
        epilog="example: chainrule convert params.pkl params.safetensors")
    p.add_argument("source", type=Path, metavar="PARAMS.pkl", help="the pickle to read")
    p.add_argument("target", type=Path, metavar="PARAMS.safetensors",
                   help="the safetensors file to write (atomically)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chainrule.serialization import save
    from chainrule.train.book_weights import load_pickle_arrays

    if not args.source.is_file():
        what = "not a file" if args.source.exists() else "no such file"
        print(f"chainrule convert: error: {args.source}: {what}", file=sys.stderr)
        return 2
    try:
        arrays = load_pickle_arrays(args.source)
    except ValueError as err:
        print(f"chainrule {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"chainrule convert: error: {args.source}: {err.strerror or err}",
              file=sys.stderr)
        return 2
    try:
        save(arrays, args.target, metadata={"converted_from": args.source.name})
    except ValueError as err:
        print(f"chainrule convert: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"chainrule convert: error: cannot write {args.target}: "
              f"{err.strerror or err}", file=sys.stderr)
        return 1
    for name, arr in arrays.items():
        print(f"{name}: {arr.dtype} {list(arr.shape)}")
    print(f"saved {len(arrays)} array{'s' * (len(arrays) != 1)} to {args.target}")
    return 0
