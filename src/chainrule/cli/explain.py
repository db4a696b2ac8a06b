"""`chainrule explain`: the worked example derived in full, or the evaluation trace of an
expression in forward or reverse mode.

Only argparse is imported here; the engine is loaded by `run`.
"""
from __future__ import annotations

import argparse
import sys

HELP = "show the chain rule at work: the tutorials' worked example, or any expression's trace"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "explain", help=HELP,
        description=HELP + ". With no arguments: the 2-2-1 sigmoid network's SGD step, every "
        "number derived. With --expr: the evaluation trace of the expression (forward mode: "
        "value and tangent of every intermediate; reverse mode: value and adjoint).",
        epilog='example: chainrule explain --expr "(log(x)*(x+3)+x**2)/sin(x)" --at x=2 '
               "--mode forward")
    p.add_argument("--expr", help="an expression of x, y, … with + - * / ** and "
                                  "log exp sin cos tanh sqrt abs sigmoid relu; one starting with a "
                                  "minus is written --expr=-x*y")
    p.add_argument("--at", help="values of the variables, e.g. x=2 or x=2,y=3 (default 2 for each)")
    p.add_argument("--mode", choices=["forward", "reverse", "both"], default="both",
                   help="which trace to print for --expr (default both)")
    p.add_argument("--wrt", help="forward mode: the variable whose tangent is seeded "
                                 "(needed when there are several)")
    p.add_argument("--decimals", type=int, default=4, help="decimal places shown (default 4)")
    p.add_argument("--json", action="store_true",
                   help="print machine-readable JSON (full precision) instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.decimals <= 15:
        print("chainrule explain: --decimals must be between 0 and 15", file=sys.stderr)
        return 2
    if args.expr is None:
        if args.at or args.wrt:
            print("chainrule explain: --at and --wrt need --expr", file=sys.stderr)
            return 2
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
        traces = []
        if args.mode in ("forward", "both"):
            wrt = args.wrt
            if wrt is None and len(expr.variables) > 1 and args.mode == "both":
                wrt = expr.variables[0]
            traces.append(forward_trace(expr, at, wrt=wrt, decimals=args.decimals))
        elif args.wrt is not None and args.wrt not in expr.variables:
            raise ExprError(f"--wrt {args.wrt}: the expression has no variable {args.wrt!r}")
        if args.mode in ("reverse", "both"):
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
