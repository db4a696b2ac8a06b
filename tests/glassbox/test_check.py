"""check_layer: passes every correct layer, catches each bug of the tutorial's code."""
import json

import numpy as np
import pytest

import chainrule
from chainrule.glassbox.check import check_layer
from chainrule.layers import (AddLayer, Affine, IdentityWithLoss, MulLayer, Relu, Sigmoid,
                              SigmoidWithLoss, SoftmaxWithLoss, Tanh)

rng = np.random.default_rng(0)


def x45():
    return rng.standard_normal((4, 5))


def affine():
    return Affine(rng.standard_normal((5, 3)), rng.standard_normal(3))


CORRECT = {
    "mul": lambda: (MulLayer(), [x45(), x45()]),
    "mul-scalars": lambda: (MulLayer(), [100, 2]),
    "add": lambda: (AddLayer(), [x45(), rng.standard_normal(5)]),
    "relu": lambda: (Relu(), [x45()]),
    "sigmoid": lambda: (Sigmoid(), [x45()]),
    "tanh": lambda: (Tanh(), [x45()]),
    "affine": lambda: (affine(), [x45()]),
    "affine-4d": lambda: (Affine(rng.standard_normal((6, 2)), np.zeros(2)),
                          [rng.standard_normal((4, 1, 2, 3))]),
    "affine-no-dx": lambda: (Affine(rng.standard_normal((5, 3)), np.zeros(3), input_grad=False),
                             [x45()]),
    "softmax-indices": lambda: (SoftmaxWithLoss(), [x45(), rng.integers(0, 5, 4)]),
    "softmax-one-hot": lambda: (SoftmaxWithLoss(), [x45(), np.eye(5)[rng.integers(0, 5, 4)]]),
    "identity-loss": lambda: (IdentityWithLoss(), [x45(), x45()]),
    "sigmoid-loss": lambda: (SigmoidWithLoss(), [x45(), (x45() > 0) * 1.0]),
}


@pytest.mark.parametrize("name", CORRECT)
def test_every_correct_layer_passes(name):
    layer, inputs = CORRECT[name]()
    report = check_layer(layer, *inputs)
    assert report.ok, str(report)
    assert report.results and all(r.passed for r in report.results)
    assert "verdict: PASS" in str(report)


def test_public_name_and_parameter_gradients_are_checked():
    report = chainrule.check_layer(affine(), x45())
    assert [r.name for r in report.results] == ["dx", "dW", "db"]
    assert [r.name for r in check_layer(MulLayer(), x45(), x45()).results] == ["dx", "dy"]


def test_float32_layer_is_checked_in_float64_and_left_as_it_was():
    W, b = rng.standard_normal((5, 3)).astype(np.float32), np.zeros(3, np.float32)
    W_before = W.copy()
    layer = Affine(W, b)
    layer.forward(np.ones((2, 5), np.float32))
    state = dict(vars(layer))
    report = check_layer(layer, x45().astype(np.float32))
    assert report.ok, str(report)  # float32 rounding alone would fail these tolerances
    assert vars(layer).keys() == state.keys()
    assert all(vars(layer)[k] is v for k, v in state.items())
    assert layer.W is W and layer.W.dtype == np.float32 and layer.dW is None
    np.testing.assert_array_equal(W, W_before)
    assert layer.x.shape == (2, 5)  # the cache of the user's own forward, untouched


# ---- the tutorial's bugs, and others -------------------------------------------------------

class TutorialAffine:
    """The tutorial's Affine: db sums the bias instead of dout."""

    def __init__(self, W, b):
        self.W, self.b, self.dW, self.db = W, b, None, None

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = np.sum(self.b, axis=0)
        return dout @ self.W.T


class BatchBiasAffine(TutorialAffine):
    """db summing a bias that happens to have dout's shape (so the shape alone looks fine)."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.db = self.b * 0 + 1.0
        return dx


class TutorialSigmoid:
    """The tutorial's Sigmoid: backward computes dx and forgets to return it."""

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out  # noqa: F841


class BookRelu:
    """The book's Relu: zeroes the caller's dout in place."""

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class WrongShapeSum:
    def forward(self, x):
        return x * 2

    def backward(self, dout):
        return (dout * 2).sum(axis=0)


class ForgetsDb(TutorialAffine):
    def backward(self, dout):
        self.dW = self.x.T @ dout
        return dout @ self.W.T


class Raises:
    def forward(self, x):
        return x

    def backward(self, dout):
        raise RuntimeError("not implemented yet")


class WrongValue:
    def forward(self, x):
        self.x = x
        return x ** 2

    def backward(self, dout):
        return dout * self.x  # should be 2 * x


class ScaledTanhWithParam:
    """A layer with a non-standard parameter name: any d<name> is checked."""

    def __init__(self):
        self.alpha = np.array([0.5, 2.0, 1.0])
        self.dalpha = None

    def forward(self, x):
        self.x = x
        return np.tanh(self.alpha * x)

    def backward(self, dout):
        local = dout * (1 - np.tanh(self.alpha * self.x) ** 2)
        self.dalpha = (local * self.x).sum(axis=0) * 1.5  # wrong by a factor
        return local * self.alpha


def failing(report, name):
    [result] = [r for r in report.results if r.name == name]
    assert not result.passed and not report.ok
    assert "verdict: FAIL" in str(report)
    return result


def test_catches_the_tutorial_db_bug():
    report = check_layer(TutorialAffine(rng.standard_normal((5, 3)), rng.standard_normal(3)),
                         x45())
    assert "shape" in failing(report, "db").problem
    assert [r.passed for r in report.results] == [True, True, False]  # dx and dW are fine


def test_catches_a_wrong_db_of_the_right_shape_and_points_at_it():
    report = check_layer(BatchBiasAffine(rng.standard_normal((5, 3)), rng.standard_normal(3)),
                         x45())
    result = failing(report, "db")
    assert result.max_abs_err > 0.01 and result.worst_index is not None
    assert result.analytic == pytest.approx(1.0)
    assert result.numerical != pytest.approx(1.0)


def test_catches_the_tutorial_sigmoid_without_return():
    report = check_layer(TutorialSigmoid(), x45())
    assert "None" in failing(report, "dx").problem
    assert "return" in str(report)


def test_catches_mutated_dout():
    report = check_layer(BookRelu(), x45())
    assert not report.ok
    assert any("modified the dout" in p for p in report.problems)
    assert "verdict: FAIL" in str(report)


def test_catches_wrong_shape():
    result = failing(check_layer(WrongShapeSum(), x45()), "dx")
    assert "(5,)" in result.problem and "(4, 5)" in result.problem


def test_catches_unset_parameter_gradient_even_if_stale():
    layer = ForgetsDb(rng.standard_normal((5, 3)), rng.standard_normal(3))
    layer.db = np.zeros(3)  # left over from an earlier, correct backward
    report = check_layer(layer, x45())
    assert "unset" in failing(report, "db").problem
    assert isinstance(layer.db, np.ndarray)  # restored


def test_reports_backward_raising_without_crashing():
    report = check_layer(Raises(), x45())
    assert not report.ok
    assert any("RuntimeError: not implemented yet" in p for p in report.problems)
    assert "verdict: FAIL" in str(report)


def test_reports_forward_raising_without_crashing():
    report = check_layer(Affine(np.ones((3, 2)), np.ones(2)), x45())
    assert not report.ok and "forward raised" in str(report)


def test_catches_a_wrong_value_and_reports_the_worst_element():
    x = np.array([[1.0, -2.0, 3.0]])
    report = check_layer(WrongValue(), x)
    result = failing(report, "dx")
    assert result.worst_index in {(0, 0), (0, 1), (0, 2)}
    assert result.numerical == pytest.approx(2 * result.analytic, rel=1e-6)
    assert result.max_rel_err == pytest.approx(0.5, rel=1e-6)


def test_checks_any_named_parameter_gradient():
    report = check_layer(ScaledTanhWithParam(), x45()[:, :3])
    assert [r.name for r in report.results] == ["dx", "dalpha"]
    assert report.results[0].passed
    failing(report, "dalpha")


def test_report_to_dict_is_json_ready():
    report = check_layer(TutorialSigmoid(), x45())
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["layer"] == "TutorialSigmoid"
    assert data["results"][0]["name"] == "dx" and data["results"][0]["passed"] is False
    good = json.loads(json.dumps(check_layer(affine(), x45()).to_dict()))
    assert good["ok"] is True and {r["name"] for r in good["results"]} == {"dx", "dW", "db"}
    assert all(r["max_rel_err"] < 1e-4 for r in good["results"])


class NoBackward:
    def forward(self, x):
        return x


class ReturnsNoneFromForward:
    def forward(self, x):
        self.x = x

    def backward(self, dout):
        return dout


@pytest.mark.parametrize("layer", [NoBackward(), ReturnsNoneFromForward(), object()])
def test_odd_objects_get_a_failing_report_not_a_crash(layer):
    report = check_layer(layer, x45())
    assert not report.ok and report.problems
    assert "verdict: FAIL" in str(report)


class Vol2Affine:
    """The second volume's style: params/grads lists, backward writes grads[i][...]."""

    def __init__(self, W, b):
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]

    def forward(self, x):
        W, b = self.params
        self.x = x
        return x @ W + b

    def backward(self, dout):
        W, _ = self.params
        self.grads[0][...] = self.x.T @ dout
        self.grads[1][...] = dout.sum(axis=0)
        return dout @ W.T


class Vol2RebindsGrad(Vol2Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads[0] = self.x.T @ dout  # rebinding: an optimizer keeps the old array
        return dx


class Vol2ForgetsDb(Vol2Affine):
    def backward(self, dout):
        self.grads[0][...] = self.x.T @ dout
        return dout @ self.params[0].T


def vol2(cls):
    return cls(rng.standard_normal((5, 3)), rng.standard_normal(3))


def test_second_volume_params_and_grads_lists_are_checked():
    layer = vol2(Vol2Affine)
    params_before = layer.params
    report = check_layer(layer, x45())
    assert report.ok, str(report)
    assert [r.name for r in report.results] == ["dx", "grads[0]", "grads[1]"]
    assert layer.params is params_before and layer.params[0].dtype == np.float64


def test_second_volume_rebound_and_unset_grads_are_caught():
    rebinds = check_layer(vol2(Vol2RebindsGrad), x45())
    assert not rebinds.ok and any("replaced grads[0]" in p for p in rebinds.problems)
    forgets = check_layer(vol2(Vol2ForgetsDb), x45())
    assert "unset" in failing(forgets, "grads[1]").problem
