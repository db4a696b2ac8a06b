"""The command line talks: --version, an example in every sub-command's help, defaults
shown, and a mistyped flag reported by its sub-command with a "did you mean"."""
import pytest

import chainrule
from chainrule.cli import COMMANDS, build_parser, main


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"chainrule {chainrule.__version__}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_sub_command_has_an_example(capsys, command):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "example" in out and f"chainrule {command}" in out.split("example", 1)[1]


def test_defaults_are_shown(capsys):
    with pytest.raises(SystemExit):
        main(["vanishing", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 100)" in out          # --batch-size says nothing of its default itself
    assert "(default 10)" in out and "(default: 10)" not in out   # --depth already says it


def test_a_mistyped_flag_gets_the_sub_commands_usage_and_a_suggestion(capsys):
    with pytest.raises(SystemExit) as done:
        main(["explain", "--exprr", "x*y"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: chainrule explain")
    assert "unrecognized arguments: --exprr" in err and "did you mean --exprr → --expr?" in err


def test_an_unknown_flag_without_a_close_one_has_no_suggestion(capsys):
    with pytest.raises(SystemExit):
        main(["graph", "--zzzzzz"])
    err = capsys.readouterr().err
    assert err.startswith("usage: chainrule graph") and "did you mean" not in err


def test_parser_builds():
    assert build_parser().prog == "chainrule"
