"""Untrusted expressions: the whitelist parser rejects anything unsafe with a clear
ExprError, and anything within the length limit evaluates correctly, never a RecursionError
from walking a deep tree."""
import ast
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.glassbox import expr as exprmod
from chainrule.glassbox.expr import MAX_LENGTH, ExprError, parse, parse_values
from chainrule.glassbox.traces import forward_trace, reverse_trace

LONG_SUM = "+".join(["x"] * 999)             # 1997 characters, a left-nested chain 998 deep


@pytest.mark.parametrize("source, message", [
    ("x.__class__", "attribute access"),
    ("__import__('os')", "unknown function '__import__'"),
    ("__builtins__", "names may not start with _"),
    ("system('ls')", "unknown function 'system'"),
    ("import os", "not a valid expression"),
    ("(lambda: 1)()", "calling anything but a named function"),
    ("x[0]", "Subscript"),
    ("x ^ 2", "use \\*\\* for powers"),
    ("'a' * x", "only real numbers"),
    ("sin(x, y)", "other than one argument"),
    ("sin", "without a call"),
    ("[x for x in ()]", "ListComp"),
    ("", "empty expression"),
    ("x" * 3000, "too long"),
])
def test_the_parser_rejects_unsafe_or_unknown_input_clearly(source, message):
    with pytest.raises(ExprError, match=message):
        parse(source)


def test_parse_finds_variables_and_evaluates_with_engine_ops():
    e = parse("sigmoid(a) * exp(b) - pi")
    assert e.variables == ("a", "b")
    out = e(cr.tensor(0.0), cr.tensor(1.0))
    assert out.item() == pytest.approx(0.5 * np.e - np.pi)
    assert parse_values("x=2, y=-3.5") == {"x": 2.0, "y": -3.5}
    with pytest.raises(ExprError, match="name=value"):
        parse_values("x:2")
    with pytest.raises(ExprError, match="needs a number"):
        parse_values("x=two")


def test_a_long_sum_evaluates_in_both_modes():
    assert len(LONG_SUM) <= MAX_LENGTH
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rv = reverse_trace(LONG_SUM, {"x": 1.5})
        fw = forward_trace(LONG_SUM, {"x": 1.5})
    assert rv.value == fw.value == pytest.approx(999 * 1.5)
    assert rv.gradient == {"x": pytest.approx(999.0)}
    assert fw.gradient == {"x": pytest.approx(999.0)}
    assert len(rv.rows) == 998 + 1                 # 998 additions and the input


@pytest.mark.parametrize("count, sign", [(1500, 1.0), (1499, -1.0), (1998, 1.0)])
def test_many_unary_minuses_evaluate(count, sign):
    e = parse("-" * count + "x")
    out, leaves, records = e.build({"x": 2.0}, requires_grad=True)
    assert out.item() == sign * 2.0 and len(records) == count
    assert reverse_trace(e, {"x": 2.0}).gradient == {"x": sign}


def test_deeply_nested_calls_and_powers_evaluate():
    e = parse("sin(" * 150 + "x" + ")" * 150)
    expected, slope = 0.7, 1.0
    for _ in range(150):
        expected, slope = np.sin(expected), slope * np.cos(expected)
    assert reverse_trace(e, {"x": 0.7}).gradient["x"] == pytest.approx(slope, rel=1e-12)
    assert e.build({"x": 0.7})[0].item() == pytest.approx(expected, rel=1e-12)
    tower = parse("x" + "**x" * 600)               # right-nested, 600 deep
    assert tower(1.0).item() == 1.0


def test_the_whitelist_still_applies_deep_inside():
    with pytest.raises(ExprError, match="attribute access"):
        parse("+".join(["x"] * 900) + "+x.real")
    with pytest.raises(ExprError, match="unknown function 'open'"):
        parse("-" * 1500 + "open(x)")
    assert parse("+".join(["a", "b"] * 400) + "+c").variables == ("a", "b", "c")


def test_parentheses_beyond_the_parser_limit_are_a_clear_error():
    with pytest.raises(ExprError, match="too many nested parentheses"):
        parse("(" * 500 + "x" + ")" * 500)


def test_a_parser_that_runs_out_of_stack_is_a_clear_error(monkeypatch):
    """Newer Pythons' parsers can raise RecursionError/MemoryError on deep input."""
    for exc in (RecursionError, MemoryError):
        class DeepParser:                 # the ast module as expr sees it, parse failing
            def __getattr__(self, name):
                return getattr(ast, name)

            def parse(self, *args, **kwargs):
                raise exc("maximum recursion depth exceeded")
        monkeypatch.setattr(exprmod, "ast", DeepParser())
        with pytest.raises(ExprError, match="expression nests too deeply for Python's parser"):
            parse("x")
    monkeypatch.undo()
    with pytest.raises(ExprError, match="not a valid expression.*null"):
        parse("x\0")


@pytest.mark.parametrize("command", ["explain", "graph"])
def test_the_commands_take_a_deep_expression(command, capsys):
    assert main([command, "--expr=" + "-" * 1500 + "x", "--at", "x=2"]) == 0
    out = capsys.readouterr()
    assert out.err == "" and out.out
    assert main([command, "--expr=" + "(" * 300 + "x" + ")" * 300]) == 2
    err = capsys.readouterr().err
    assert "too many nested parentheses" in err and "Traceback" not in err
