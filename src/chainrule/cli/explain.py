"""`chainrule explain`: the worked example derived in full, or the evaluation trace of an
expression in forward or reverse mode.

Only argparse is imported here; the engine is loaded by `run`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "show the chain rule at work: the tutorials' worked example, or any expression's trace"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "explain", help=HELP,
        description=HELP + ". With no arguments: the 2-2-1 sigmoid network's SGD step, every "
        "number derived. With --expr: the evaluation trace of the expression (forward mode: "
        "value and tangent of every intermediate; reverse mode: value and adjoint).",
        epilog="examples:\n"
               '  chainrule explain --expr "(log(x)*(x+3)+x**2)/sin(x)" --at x=2 --mode forward\n'
               "  chainrule explain -o backprop.html     # the worked example as an interactive "
               "page\n"
               '  chainrule explain --expr "x*y + sin(x)" --at x=2,y=3 -o trace.html')
    p.add_argument("--expr", help="an expression of x, y, … with + - * / ** and "
                                  "log exp sin cos tanh sqrt abs sigmoid relu; one starting with a "
                                  "minus is written --expr=-x*y")
    p.add_argument("--at", help="values of the variables, e.g. x=2 or x=2,y=3 (default 2 for each)")
    p.add_argument("--mode", choices=["forward", "reverse", "both"], default=None,
                   help="which trace to print for --expr (default both); forward mode "
                        "pushes one tangent per variable unless --wrt picks one")
    p.add_argument("--wrt", help="forward mode: the one variable whose tangent is seeded "
                                 "(default: one pass for each variable)")
    p.add_argument("-o", "--output", metavar="PAGE.html",
                   help="write the interactive explorer page (one self-contained HTML file) "
                        "instead of printing")
    p.add_argument("--decimals", type=int, default=4, help="decimal places shown (default 4)")
    p.add_argument("--json", action="store_true",
                   help="print machine-readable JSON (full precision) instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.decimals <= 15:
        print("chainrule explain: --decimals must be between 0 and 15", file=sys.stderr)
        return 2
    if args.output is not None and not args.output.lower().endswith(".html"):
        print(f"chainrule explain: -o writes the explorer page, so it must end in .html, "
              f"got {args.output}", file=sys.stderr)
        return 2
    if args.output is not None and (args.json or args.mode or args.wrt):
        print("chainrule explain: -o writes the page of the whole graph; --json, --mode and "
              "--wrt are for the printed traces", file=sys.stderr)
        return 2
    if args.expr is None:
        if args.at or args.wrt or args.mode:
            print("chainrule explain: --at, --wrt and --mode need --expr (without it: the "
                  "worked example)", file=sys.stderr)
            return 2
        if args.output is not None:
            from chainrule.cli.pages import write_page
            print(write_page(Path(args.output), decimals=args.decimals))
            return 0
        from chainrule.glassbox.worked_example import worked_example
        ex = worked_example(decimals=args.decimals)
        print(ex.to_json() if args.json else ex)
        return 0

    from chainrule.glassbox.expr import ExprError, parse, parse_values
    from chainrule.glassbox.traces import forward_trace, reverse_trace
    try:
        expr = parse(args.expr)
        at = parse_values(args.at) if args.at else {n: 2.0 for n in expr.variables}
        expr.check_values(at)
        if args.output is not None:
            from chainrule.cli.pages import write_page
            print(write_page(Path(args.output), expr, at, decimals=args.decimals))
            return 0
        mode = args.mode or "both"
        traces = []
        if mode in ("forward", "both"):
            # forward mode pushes one tangent per pass: one pass per variable, or --wrt's
            for wrt in [args.wrt] if args.wrt else expr.variables:
                traces.append(forward_trace(expr, at, wrt=wrt, decimals=args.decimals))
        elif args.wrt is not None:
            raise ExprError("--wrt picks the variable of a forward-mode pass; reverse mode "
                            "gives every variable's gradient in one pass")
        if mode in ("reverse", "both"):
            traces.append(reverse_trace(expr, at, decimals=args.decimals))
    except ExprError as err:
        print(f"chainrule explain: {err}", file=sys.stderr)
        return 2
    if args.json:
        import json
        print(json.dumps([t.to_dict() for t in traces], indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(str(t) for t in traces))
    return 0
