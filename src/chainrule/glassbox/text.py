"""Numbers, arrays and tables as text: the formatting every glass-box report shares."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["fmt_number", "fmt_array", "text_table", "signed_sum", "factor", "shape_text",
           "plain"]


def fmt_number(x: float, decimals: int = 4) -> str:
    """A number to `decimals` places; where those places would show only zeros (a gradient
    of 3.3e-09) two significant digits instead, and a huge number in exponent form; no
    minus sign on a zero; nan and inf as themselves. Every glass-box number goes through
    here, so no table, trace, graph or page hides a tiny gradient as 0.0000."""
    x = float(x)
    if not np.isfinite(x):
        return str(x)
    if abs(x) >= 1e15:
        return f"{x:.{decimals}e}"
    text = f"{x:.{decimals}f}"
    if float(text) == 0:
        return f"{x:.1e}" if x != 0 else text.lstrip("-")
    return text


def fmt_array(a: Any, decimals: int = 4, max_elements: int = 6) -> str:
    """A scalar as a number, a small array as [a b; c d], a large one by shape and size."""
    if a is None:
        return "—"
    a = np.asarray(a)
    if a.size == 1:
        return fmt_number(a.reshape(()), decimals)
    if a.size == 0:
        return f"(empty {shape_text(a.shape)})"
    if a.size <= max_elements:
        if a.ndim <= 1:
            return "[" + " ".join(fmt_number(v, decimals) for v in a.ravel()) + "]"
        rows = a.reshape(-1, a.shape[-1])
        body = "; ".join(" ".join(fmt_number(v, decimals) for v in r) for r in rows)
        return f"[{body}]"
    af = a.astype(np.float64)
    return (f"({shape_text(a.shape)}) mean {fmt_number(af.mean(), decimals)}, "
            f"norm {fmt_number(np.linalg.norm(af), decimals)}")


def signed_sum(values: Sequence[float], decimals: int) -> str:
    """a + b − c, as written by hand."""
    out = fmt_number(values[0], decimals)
    for v in values[1:]:
        text = fmt_number(v, decimals)
        out += f" − {text[1:]}" if text.startswith("-") else f" + {text}"
    return out


def factor(x: float, decimals: int) -> str:
    """A factor in a product: negative numbers in parentheses, as written by hand."""
    text = fmt_number(x, decimals)
    return f"({text})" if text.startswith("-") else text


def shape_text(shape: tuple) -> str:
    return "×".join(str(n) for n in shape) if shape else "scalar"


def text_table(headers: Sequence[str], rows: Iterable[Sequence[str]],
               right: Iterable[int] = ()) -> str:
    """Rows of strings as an aligned plain-text table (columns in `right` right-aligned)."""
    rows = [list(map(str, r)) for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    right = set(right)

    def line(cells):
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()
    out = [line(headers), "  ".join("─" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def plain(a: Any) -> Any:
    """An array as nested Python floats (full precision) for JSON."""
    if a is None:
        return None
    a = np.asarray(a)
    return a.item() if a.ndim == 0 else a.tolist()
