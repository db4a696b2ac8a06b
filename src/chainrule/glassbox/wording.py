"""How local rules read to a learner: operands by their names, and the right term.

The ops' formulas are written once, generically, with `a` and `b` for a node's inputs
("b" is ∂(a·b)/∂a). Shown as they are, `b = 0.6732` for ∂z3/∂W6 reads as a bias;
`with_operands` writes the operands' own names instead (`σ2 = 0.6732`).
"""
from __future__ import annotations

import re
from typing import Sequence

__all__ = ["with_operands", "d"]

_SIMPLE = re.compile(r"^[\w.'#\u0370-\u03ff]+$")


def _operand(name: str) -> str:
    """A name as it sits inside a formula: compound ones (W1·x1, −3) in parentheses."""
    return name if _SIMPLE.match(name) else f"({name})"


# the letters each op's formulas use for its inputs: a, b; linear writes x, W (and b)
_LETTERS = {"linear": ("x", "W", "b")}
_TOKEN = r"(?<![A-Za-z0-9_#.'\u0370-\u03ff]){}(?![A-Za-z0-9_#'\u0370-\u03ff])"


def with_operands(formula: str, names: Sequence[str], op: str = "", gradient: str = "") -> str:
    """`formula` with its input letters (a, b; linear's x, W) replaced by the operands'
    names, and the upstream gradient g by `gradient` (e.g. ∂L/∂z3) when given."""
    if not names:
        return formula
    letters = _LETTERS.get(op, ("a", "b"))
    table = {letter: _operand(names[min(i, len(names) - 1)]) for i, letter in enumerate(letters)}
    if gradient:
        table["g"] = gradient
        formula = formula.replace("gᵀ", "(g)ᵀ")
    formula = formula.replace("aᵇ", "a^b")  # a superscript cannot hold a name
    pattern = re.compile(_TOKEN.format("(" + "|".join(map(re.escape, table)) + ")"))
    return pattern.sub(lambda m: table[m.group(1)], formula)


def d(name: str) -> str:
    """∂name, with a compound name in parentheses: ∂(W1·x1 + W2·x2), ∂σ3."""
    return f"∂({name})" if any(c in name for c in " +−-/") and not name.startswith("(") \
        else f"∂{name}"
