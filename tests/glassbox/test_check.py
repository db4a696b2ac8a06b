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


# ---- dout independent of the inputs; two draws ---------------------------------------------

class XSigmoid:
    """Uses x where dout belongs: right only when dout happens to equal x."""

    def forward(self, x):
        self.x, self.out = x, 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return self.x * self.out * (1 - self.out)


class GoodSigmoid(XSigmoid):
    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class XRelu:
    def forward(self, x):
        self.x, self.mask = x, x <= 0
        return np.where(self.mask, 0, x)

    def backward(self, dout):
        return np.where(self.mask, 0, self.x)


class GoodRelu(XRelu):
    def backward(self, dout):
        return np.where(self.mask, 0, dout)


class TransposedAffine(TutorialAffine):
    """dW = dout.T @ x: for a square W the shape is right and the values are dW.T."""

    def backward(self, dout):
        self.dW, self.db = dout.T @ self.x, dout.sum(axis=0)
        return dout @ self.W.T


class GoodAffine(TutorialAffine):
    def backward(self, dout):
        self.dW, self.db = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.W.T


def square_affine(cls):
    return cls(rng.standard_normal((5, 5)), rng.standard_normal(5))


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("wrong, right, bad", [
    (XSigmoid, GoodSigmoid, "dx"), (XRelu, GoodRelu, "dx"),
    (lambda: square_affine(TransposedAffine), lambda: square_affine(GoodAffine), "dW")])
def test_layers_right_only_when_dout_equals_x_fail(seed, wrong, right, bad):
    # x drawn exactly as the check used to draw dout: the same generator with the same seed
    x = np.random.default_rng(seed).standard_normal((4, 5))
    report = check_layer(wrong(), x, seed=seed)
    assert failing(report, bad).max_rel_err > 0.1
    assert all(r.passed for r in report.results if r.name != bad)
    good = check_layer(right(), x, seed=seed)
    assert good.ok, str(good)


class Recorder:
    """Keeps the inputs and dout each backward sees (on the class: the check restores vars)."""

    seen: list = []

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, dout):
        Recorder.seen.append((self.x.copy(), self.y.copy(), np.array(dout, copy=True)))
        return dout * self.y, dout * self.x


def test_inputs_and_dout_of_a_check_are_pairwise_different():
    Recorder.seen = []
    x = np.random.default_rng(0).standard_normal((4, 5))
    report = check_layer(Recorder(), x, x.copy(), seed=0)  # the same values for both inputs
    assert report.ok, str(report)
    assert len(Recorder.seen) == 2  # two draws
    (x1, y1, dout1), (x2, y2, dout2) = Recorder.seen
    np.testing.assert_array_equal(x1, x)  # the first draw: the inputs as given
    np.testing.assert_array_equal(y1, x)
    arrays = {"dout1": dout1, "x2": x2, "y2": y2, "dout2": dout2, "x": x}
    names = list(arrays)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.all(arrays[a] != arrays[b]), f"{a} and {b} share values"
            assert abs(np.corrcoef(arrays[a].ravel(), arrays[b].ravel())[0, 1]) < 0.7, (a, b)
    # the fresh inputs stay inside the range the given ones span
    assert x.min() <= x2.min() and x2.max() <= x.max()


def test_the_same_seed_gives_the_same_report_and_another_seed_other_draws():
    def run(seed):
        Recorder.seen = []
        check_layer(Recorder(), x45(), x45(), seed=seed)
        return Recorder.seen[0][2]
    assert np.array_equal(run(3), run(3)) and not np.array_equal(run(3), run(4))


class SymmetricOnlyAffine(GoodAffine):
    """dx = dout @ W: right only while W is symmetric."""

    def backward(self, dout):
        super().backward(dout)
        return dout @ self.W


class SquareAtOne:
    """d(x**2)/dx written as 2 * dout: right only where x == 1."""

    def forward(self, x):
        return x ** 2

    def backward(self, dout):
        return 2 * dout


def test_the_second_draw_perturbs_parameters():
    W = rng.standard_normal((5, 5))
    report = check_layer(SymmetricOnlyAffine(W + W.T, np.zeros(5)), x45())
    result = failing(report, "dx")
    assert result.draw == 2 and "WRONG (draw 2)" in str(report)
    assert [r.passed for r in report.results] == [False, True, True]


def test_the_second_draw_redraws_inputs():
    report = check_layer(SquareAtOne(), np.ones((3, 4)))
    assert failing(report, "dx").draw == 2
    assert check_layer(WrongValue(), np.ones((3, 4))).results[0].draw == 1  # fails on both


def test_a_scalar_output_gets_a_random_dout_not_1():
    class IgnoresDout:
        def forward(self, x, y):
            self.x, self.y = x, y
            return x * y

        def backward(self, dout):
            return self.y, self.x  # right only for dout == 1

    assert not check_layer(IgnoresDout(), 3.0, 2.0).ok
    assert check_layer(MulLayer(), 3.0, 2.0).ok


# ---- diagnosis: a constant factor, a sign flip, a transpose ----------------------------------

class SoftmaxNotDividedByBatch(SoftmaxWithLoss):
    def backward(self, dout=1):
        return super().backward(dout) * len(self.t)


class AffineDividedByBatch(GoodAffine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW / len(self.x)
        return dx


class NegatedDb(GoodAffine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.db = -self.db
        return dx


def hint(report, name):
    result = failing(report, name)
    assert result.diagnosis is not None, str(report)
    assert f"  hint: {result.diagnosis}" in str(report).splitlines()
    return result.diagnosis


def test_diagnoses_a_factor_of_the_batch_size():
    report = check_layer(SoftmaxNotDividedByBatch(), x45(), rng.integers(0, 5, 4))
    assert hint(report, "dx") == ("dx is off by a constant factor 4.0 (the batch size?): "
                                  "analytic == 4.0 * numerical")


def test_diagnoses_a_factor_of_one_over_the_batch_size():
    report = check_layer(AffineDividedByBatch(rng.standard_normal((5, 3)), np.zeros(3)),
                         x45())
    assert hint(report, "dW") == ("dW is off by a constant factor 0.25 (1/batch size?): "
                                  "analytic == 0.25 * numerical")


def test_diagnoses_any_other_constant_factor():
    assert hint(check_layer(ScaledTanhWithParam(), x45()[:, :3]), "dalpha") == (
        "dalpha is off by a constant factor 1.5: analytic == 1.5 * numerical")


def test_diagnoses_a_sign_flip():
    report = check_layer(NegatedDb(rng.standard_normal((5, 3)), rng.standard_normal(3)), x45())
    assert hint(report, "db") == "db has the wrong sign: analytic == -numerical"


def test_diagnoses_a_transpose():
    report = check_layer(square_affine(TransposedAffine), x45())
    assert hint(report, "dW") == "dW looks transposed: analytic == numerical.T"


@pytest.mark.parametrize("layer", [XSigmoid(), XRelu(), BatchBiasAffine(
    rng.standard_normal((5, 3)), rng.standard_normal(3))])
def test_no_diagnosis_is_claimed_when_none_fits(layer):
    report = check_layer(layer, x45())
    assert not report.ok
    assert all(r.diagnosis is None for r in report.results) and "hint" not in str(report)


# ---- no NumPy warnings; bad input --------------------------------------------------------------

class NaiveSigmoid(GoodSigmoid):
    pass  # 1 / (1 + exp(-x)): exp overflows for x <= -710


class Exp:
    def forward(self, x):
        self.out = np.exp(x)
        return self.out

    def backward(self, dout):
        return dout * self.out


def test_no_numpy_warning_reaches_the_user(recwarn):
    x = np.array([[-1000.0, -800.0, 0.5], [800.0, 1000.0, -0.5]])
    assert check_layer(NaiveSigmoid(), x).ok
    overflow = check_layer(Exp(), np.full((2, 3), 800.0))
    assert not overflow.ok and "forward gave nan or inf" in str(overflow)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_non_finite_inputs_get_a_clear_report():
    report = check_layer(GoodSigmoid(), np.array([[1.0, np.nan]]))
    assert not report.ok and "hold nan or inf" in str(report) and "verdict: FAIL" in str(report)


@pytest.mark.parametrize("kwargs, message", [
    ({"eps": 0.0}, "eps > 0"), ({"atol": -1.0}, "atol >= 0"),
    ({"seed": -1}, "non-negative"), ({"seed": 1.5}, "non-negative")])
def test_bad_settings_raise_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_layer(GoodSigmoid(), x45(), **kwargs)


def test_ragged_input_raises_a_clear_error():
    with pytest.raises(ValueError, match="check_layer: each input must be a number or an array"):
        check_layer(GoodSigmoid(), [[1.0, 2.0], [3.0]])
