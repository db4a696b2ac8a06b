"""Safe expressions like "(log(x)*(x+3)+x**2)/sin(x)", and their evaluation traces.

`parse` reads the text with Python's `ast` module and accepts only a whitelist: numbers,
variable names, + - * / ** (and unary minus) and calls of a few named primitives. Nothing
is ever passed to eval. `Expression.build` turns it into chainrule Tensor ops, one engine
node per operation, so the traces below are the engine's own numbers: `forward_trace`
pushes tangents through the primitives' JVP rules (`chainrule.jvp`), `reverse_trace`
collects adjoints from one backward pass.
"""
from __future__ import annotations

import ast
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from chainrule import ops
from chainrule.engine import Tensor, backward_pass, tensor
from chainrule.functional import jvp
from chainrule.glassbox.explain import fmt_number, text_table

__all__ = ["ExprError", "Expression", "parse", "parse_values", "Trace", "TraceRow",
           "forward_trace", "reverse_trace", "FUNCTIONS", "CONSTANTS"]

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
                    return float(fn(tensor(np.float64(a))).data)
                op = "log" if node.func.id == "ln" else node.func.id
                return new(fn(a.tensor), op, [a])
            if isinstance(node, ast.BinOp):
                a, b = args
                op = _BINOPS[type(node.op)][0]
                if isinstance(a, float) and isinstance(b, float):
                    return float(getattr(ops, op)(tensor(np.float64(a)), np.float64(b)).data)
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


# ---- evaluation traces ------------------------------------------------------------------

_SHOW = {"log": "ln {0}", "exp": "exp {0}", "sin": "sin {0}", "cos": "cos {0}",
         "tanh": "tanh {0}", "sqrt": "√{0}", "abs": "|{0}|", "sigmoid": "σ({0})",
         "relu": "relu({0})", "neg": "−{0}"}


def _name(r: Any, decimals: int = 4) -> str:
    if isinstance(r, _Record):
        return r.label
    return f"{r:g}"


def _definition(r: _Record) -> str:
    a = [_name(o) for o in r.operands]
    if r.op in _SHOW:
        return _SHOW[r.op].format(*a)
    if r.op == "pow" and "p" in r.attrs:
        return f"{a[0]}^{r.attrs['p']:g}"
    symbol = {"add": "+", "sub": "−", "mul": "×", "div": "/", "pow": "^"}[r.op]
    return f"{a[0]} {symbol} {a[1]}"


def _local_text(r: _Record, i: int) -> str:
    """∂r/∂operand_i written with the trace's labels."""
    a = [_name(o) for o in r.operands]
    v = r.label
    op = r.op
    if op == "add":
        return "1"
    if op == "sub":
        return "1" if i == 0 else "−1"
    if op == "mul":
        return a[1 - i]
    if op == "div":
        return f"1/{a[1]}" if i == 0 else f"−{v}/{a[1]}"
    if op == "pow":
        if "p" in r.attrs:
            p = r.attrs["p"]
            return f"{p:g}·{a[0]}" if p == 2 else f"{p:g}·{a[0]}^{p - 1:g}"
        return f"{a[1]}·{a[0]}^({a[1]}−1)" if i == 0 else f"{v}·ln {a[0]}"
    return {"neg": "−1", "log": f"1/{a[0]}", "exp": v, "sin": f"cos {a[0]}",
            "cos": f"−sin {a[0]}", "sqrt": f"1/(2{v})", "tanh": f"(1 − {v}²)",
            "sigmoid": f"{v}(1 − {v})", "abs": f"sign({a[0]})",
            "relu": f"[{a[0]} > 0]"}[op]


def _times(factor: str, symbol: str) -> str:
    if factor == "1":
        return symbol
    if factor == "−1":
        return f"−{symbol}"
    if factor.startswith("−"):
        return f"−{_times(factor[1:], symbol)}"
    if any(c in factor for c in " /+"):
        factor = f"({factor})"
    return f"{factor}·{symbol}"


def _sum(terms: list[str]) -> str:
    """Terms joined with + and −, as written by hand."""
    out = ""
    for t in terms:
        if not out:
            out = t
        elif t.startswith("−"):
            out += f" − {t[1:]}"
        else:
            out += f" + {t}"
    return out


@dataclass
class TraceRow:
    label: str
    definition: str
    value: float
    derivative: float          # tangent (forward) or adjoint (reverse)
    rule: str                  # how the derivative is formed from the others


@dataclass
class Trace:
    """An evaluation trace: every intermediate with its value and tangent or adjoint."""
    mode: str                  # "forward" or "reverse"
    source: str
    at: dict[str, float]
    wrt: str | None            # the seeded variable (forward mode)
    rows: list[TraceRow]
    value: float
    gradient: dict[str, float]  # df/dvariable (forward: only wrt)
    decimals: int = 4

    def __str__(self) -> str:
        d = self.decimals
        at = ", ".join(f"{k} = {v:g}" for k, v in self.at.items())
        if self.mode == "forward":
            others = " (every other input's tangent 0)" if len(self.at) > 1 else ""
            head = (f"Forward mode: f = {self.source} at {at}; tangents v̇ = ∂v/∂{self.wrt}, "
                    f"seeded with 1 for {self.wrt}{others}")
            cols = ["v", "definition", "value", f"tangent v̇ = ∂v/∂{self.wrt}", "tangent rule"]
        else:
            head = f"Reverse mode: f = {self.source} at {at}; adjoints v̄ = ∂f/∂v, from f̄ = 1"
            cols = ["v", "definition", "value", "adjoint v̄ = ∂f/∂v", "adjoint rule"]
        rows = [[r.label, r.definition, fmt_number(r.value, d), fmt_number(r.derivative, d),
                 r.rule] for r in self.rows]
        lines = [head, "", text_table(cols, rows, right=[2, 3]), "",
                 f"f = {fmt_number(self.value, d)}"]
        lines += [f"∂f/∂{k} = {fmt_number(g, d)}" for k, g in self.gradient.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "expression": self.source, "at": self.at, "wrt": self.wrt,
                "value": self.value, "gradient": self.gradient,
                "rows": [vars(r) for r in self.rows]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _scalar(a: Any) -> float:
    return float(np.asarray(a, dtype=np.float64).reshape(-1)[0]) if np.size(a) else 0.0


def forward_trace(expr: Expression | str, at: Mapping[str, float], wrt: str | None = None,
                  decimals: int = 4) -> Trace:
    """Forward mode: one evaluation with the tangent of `wrt` seeded to 1, through the
    engine's JVP rules; every intermediate's value and tangent."""
    expr = parse(expr) if isinstance(expr, str) else expr
    expr.check_values(at)
    if wrt is None:
        if len(expr.variables) != 1:
            raise ExprError(f"forward mode pushes one tangent: choose the variable with "
                            f"--wrt (one of {', '.join(expr.variables)})")
        wrt = expr.variables[0]
    if wrt not in expr.variables:
        raise ExprError(f"--wrt {wrt}: the expression has no variable {wrt!r} "
                        f"(it uses {', '.join(expr.variables)})")
    seen: dict[str, list] = {}

    def f(*xs):
        out, records = expr._evaluate(dict(zip(expr.variables, xs)))
        seen["records"], seen["inputs"] = records, expr._inputs
        return out

    primals = [np.float64(at[n]) for n in expr.variables]
    tangents = [np.float64(n == wrt) for n in expr.variables]
    with np.errstate(all="ignore"):
        out, tangent = jvp(f, primals, tangents)
    rows = []
    for n in expr.variables:
        rec = seen["inputs"][n]
        rows.append(TraceRow(rec.label, n, _scalar(rec.tensor.data), _scalar(rec.tensor.tangent),
                             "seed" if n == wrt else "constant in this pass"))
    for rec in seen["records"]:
        terms = [_times(_local_text(rec, i), f"v̇{o.label[1:]}")
                 for i, o in enumerate(rec.operands) if isinstance(o, _Record)]
        tan = rec.tensor.tangent
        rows.append(TraceRow(rec.label, _definition(rec), _scalar(rec.tensor.data),
                             _scalar(0.0 if tan is None else tan), _sum(terms)))
    return Trace("forward", expr.source, dict(at), wrt, rows, _scalar(out.data),
                 {wrt: _scalar(tangent.data)}, decimals)


def reverse_trace(expr: Expression | str, at: Mapping[str, float],
                  decimals: int = 4) -> Trace:
    """Reverse mode: one forward evaluation, then one backward pass from f̄ = 1; every
    intermediate's adjoint, listed in the order the backward pass produces them."""
    expr = parse(expr) if isinstance(expr, str) else expr
    with np.errstate(all="ignore"):
        out, leaves, records = expr.build(at, requires_grad=True)
        inputs = list(expr._inputs.values())
        targets = [r.tensor for r in records] + [r.tensor for r in inputs]
        found = backward_pass([out], [None], retain_graph=True, inputs=targets)
    adj = {id(t): (0.0 if g is None else _scalar(g)) for t, g in zip(targets, found)}
    consumers: dict[int, list[str]] = {}
    for rec in records:
        for i, o in enumerate(rec.operands):
            if isinstance(o, _Record):
                consumers.setdefault(id(o), []).append(
                    _times(_local_text(rec, i), f"v̄{rec.label[1:]}"))
    rows = []
    for rec in records[::-1] + inputs[::-1]:
        rule = _sum(consumers.get(id(rec), [])) or "seed f̄ = 1"
        definition = _definition(rec) if rec.op != "input" else \
            next(n for n, r in expr._inputs.items() if r is rec)
        rows.append(TraceRow(rec.label, definition, _scalar(rec.tensor.data),
                             adj[id(rec.tensor)], rule))
    grads = {n: adj[id(expr._inputs[n].tensor)] for n in expr.variables}
    return Trace("reverse", expr.source, dict(at), None, rows, _scalar(out.data), grads,
                 decimals)
