"""`chainrule check file.py:Name`: exit 0 when gradients agree, 1 when not, 2 on bad usage."""
import textwrap

import pytest

from chainrule.cli import main

LAYERS = textwrap.dedent("""
    import numpy as np
    from chainrule.layers import Affine

    class GoodSigmoid:
        def forward(self, x):
            self.out = 1 / (1 + np.exp(-x))
            return self.out

        def backward(self, dout):
            return dout * (1.0 - self.out) * self.out

    class TutorialSigmoid(GoodSigmoid):
        def backward(self, dout):
            dx = dout * (1.0 - self.out) * self.out

    class TutorialAffine:
        def __init__(self):
            self.W, self.b = np.random.randn(7, 3), np.random.randn(3)
            self.dW = self.db = None

        def forward(self, x):
            self.x = x
            return x @ self.W + self.b

        def backward(self, dout):
            self.dW = self.x.T @ dout
            self.db = np.sum(self.b, axis=0)
            return dout @ self.W.T

    class SquaredError:
        def forward(self, x, t):
            self.diff = x - t
            return 0.5 * np.sum(self.diff ** 2) / len(x)

        def backward(self, dout=1):
            return dout * self.diff / len(self.diff)

    def make_affine():
        return Affine(np.random.randn(6, 2), np.zeros(2))

    class NeedsArgs:
        def __init__(self, size):
            self.size = size
""")


@pytest.fixture
def layers_file(tmp_path):
    path = tmp_path / "my_layers.py"
    path.write_text(LAYERS)
    return path


def test_passing_layer_exits_0(layers_file, capsys):
    assert main(["check", f"{layers_file}:GoodSigmoid"]) == 0
    out = capsys.readouterr().out
    assert "GoodSigmoid" in out and "verdict: PASS" in out


def test_function_returning_a_layer_and_inferred_input_width(layers_file, capsys):
    assert main(["check", f"{layers_file}:make_affine"]) == 0
    out = capsys.readouterr().out
    assert "(4, 6)" in out and "dW" in out and "db" in out


def test_loss_layer_gets_targets(layers_file, capsys):
    assert main(["check", f"{layers_file}:SquaredError", "--input-shape", "3,2"]) == 0
    assert "verdict: PASS" in capsys.readouterr().out


@pytest.mark.parametrize("name, wrong", [("TutorialSigmoid", "dx"), ("TutorialAffine", "db")])
def test_tutorial_bugs_exit_1(layers_file, capsys, name, wrong):
    assert main(["check", f"{layers_file}:{name}"]) == 1
    out = capsys.readouterr().out
    assert "verdict: FAIL" in out and f"wrong: {wrong}" in out


def test_input_shape_option(layers_file, capsys):
    assert main(["check", f"{layers_file}:GoodSigmoid", "--input-shape", "2,3,4"]) == 0
    assert "(2, 3, 4)" in capsys.readouterr().out


@pytest.mark.parametrize("target, message", [
    ("{dir}/missing.py:GoodSigmoid", "no such file"),
    ("{file}:Missing", "has no 'Missing'"),
    ("{file}", "expected FILE.py:NAME"),
    ("{file}:NeedsArgs", "constructible with no arguments"),
])
def test_bad_usage_exits_2_with_a_clear_message(layers_file, capsys, target, message):
    target = target.format(dir=layers_file.parent, file=layers_file)
    assert main(["check", target]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "chainrule check" in captured.err


def test_bad_input_shape_exits_2(layers_file, capsys):
    assert main(["check", f"{layers_file}:GoodSigmoid", "--input-shape", "4,x"]) == 2
    assert "--input-shape" in capsys.readouterr().err


def test_file_that_fails_to_import_exits_2(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('no such dependency')\n")
    assert main(["check", f"{broken}:Layer"]) == 2
    assert "no such dependency" in capsys.readouterr().err
