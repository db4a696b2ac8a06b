"""`chainrule explain`: the worked example by default, expression traces with --expr;
exit 0 on success, 2 on bad usage with a clear message."""
import json

import pytest

from chainrule.cli import main

F = "(log(x)*(x+3)+x**2)/sin(x)"


def test_no_arguments_derive_the_worked_example(capsys):
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    for text in ("σ3 = σ(z3) = 0.4154", "0.5369   (exactly 0.5368841906…)",
                 "∂L/∂W5 = ∂L/∂σ3 · ∂σ3/∂z3 · ∂z3/∂W5 = 1.7107 × 0.2428 × 0.6565 = 0.2727",
                 "W5     -0.1725   0.2727  -0.4452   -0.4452  matches",
                 "b3     -0.3043   0.4154  -0.7197   -0.7196  4th decimal off",
                 "Where the tutorial differs"):
        assert text in out, text


def test_worked_example_json_and_decimals(capsys):
    assert main(["explain", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert round(data["after"]["W6"], 4) == -0.1668
    assert main(["explain", "--decimals", "6"]) == 0
    assert "σ3 = σ(z3) = 0.415433" in capsys.readouterr().out


@pytest.mark.parametrize("mode, header, column", [
    ("forward", "Forward mode", "tangent v̇ = ∂v/∂x"),
    ("reverse", "Reverse mode", "adjoint v̄ = ∂f/∂v"),
])
def test_expression_traces(capsys, mode, header, column):
    assert main(["explain", "--expr", F, "--at", "x=2", "--mode", mode]) == 0
    out = capsys.readouterr().out
    assert out.startswith(header) and column in out
    assert "∂f/∂x = 11.6682" in out and "f = 8.2104" in out


def test_both_modes_by_default_and_several_variables(capsys):
    assert main(["explain", "--expr", "x*y + sin(x)", "--at", "x=2,y=3"]) == 0
    out = capsys.readouterr().out
    assert "Forward mode" in out and "Reverse mode" in out
    assert main(["explain", "--expr", "x*y", "--at", "x=2,y=3", "--mode", "forward",
                 "--wrt", "y"]) == 0
    assert "∂f/∂y = 2.0000" in capsys.readouterr().out


def test_forward_mode_with_several_variables_does_one_pass_per_variable(capsys):
    assert main(["explain", "--expr", "x*y", "--at", "x=2,y=3", "--mode", "forward"]) == 0
    out = capsys.readouterr().out
    assert out.count("Forward mode") == 2
    assert "seeded with 1 for x" in out and "seeded with 1 for y" in out
    assert "∂f/∂x = 3.0000" in out and "∂f/∂y = 2.0000" in out


def test_the_page(tmp_path, capsys):
    page = tmp_path / "p.html"
    assert main(["explain", "-o", str(page)]) == 0
    assert "open it in a browser" in capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "δ3 = ∂L/∂z3" in text and '"W6"' in text
    assert main(["explain", "--expr", "x*y", "--at", "x=2,y=3", "-o", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert "f = x*y at x = 2, y = 3" in text and '"name": "f"' in text


def test_trace_json(capsys):
    assert main(["explain", "--expr", F, "--at", "x=2", "--mode", "reverse", "--json"]) == 0
    (trace,) = json.loads(capsys.readouterr().out)
    assert trace["mode"] == "reverse" and trace["gradient"]["x"] == pytest.approx(11.66823670927)


@pytest.mark.parametrize("argv, message", [
    (["--expr", "x.__class__"], "attribute access"),
    (["--expr", "os.system('ls')"], "not allowed"),
    (["--expr", "x*y", "--at", "x=1,y=2", "--mode", "reverse", "--wrt", "x"], "one pass"),
    (["--mode", "forward"], "need --expr"),
    (["-o", "page.svg"], "must end in .html"),
    (["--json", "-o", "page.html"], "--json, --mode and --wrt are for the printed traces"),
    (["--expr", "x", "--at", "y=1"], "no value for variable"),
    (["--expr", "x", "--at", "x=1,z=2"], "unknown variable"),
    (["--expr", "x", "--at", "x=abc"], "needs a number"),
    (["--expr", "x*y", "--at", "x=1,y=1", "--mode", "forward", "--wrt", "q"], "no variable 'q'"),
    (["--at", "x=1"], "need --expr"),
    (["--expr", "3 + 4"], "no variables"),
])
def test_bad_usage_exits_2_with_a_clear_message(capsys, argv, message):
    assert main(["explain", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
