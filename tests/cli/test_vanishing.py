"""`chainrule vanishing`: a table on stdout, a PNG with -o, exit 2 on bad usage."""
import json

import pytest

from chainrule.cli import main


def test_table_and_plot(tmp_path, capsys):
    target = tmp_path / "sig.png"
    assert main(["vanishing", "--depth", "8", "--activation", "sigmoid", "--data", "toy",
                 "--width", "30", "-o", str(target)]) == 0
    out = capsys.readouterr().out
    assert "8 layers of sigmoid" in out and "mean |∂L/∂W|" in out
    rows = [ln for ln in out.splitlines() if ln[:2].strip().isdigit()]
    assert len(rows) == 8
    assert target.read_bytes()[:4] == b"\x89PNG"


def test_several_activations_one_plot_a_sentence_each(tmp_path, capsys):
    target = tmp_path / "all.png"
    assert main(["vanishing", "--depth", "6", "--activation", "sigmoid", "tanh", "relu",
                 "--data", "toy", "--width", "20", "-o", str(target)]) == 0
    out = capsys.readouterr().out
    for head, sentence in (("6 layers of sigmoid", "σ'(z) ≤ 0.25"),
                           ("6 layers of tanh", "tanh'(z) ≤ 1"),
                           ("6 layers of relu", "ReLU'(z) is 1 where a unit is on")):
        assert head in out and sentence in out
    assert "(6 decades)" in out                      # the same fixed scale for every run
    assert target.read_bytes()[:4] == b"\x89PNG"


def test_json(capsys):
    assert main(["vanishing", "--depth", "4", "--activation", "relu", "--data", "toy",
                 "--width", "10", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["activation"] == "relu" and data["init"] == "he"
    assert len(data["layers"]) == 4 and data["layers"][-1]["ratio_to_last"] == 1.0


def test_numeric_init(capsys):
    assert main(["vanishing", "--depth", "3", "--data", "toy", "--init", "0.5"]) == 0
    assert "N(0, 0.5²) init" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--init", "glorot"], "--init must be"),
    (["-o", "plot.txt"], "-o must end in"),
])
def test_bad_usage_exits_2(capsys, argv, message):
    assert main(["vanishing", "--data", "toy", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--depth", "1"], ["--activation", "softplus"],
                                  ["--width", "zero"]])
def test_argparse_rejects(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(["vanishing", *argv])
    assert info.value.code == 2
