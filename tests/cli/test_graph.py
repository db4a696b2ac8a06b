"""`chainrule graph`: DOT on stdout, rendered files, a .dot fallback without Graphviz,
exit 2 with a clear message on bad usage."""
import pytest

import chainrule.glassbox.dot as dotmod
from chainrule.cli import main

F = "(log(x)*(x+3)+x**2)/sin(x)"
needs_dot = pytest.mark.skipif(not dotmod.dot_available(),
                               reason="Graphviz's dot is not installed (apt-get install graphviz)")


def test_default_is_the_worked_example_as_dot_text(capsys):
    assert main(["graph"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("digraph chainrule {")
    assert "σ3<BR/>0.4154" in out and "z3<BR/>-0.3415" in out


def test_the_default_is_the_tutorials_figure_per_unit_with_explains_names(capsys):
    assert main(["graph"]) == 0
    out = capsys.readouterr().out
    for name in ("W1", "W2", "W3", "W4", "W5", "W6", "b1", "b2", "b3"):   # one box each
        assert f"label=<{name}<BR/>" in out, name
    for name in ("z1<BR/>0.6478", "σ1<BR/>0.6565", "z2<BR/>0.7225", "σ2<BR/>0.6732"):
        assert name in out, name
    assert out.count("label=<binary_cross_entropy>") == 1 and "clip" not in out  # BCE: one node
    assert 'shape=box, style="rounded", label=<binary_cross_entropy>' in out
    assert "W5<BR/>-0.1725<BR/><FONT COLOR=\"#c0392b\">0.2727</FONT>" in out


def test_vectorized_is_the_layer_picture(capsys):
    assert main(["graph", "--vectorized"]) == 0
    out = capsys.readouterr().out
    assert "label=<linear>" in out and "W1<BR/>" not in out and "clip" in out


def test_html_page(tmp_path, capsys):
    page = tmp_path / "g.html"
    assert main(["graph", "-o", str(page)]) == 0
    assert "δ1 = δ3 · W5" in page.read_text(encoding="utf-8")
    assert main(["graph", "--expr", "x*x+1", "--at", "x=3", "-o", str(page)]) == 0
    assert '"name": "f"' in page.read_text(encoding="utf-8")


def test_dot_file_for_an_expression(tmp_path, capsys):
    target = tmp_path / "f.dot"
    assert main(["graph", "--expr", F, "--at", "x=2", "-o", str(target)]) == 0
    text = target.read_text()
    assert "11.6682" in text and "sin" in text and "v₆" in text
    assert f"wrote {target}" in capsys.readouterr().out


@needs_dot
@pytest.mark.parametrize("ext, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG")])
def test_rendered_files(tmp_path, ext, magic):
    target = tmp_path / f"g{ext}"
    assert main(["graph", "-o", str(target)]) == 0
    assert target.read_bytes().startswith(magic)


def test_without_graphviz_a_dot_file_and_a_note(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dotmod, "dot_available", lambda: False)
    target = tmp_path / "g.svg"
    assert main(["graph", "--expr", "x*y", "--at", "x=2,y=3", "-o", str(target)]) == 0
    assert not target.exists()
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    out = capsys.readouterr().out
    assert "dot -Tsvg" in out and "not installed" in out


def test_no_grad_flag(capsys):
    assert main(["graph", "--expr", "x*x", "--at", "x=3", "--no-grad"]) == 0
    assert dotmod.GRAD_COLOR not in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--expr", "x.real"], "attribute access"),
    (["--expr", "open('f')"], "unknown function 'open'"),
    (["--expr", "x*y", "--at", "x=1"], "no value for variable"),
    (["--expr", "x", "--at", "q=1,x=2"], "unknown variable"),
    (["-o", "graph.jpeg"], "unknown output extension"),
    (["-o", "graph"], "unknown output extension"),
    (["--at", "x=1"], "--at needs --expr"),
    (["--expr", "x", "--vectorized"], "--vectorized is for the worked example"),
])
def test_bad_usage_exits_2(tmp_path, capsys, argv, message):
    argv = [str(tmp_path / a) if a.startswith("graph") else a for a in argv]
    assert main(["graph", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert not list(tmp_path.iterdir())
