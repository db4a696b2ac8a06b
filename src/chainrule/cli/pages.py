"""What `chainrule explain -o page.html` and `chainrule graph -o page.html` share: the
graph to draw (the worked example per unit, or an expression's) and writing the page."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def expression_graph(expr: Any, at: dict[str, float]) -> tuple[Any, dict]:
    """An expression built at `at` with v₁, v₂ … for its intermediates and f for its
    result, as the evaluation traces name them: (output, names)."""
    output, _, records = expr.build(at, requires_grad=True)
    names = {r.tensor: r.label for r in records}
    names[output] = "f"
    return output, names


def write_page(path: Path, expr: Any = None, at: dict[str, float] | None = None,
               decimals: int = 4) -> str:
    """Write the explorer page (the worked example's without `expr`); return the line to
    print."""
    if expr is None:
        from chainrule.glassbox.tutorial_figure import tutorial_page
        text = tutorial_page(decimals=decimals)
    else:
        from chainrule.glassbox.page import explorer_html
        output, names = expression_graph(expr, at or {})
        where = ", ".join(f"{k} = {v:g}" for k, v in (at or {}).items())
        text = explorer_html(output, names=names, decimals=decimals,
                             title=f"f = {expr.source} at {where}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return (f"wrote {path}: open it in a browser; Next/Previous or the → and ← keys step "
            f"through the forward and backward pass, a click on a node shows its chain rule")
