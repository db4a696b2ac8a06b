"""`chainrule check file.py:Name`: exit 0 when gradients agree, 1 when not, 2 on bad usage."""
import textwrap

import numpy as np
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

    class XSigmoid(GoodSigmoid):
        def forward(self, x):
            self.x = x
            return super().forward(x)

        def backward(self, dout):
            return self.x * (1.0 - self.out) * self.out

    class GoodRelu:
        def forward(self, x):
            self.x, self.mask = x, x <= 0
            return np.where(self.mask, 0, x)

        def backward(self, dout):
            return np.where(self.mask, 0, dout)

    class XRelu(GoodRelu):
        def backward(self, dout):
            return np.where(self.mask, 0, self.x)

    class SquareAffine:
        def __init__(self):
            self.W, self.b = np.random.randn(5, 5), np.random.randn(5)
            self.dW = self.db = None

        def forward(self, x):
            self.x = x
            return x @ self.W + self.b

        def backward(self, dout):
            self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
            return dout @ self.W.T

    class TransposedAffine(SquareAffine):
        def backward(self, dout):
            dx = super().backward(dout)
            self.dW = dout.T @ self.x
            return dx

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


@pytest.mark.parametrize("seed", ["0", "5"])
@pytest.mark.parametrize("wrong, right, bad", [("XSigmoid", "GoodSigmoid", "dx"),
                                               ("XRelu", "GoodRelu", "dx"),
                                               ("TransposedAffine", "SquareAffine", "dW")])
def test_layers_right_only_when_dout_equals_x_exit_1(layers_file, capsys, seed, wrong, right,
                                                     bad):
    assert main(["check", f"{layers_file}:{wrong}", "--seed", seed]) == 1
    out = capsys.readouterr().out
    assert "verdict: FAIL" in out and f"wrong: {bad})" in out
    assert main(["check", f"{layers_file}:{right}", "--seed", seed]) == 0
    assert "verdict: PASS" in capsys.readouterr().out


def test_transposed_gradient_is_named_in_the_output(layers_file, capsys):
    assert main(["check", f"{layers_file}:TransposedAffine"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "  hint: dW looks transposed: analytic == numerical.T" in lines


def test_inputs_and_dout_are_pairwise_different(tmp_path, capsys):
    record = tmp_path / "seen.npy"
    layer = tmp_path / "recorder.py"
    layer.write_text(textwrap.dedent(f"""
        import numpy as np

        class Recorder:
            def forward(self, x, y):
                self.x, self.y = x, y
                return x * y

            def backward(self, dout):
                with open({str(record)!r}, "ab") as f:
                    np.save(f, np.stack([self.x, self.y, dout]))
                return dout * self.y, dout * self.x
    """))
    assert main(["check", f"{layer}:Recorder", "--input-shape", "3,4"]) == 0
    assert "verdict: PASS" in capsys.readouterr().out
    with open(record, "rb") as f:
        draws = [np.load(f), np.load(f)]
        assert f.read() == b""  # exactly two draws
    arrays = [a for draw in draws for a in draw]  # x, y, dout of each draw
    assert all(a.shape == (3, 4) for a in arrays)
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            assert np.all(a != b)


@pytest.mark.parametrize("option, message", [
    (["--seed", "-1"], "--seed must be a non-negative integer"),
    (["--eps", "0"], "need --eps > 0"),
    (["--rtol=-1e-4"], "--rtol >= 0"),
])
def test_bad_settings_exit_2(layers_file, capsys, option, message):
    assert main(["check", f"{layers_file}:GoodSigmoid", *option]) == 2
    assert message in capsys.readouterr().err
