"""Why a value is nan or inf, in words: a trace or table that shows `nan` without a reason
leaves a learner guessing. `reason` names the cause for one operation from its operands'
values (outside log's domain, division by zero, overflow, carried over from an operand),
and `warning` writes the line a report ends with.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["reason", "derivative_reason", "warning", "finite"]


def finite(a) -> bool:
    """True when every element is a finite number."""
    a = np.asarray(a)
    return bool(a.dtype.kind not in "fc" or np.all(np.isfinite(a)))


def _any(cond) -> bool:
    return bool(np.any(cond))


def reason(op: str, operands: Sequence[tuple[str, object]], value) -> str:
    """Why `value` (the result of `op` on the named operands) holds nan or inf; "" when it
    is finite. Operands are (name, value) pairs, constants included."""
    if finite(value):
        return ""
    with np.errstate(all="ignore"):
        vals = [(n, np.asarray(v, dtype=np.float64)) for n, v in operands]
        bad = [n for n, v in vals if not finite(v)]
        if bad:
            return f"carried over from {', '.join(bad)}, which is not finite"
        a = vals[0][1] if vals else np.float64(0)
        b = vals[1][1] if len(vals) > 1 else None
        at = f" ({vals[0][0]} = {float(a):g})" if vals and a.size == 1 else ""
        if op == "log":
            if _any(a < 0):
                return f"log is defined only for positive numbers; its operand is negative{at}"
            return f"log(0) = −∞{at}"
        if op == "sqrt" and _any(a < 0):
            return f"the square root of a negative number is not a real number{at}"
        if op == "div" and b is not None and _any(b == 0):
            return "division by zero"
        if op == "pow" and b is not None and _any((a < 0) & (b != np.round(b))):
            return "a negative number to a fractional power is not a real number"
        if op == "pow" and b is not None and _any((a == 0) & (b < 0)):
            return "0 to a negative power is a division by zero"
        if op == "exp":
            return "overflow: exp of a number above 709 is too large for float64"
        if np.any(np.isinf(np.asarray(value))):
            return "overflow: the result is too large for the floating-point type"
        return f"{op} is undefined at these values"


def derivative_reason(op: str, operands: Sequence[tuple[str, object]]) -> str:
    """Why a local derivative is not finite where the value itself is."""
    with np.errstate(all="ignore"):
        a = np.asarray(operands[0][1], dtype=np.float64) if operands else np.float64(1)
    name = operands[0][0] if operands else "the operand"
    if op in ("sqrt", "log", "div", "pow", "abs") and _any(a == 0):
        return f"the derivative of {op} at {name} = 0 is infinite (the slope is vertical there)"
    return "the local derivative is not finite here"


def warning(rows: Sequence[tuple[str, str]]) -> str:
    """One warning line for the (label, reason) pairs of the non-finite rows; "" if none."""
    if not rows:
        return ""
    first_label, first_reason = rows[0]
    more = f" ({len(rows) - 1} more row(s) follow from it)" if len(rows) > 1 else ""
    return (f"warning: {first_label} is not finite: {first_reason}{more}; every number "
            f"computed from it is nan or inf too")
