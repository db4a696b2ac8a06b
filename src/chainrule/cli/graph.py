"""`chainrule graph`: draw a computational graph with values and gradients on its edges.

Only argparse is imported here; the engine and Graphviz are used by `run`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "draw a computational graph (the worked example's, or an expression's) with Graphviz"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "graph", help=HELP,
        description=HELP + ": operations as nodes, each edge labelled with its forward value "
        "and, in red beneath, the gradient flowing back along it. Without --expr: the "
        "tutorials' 2-2-1 worked example drawn per unit, as the tutorials draw it (W1..W6, "
        "z1, σ1, …, the loss as one node). Without -o: the DOT text is printed.",
        epilog="examples:\n"
               '  chainrule graph --expr "(log(x)*(x+3)+x**2)/sin(x)" --at x=2 -o f.svg\n'
               "  chainrule graph -o worked.svg             # the tutorial's figure\n"
               "  chainrule graph -o worked.html            # the same, as an interactive page\n"
               "  chainrule graph --vectorized -o net.svg   # one node per layer operation")
    p.add_argument("--expr", help="an expression of x, y, … (see chainrule explain --help; "
                                  "one starting with a minus is written --expr=-x*y)")
    p.add_argument("--at", help="values of the variables, e.g. x=2,y=3 (default 2 for each)")
    p.add_argument("-o", "--output", help="output file: .svg, .png, .pdf (rendered by "
                                          "Graphviz's dot), .dot (the DOT text) or .html "
                                          "(the interactive explorer page)")
    p.add_argument("--vectorized", action="store_true",
                   help="the worked example as its vectorised network (linear layers, BCE "
                        "written out) instead of per unit")
    p.add_argument("--no-grad", action="store_true", help="show forward values only")
    p.add_argument("--decimals", type=int, default=4, help="decimal places shown (default 4)")
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"chainrule graph: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from chainrule.glassbox.dot import FORMATS, dot_available, render, to_dot

    if not 0 <= args.decimals <= 15:
        return _fail("--decimals must be between 0 and 15")
    out_path = Path(args.output) if args.output else None
    page = out_path is not None and out_path.suffix.lower() == ".html"
    if out_path is not None and not page:
        fmt = out_path.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            return _fail(f"unknown output extension {out_path.suffix or '(none)'!r} in "
                         f"{args.output}; use {', '.join('.' + f for f in FORMATS)} or .html")
    if args.expr is None:
        if args.at:
            return _fail("--at needs --expr")
        if page and not args.vectorized:
            from chainrule.cli.pages import write_page
            print(write_page(out_path, decimals=args.decimals))
            return 0
        if args.vectorized:
            from chainrule.glassbox.worked_example import network
            _, tensors, names = network()
        else:
            from chainrule.glassbox.tutorial_figure import unit_network
            tensors, names = unit_network()
        output = tensors["L"]
    else:
        if args.vectorized:
            return _fail("--vectorized is for the worked example (without --expr)")
        from chainrule.cli.pages import expression_graph, write_page
        from chainrule.glassbox.expr import ExprError, parse, parse_values
        try:
            expr = parse(args.expr)
            at = parse_values(args.at) if args.at else {n: 2.0 for n in expr.variables}
            if page:
                print(write_page(out_path, expr, at, decimals=args.decimals))
                return 0
            output, names = expression_graph(expr, at)
        except ExprError as err:
            return _fail(str(err))
    if page:  # the vectorised worked example's page
        from chainrule.glassbox.page import explorer_html
        out_path.write_text(explorer_html(output, names=names, decimals=args.decimals),
                            encoding="utf-8")
        print(f"wrote {out_path}")
        return 0
    graph = to_dot(output, names=names, show_grad=not args.no_grad, decimals=args.decimals)

    if out_path is None:
        sys.stdout.write(graph.source)
        return 0
    if out_path.suffix.lower() == ".dot" or dot_available():
        render(graph, out_path)
        print(f"wrote {out_path}")
        return 0
    dot_path = out_path.with_suffix(".dot")
    render(graph, dot_path)
    print(f"wrote {dot_path} (Graphviz's dot is not installed; render it with "
          f"`dot -T{out_path.suffix.lstrip('.').lower()} {dot_path} -o {out_path}` after "
          f"installing graphviz)")
    return 0
