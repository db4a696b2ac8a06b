"""Safe expressions like "(log(x)*(x+3)+x**2)/sin(x)": the whitelist parser and evaluation.

`parse` reads the text with Python's `ast` module and accepts only a whitelist: numbers,
variable names, + - * / ** (and unary minus) and calls of a few named primitives. Nothing
is ever passed to eval. `Expression.build` turns it into chainrule Tensor ops, one engine
node per operation, so the evaluation traces built on it (`chainrule.glassbox.traces`:
`forward_trace`, `reverse_trace`, also importable from here) are the engine's own numbers.
"""
from __future__ import annotations

import ast
import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from chainrule import ops
from chainrule.engine import Tensor, tensor

__all__ = ["ExprError", "Expression", "parse", "parse_values", "Trace", "TraceRow",
           "forward_trace", "reverse_trace", "FUNCTIONS", "CONSTANTS"]

# the evaluation traces live in their own module, which builds on this one
_TRACES = {"Trace", "TraceRow", "forward_trace", "reverse_trace"}


def __getattr__(name: str) -> Any:
    if name in _TRACES:
        return getattr(importlib.import_module("chainrule.glassbox.traces"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_LENGTH = 2000

FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "log": ops.log, "ln": ops.log, "exp": ops.exp, "sin": ops.sin, "cos": ops.cos,
    "tanh": ops.tanh, "sqrt": ops.sqrt, "abs": ops.abs, "sigmoid": ops.sigmoid,
    "relu": ops.relu,
}
CONSTANTS = {"pi": math.pi, "e": math.e}

_BINOPS = {ast.Add: ("add", "+"), ast.Sub: ("sub", "−"), ast.Mult: ("mul", "×"),
           ast.Div: ("div", "/"), ast.Pow: ("pow", "^")}
_HINTS = {ast.BitXor: "use ** for powers", ast.FloorDiv: "use / for division",
          ast.MatMult: "expressions here are scalar; use *"}


class ExprError(ValueError):
    """The text is not an expression chainrule can evaluate (or a value is missing)."""


def _reject(node: ast.AST, what: str, hint: str = "") -> ExprError:
    col = getattr(node, "col_offset", None)
    where = f" at column {col + 1}" if col is not None else ""
    return ExprError(f"{what}{where} is not allowed in an expression"
                     + (f"; {hint}" if hint else "")
                     + f". Allowed: numbers, variables, + - * / **, and "
                       f"{', '.join(sorted(FUNCTIONS))}(…)")


def _operands(node: ast.AST) -> list[ast.AST]:
    """The sub-expressions a whitelisted node is computed from, left to right."""
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return [node.args[0]]
    return []


def _check_node(node: ast.AST, names: list[str]) -> None:
    """Raise ExprError if this one node is outside the whitelist; collect new names."""
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise _reject(node, f"the operator {type(node.op).__name__}",
                          _HINTS.get(type(node.op), ""))
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _reject(node, f"the operator {type(node.op).__name__}")
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise _reject(node, f"the constant {node.value!r}", "only real numbers")
    elif isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise _reject(node, f"the name {node.id!r}", "names may not start with _")
        if node.id in FUNCTIONS:
            raise _reject(node, f"the function name {node.id!r} without a call",
                          f"write {node.id}(x)")
        if node.id not in CONSTANTS and node.id not in names:
            names.append(node.id)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _reject(node, "calling anything but a named function")
        if node.func.id not in FUNCTIONS:
            raise _reject(node, f"the unknown function {node.func.id!r}")
        if len(node.args) != 1 or node.keywords or isinstance(node.args[0], ast.Starred):
            raise _reject(node, f"{node.func.id}(…) with other than one argument")
    elif isinstance(node, ast.Attribute):
        raise _reject(node, f"attribute access (.{node.attr})")
    else:
        raise _reject(node, f"a {type(node).__name__} expression")


def _check(tree: ast.Expression) -> list[str]:
    """Check every node against the whitelist, left to right, with an explicit stack (a
    chain like x+x+…+x is as deep as it is long); returns the free names in order."""
    names: list[str] = []
    stack = [tree.body]
    while stack:
        node = stack.pop()
        _check_node(node, names)
        stack.extend(reversed(_operands(node)))
    return names


@dataclass
class _Record:
    """One operation of an evaluation: its engine tensor and how it was written."""
    tensor: Tensor
    op: str
    operands: list  # _Record or float (a constant)
    attrs: dict = field(default_factory=dict)
    label: str = ""


class Expression:
    """A parsed, whitelisted expression; `build(values)` evaluates it with Tensor ops."""

    def __init__(self, source: str, tree: ast.Expression, variables: tuple[str, ...]):
        self.source, self.tree, self.variables = source, tree, variables

    def __repr__(self) -> str:
        return f"Expression({self.source!r}, variables={self.variables})"

    def __call__(self, *args: Any) -> Tensor:
        """f(x, y, …) with tensors or numbers, in the order of `variables`."""
        if len(args) != len(self.variables):
            raise ExprError(f"the expression takes {len(self.variables)} value(s) "
                            f"({', '.join(self.variables)}), got {len(args)}")
        out, _ = self._evaluate(dict(zip(self.variables, args)))
        return out

    def build(self, values: Mapping[str, Any], requires_grad: bool = False
              ) -> tuple[Tensor, dict[str, Tensor], list[_Record]]:
        """Evaluate at `values` in float64. Returns (output, leaf per variable, records)."""
        self.check_values(values)
        leaves = {n: tensor(np.asarray(values[n], dtype=np.float64),
                            requires_grad=requires_grad, name=n) for n in self.variables}
        out, records = self._evaluate(leaves)
        return out, leaves, records

    def check_values(self, values: Mapping[str, Any]) -> None:
        missing = [n for n in self.variables if n not in values]
        extra = [n for n in values if n not in self.variables]
        if missing:
            raise ExprError(f"no value for variable(s) {', '.join(missing)}; "
                            f"give them as --at {','.join(f'{n}=…' for n in missing)}")
        if extra:
            raise ExprError(f"unknown variable(s) {', '.join(extra)}: the expression "
                            f"{self.source!r} uses only {', '.join(self.variables) or 'none'}")

    def _evaluate(self, leaves: Mapping[str, Any]) -> tuple[Tensor, list[_Record]]:
        records: list[_Record] = []
        inputs = {n: _Record(v if isinstance(v, Tensor) else tensor(v), "input", [], label=n)
                  for n, v in leaves.items()}

        def value(r):
            return r.tensor if isinstance(r, _Record) else r

        def new(t: Tensor, op: str, operands: list, **attrs) -> _Record:
            rec = _Record(t, op, operands, attrs)
            records.append(rec)
            return rec

        def combine(node: ast.AST, args: list):
            """One node's value from its operands' values (floats for constants)."""
            if isinstance(node, ast.Constant):
                return float(node.value)
            if isinstance(node, ast.Name):
                return float(CONSTANTS[node.id]) if node.id in CONSTANTS else inputs[node.id]
            if isinstance(node, ast.UnaryOp):
                (a,) = args
                if isinstance(node.op, ast.UAdd):
                    return a
                return -a if isinstance(a, float) else new(ops.neg(a.tensor), "neg", [a])
            if isinstance(node, ast.Call):
                (a,) = args
                fn = FUNCTIONS[node.func.id]
                if isinstance(a, float):
                    return float(fn(tensor(np.float64(a))).numpy())
                op = "log" if node.func.id == "ln" else node.func.id
                return new(fn(a.tensor), op, [a])
            if isinstance(node, ast.BinOp):
                a, b = args
                op = _BINOPS[type(node.op)][0]
                if isinstance(a, float) and isinstance(b, float):
                    return float(getattr(ops, op)(tensor(np.float64(a)), np.float64(b)).numpy())
                out = getattr(ops, op)(value(a), value(b))
                return new(out, op, [a, b], **(out._attrs or {}))
            raise _reject(node, type(node).__name__)

        # post-order with an explicit stack, operands left to right: no recursion, so
        # the depth of the expression is bounded only by its length
        stack: list[tuple[ast.AST, bool]] = [(self.tree.body, False)]
        results: list = []
        with np.errstate(all="ignore"):
            while stack:
                node, ready = stack.pop()
                operands = _operands(node)
                if not ready:
                    stack.append((node, True))
                    stack.extend((o, False) for o in reversed(operands))
                    continue
                args = results[len(results) - len(operands):]
                del results[len(results) - len(operands):]
                results.append(combine(node, args))
        (result,) = results
        if isinstance(result, float):
            raise ExprError(f"the expression {self.source!r} has no variables: nothing to "
                            f"differentiate")
        if result.op == "input":  # f(x) = x: give the output its own node
            result = new(result.tensor * 1.0, "mul", [result, 1.0])
        for k, n in enumerate(self.variables):
            inputs[n].label = _vlabel(k - len(self.variables) + 1)
        for k, r in enumerate(records, 1):
            r.label = _vlabel(k)
        self._inputs = inputs
        return result.tensor, records


_SUB = str.maketrans("-0123456789", "₋₀₁₂₃₄₅₆₇₈₉")


def _vlabel(k: int) -> str:
    """v₋₁, v₀, v₁ … as in the evaluation traces of the AD literature."""
    return f"v{str(k).translate(_SUB)}"


def parse(source: str) -> Expression:
    """Parse and whitelist-check an expression; variables are the free names in order."""
    if not isinstance(source, str) or not source.strip():
        raise ExprError("empty expression")
    if len(source) > MAX_LENGTH:
        raise ExprError(f"expression too long ({len(source)} > {MAX_LENGTH} characters)")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as err:
        raise ExprError(f"not a valid expression: {err.msg} at column {err.offset} "
                        f"(only formulas like (log(x)*(x+3)+x**2)/sin(x) are accepted)") from None
    except (RecursionError, MemoryError):   # some Python versions' parsers recurse
        raise ExprError("expression nests too deeply for Python's parser; write it with "
                        "fewer nested operations") from None
    except ValueError as err:               # e.g. a NUL character
        raise ExprError(f"not a valid expression ({err})") from None
    names = _check(tree)
    if not names:
        raise ExprError(f"the expression {source.strip()!r} has no variables: nothing to "
                        f"differentiate (write it in terms of x, y, …)")
    return Expression(source.strip(), tree, tuple(names))


def parse_values(text: str | None) -> dict[str, float]:
    """"x=2,y=3" -> {"x": 2.0, "y": 3.0} (numbers only)."""
    if not text:
        return {}
    values = {}
    for part in text.split(","):
        name, sep, num = part.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ExprError(f"--at expects name=value pairs like x=2,y=3, got {part!r}")
        try:
            values[name] = float(num)
        except ValueError:
            raise ExprError(f"--at: {name} needs a number, got {num.strip()!r}") from None
    return values
