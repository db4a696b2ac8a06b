"""Loading a user's layer for `chainrule check`, and its random inputs."""
import numpy as np

from chainrule.glassbox.layer_files import default_input_shape, load_layer, random_inputs


class Affine2:
    def __init__(self):
        self.W = np.ones((3, 2))

    def forward(self, x, t):
        return x

    def backward(self, dout):
        return dout


def test_load_layer_reports_what_is_wrong(tmp_path):
    f = tmp_path / "mine.py"
    f.write_text("class Good:\n    def forward(self, x): return x\n"
                 "    def backward(self, d): return d\nclass NoBackward:\n    pass\n")
    layer, error = load_layer(f"{f}:Good")
    assert error is None and hasattr(layer, "backward")
    assert load_layer(f"{f}:Missing")[1] == f"{f} has no 'Missing' (it defines: Good, NoBackward)"
    assert "has no forward/backward" in load_layer(f"{f}:NoBackward")[1]
    assert load_layer("nofile.py:X")[1] == "no such file: nofile.py"
    assert load_layer("justtext")[1] == "expected FILE.py:NAME, got 'justtext'"


def test_random_inputs_come_from_independent_streams():
    layer = Affine2()
    shape = default_input_shape(layer)
    assert shape == (4, 3)
    x, t = random_inputs(layer, shape, np.random.SeedSequence(0))
    assert x.shape == (4, 3) and not np.allclose(x, t)
    np.testing.assert_array_equal(t.sum(axis=1), np.ones(4))  # `t` is a one-hot target
    again, _ = random_inputs(layer, shape, np.random.SeedSequence(0))
    np.testing.assert_array_equal(x, again)
