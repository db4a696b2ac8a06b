"""How glass-box results look in a notebook: tables as HTML tables, chain-rule lines as
HTML math (∂L/∂w as a fraction, no MathJax needed), and pictures that scale to the cell.

Every report (explanation, trace, worked example, check report, gradient-flow report)
builds its `_repr_html_` from these pieces, so they look alike.
"""
from __future__ import annotations

import html
import re
from typing import Iterable, Sequence

__all__ = ["html_table", "html_pre", "math_html", "math_block", "scale_svg", "STYLE"]

STYLE = ("<style>.cr-t{border-collapse:collapse;font-size:13px}"
         ".cr-t th,.cr-t td{padding:2px 8px;border-bottom:1px solid #e5e5e5;text-align:left;"
         "font-family:Menlo,Consolas,monospace;white-space:pre}.cr-t td.r{text-align:right}"
         ".cr-t th{font-family:inherit;border-bottom:2px solid #999}"
         ".cr-m{font-size:14px;line-height:2.3;overflow-x:auto}"
         ".cr-f{display:inline-flex;flex-direction:column;vertical-align:middle;"
         "text-align:center;font-size:88%;margin:0 1px}"
         ".cr-f>span:first-child{border-bottom:1px solid currentColor}"
         ".cr-p{overflow-x:auto;font-size:12.5px}</style>")


def html_table(headers: Sequence[str], rows: Iterable[Sequence[str]],
               right: Iterable[int] = (), caption: str = "") -> str:
    """Rows of strings as an HTML table (cells escaped; columns in `right` right-aligned)."""
    right = set(right)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=r" if i in right else ""}>{html.escape(str(c))}</td>'
                         for i, c in enumerate(r)) + "</tr>" for r in rows)
    cap = f"<p><b>{html.escape(caption)}</b></p>" if caption else ""
    return (f'{cap}<div style="overflow-x:auto"><table class="cr-t"><thead><tr>{head}</tr>'
            f"</thead><tbody>{body}</tbody></table></div>")


def html_pre(text: str) -> str:
    """Preformatted text that scrolls instead of being cut at the cell's edge."""
    return f'<pre class="cr-p">{html.escape(text)}</pre>'


# ∂L/∂W5, ∂σ3/∂z3, ∂L/∂W[0,1]: a derivative written as one fraction
_DERIVATIVE = re.compile(r"∂([^\s/·×=+−()]+)/∂([^\s·×=+−()]+(?:\[[\d,]+\])?)")


def math_html(line: str) -> str:
    """A chain-rule line with each ∂a/∂b drawn as a fraction (HTML and CSS only)."""
    out, last = [], 0
    for m in _DERIVATIVE.finditer(line):
        out.append(html.escape(line[last:m.start()]))
        out.append(f'<span class="cr-f"><span>∂{html.escape(m.group(1))}</span>'
                   f'<span>∂{html.escape(m.group(2))}</span></span>')
        last = m.end()
    out.append(html.escape(line[last:]))
    return "".join(out).replace("  ", "&nbsp;&nbsp;")


def math_block(lines: Sequence[str]) -> str:
    return '<div class="cr-m">' + "<br>".join(math_html(ln) for ln in lines) + "</div>"


_SIZE = re.compile(r'<svg([^>]*?)\swidth="([\d.]+)(pt|px)?"\s+height="([\d.]+)(pt|px)?"')


def scale_svg(svg: str) -> str:
    """An SVG (Graphviz's, sized in pt) made to fit a notebook cell: full width of the cell
    at most, never larger than drawn, height following from its viewBox."""
    m = _SIZE.search(svg)
    if m is None:
        return svg
    width = float(m.group(2)) * (4 / 3 if m.group(3) == "pt" else 1)
    return (svg[:m.start()] + f'<svg{m.group(1)} width="100%" '
            f'style="max-width:{width:.0f}px;height:auto"' + svg[m.end():])

