"""chainrule.numerics: the shared forward kernels against closed forms and PyTorch, quiet and
finite on hard inputs; and numerical_gradient, the book's central-difference oracle."""
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import chainrule
from chainrule import numerics as nx
from chainrule.numerics import numerical_gradient
from conftest import requires_torch

rng = np.random.default_rng(0)
HARD = np.array([-1e4, -1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0, 1e4])


def strict():
    """Overflow, 0/0 and log(0) raise (underflow to 0 is the right answer, so it is allowed)."""
    return np.errstate(over="raise", divide="raise", invalid="raise")


@pytest.fixture(autouse=True)
def warnings_are_errors_and_fresh_draws(request):
    global rng  # each test draws the same numbers whatever ran before it
    rng = np.random.default_rng(zlib.crc32(request.node.name.encode()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def torch_t(x):
    import torch
    return torch.tensor(np.asarray(x))


def test_every_public_name_is_there_with_a_docstring():
    for name in nx.__all__:
        assert callable(getattr(nx, name)) and getattr(nx, name).__doc__, name


# ---- as_float, sum_to -----------------------------------------------------------------------

def test_as_float_keeps_float_dtypes_and_promotes_the_rest():
    x32 = np.ones(2, np.float32)
    assert nx.as_float(x32) is x32
    assert nx.as_float([1, 2]).dtype == np.float64
    assert nx.as_float(np.array([True])).dtype == np.float64


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=3),
       ones=st.lists(st.booleans(), min_size=3, max_size=3), lead=st.integers(0, 2))
def test_sum_to_inverts_broadcasting(shape, ones, lead):
    # closed form: <broadcast(a), g> == <a, sum_to(g)> for every a (sum_to is broadcast's adjoint)
    small = tuple(1 if one else n for n, one in zip(shape, ones))
    big = (2,) * lead + tuple(shape)
    g = rng.standard_normal(big)
    out = nx.sum_to(g, small)
    assert out.shape == small
    a = rng.standard_normal(small)
    assert np.vdot(np.broadcast_to(a, big), g) == pytest.approx(np.vdot(a, out), rel=1e-12,
                                                                abs=1e-12)


@requires_torch
def test_sum_to_matches_pytorch_sum_to_size():
    g = rng.standard_normal((4, 3, 5))
    for shape in [(3, 1), (1, 5), (4, 1, 1), (), (1, 1, 5)]:
        expected = torch_t(g).sum_to_size(shape).numpy() if shape else g.sum()
        np.testing.assert_allclose(nx.sum_to(g, shape), expected, rtol=1e-13)


def test_sum_to_returns_x_itself_when_nothing_was_broadcast_and_rejects_other_shapes():
    g = np.ones((2, 3))
    assert nx.sum_to(g, (2, 3)) is g
    assert nx.sum_to(g, (1, 3)).dtype == g.dtype
    with pytest.raises(ValueError, match=r"sum_to.*\(2, 3\).*\(4,\)"):
        nx.sum_to(g, (4,))
    with pytest.raises(ValueError, match="sum_to"):
        nx.sum_to(np.ones(3), (2, 3))


# ---- sigmoid, softmax, log_softmax -----------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_closed_form_and_extremes(dtype):
    x = np.linspace(-30, 30, 61).astype(dtype)
    with strict():
        np.testing.assert_allclose(nx.sigmoid(x), 1 / (1 + np.exp(-x.astype(np.float64))),
                                   rtol=1e-6 if dtype == np.float32 else 1e-14)
        hard = nx.sigmoid(HARD.astype(dtype))
    assert hard.dtype == dtype and np.all(np.isfinite(hard))
    assert hard[0] == 0.0 and hard[-1] == 1.0 and hard[4] == 0.5


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_matches_pytorch_on_hard_inputs(dtype):
    import torch
    x = np.concatenate([HARD, 10 * rng.standard_normal(50)]).astype(dtype)
    with strict():
        ours = nx.sigmoid(x)
    np.testing.assert_allclose(ours, torch.sigmoid(torch_t(x)).numpy(),  # a few ulps
                               rtol=1e-6 if dtype == np.float32 else 1e-15, atol=0)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_and_log_softmax_closed_forms(axis):
    x = rng.standard_normal((3, 4))
    e = np.exp(x)
    expected = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(nx.softmax(x, axis), expected, rtol=1e-14)
    np.testing.assert_allclose(nx.log_softmax(x, axis), np.log(expected), rtol=1e-13)
    log_p, p = nx.log_softmax_and_softmax(x, axis)
    np.testing.assert_array_equal(p, nx.softmax(x, axis))  # one helper: identical results
    np.testing.assert_array_equal(log_p, nx.log_softmax(x, axis))


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_softmaxes_match_pytorch_and_stay_finite(dtype, scale):
    import torch
    x = (scale * rng.standard_normal((5, 6))).astype(dtype)
    x[0] = scale * np.array([1, -1, 0, 1, -1, 0])  # ties and extremes
    with strict():
        log_p, p = nx.log_softmax_and_softmax(x)
        alone = nx.softmax(x), nx.log_softmax(x)
    assert p.dtype == log_p.dtype == dtype
    assert np.all(np.isfinite(log_p)) and np.all(np.isfinite(p))
    rtol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(p, torch.softmax(torch_t(x), -1).numpy(), rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(log_p, torch.log_softmax(torch_t(x), -1).numpy(), rtol=rtol,
                               atol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_array_equal(alone[0], p)
    np.testing.assert_array_equal(alone[1], log_p)
    np.testing.assert_allclose(p.sum(-1), 1, rtol=1e-6)


def test_softmax_of_empty_input_is_empty():
    x = np.zeros((0, 3))
    assert nx.softmax(x).shape == nx.log_softmax(x).shape == (0, 3)
    assert [a.shape for a in nx.log_softmax_and_softmax(np.zeros((2, 0)))] == [(2, 0), (2, 0)]


# ---- one_hot and class-target checks ---------------------------------------------------------

@requires_torch
def test_one_hot_matches_pytorch():
    import torch
    t = np.array([[0, 2], [1, 1]])
    ours = nx.one_hot(t, 3)
    assert ours.dtype == np.float64 and ours.shape == (2, 2, 3)
    np.testing.assert_array_equal(ours, torch.nn.functional.one_hot(torch_t(t), 3).numpy())
    assert nx.one_hot(np.array([1]), 2, np.float32).dtype == np.float32


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 3]), r"one_hot.*\[0, 3\).*\[0, 3\]"),
    (np.array([-1, 0]), r"one_hot.*\[-1, 0\]"),
    (np.array([0.0, 1.0]), r"one_hot.*integers.*float64"),
])
def test_one_hot_rejects_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        nx.one_hot(labels, 3)


def test_check_class_target_tells_indices_from_probabilities_by_shape():
    logits = np.zeros((2, 3), np.float32)
    idx = np.array([0, 2])
    assert nx.check_class_target("f", logits, idx) is idx
    probs = nx.check_class_target("f", logits, np.eye(3, dtype=np.int64)[idx])  # int one-hot
    assert probs.dtype == np.float32 and probs.shape == (2, 3)
    assert nx.check_class_target("f", np.zeros(3), np.array(1)).shape == ()  # one sample
    rows = nx.check_class_target("f", logits, idx, one_hot=True)  # indices as one-hot rows
    assert rows.dtype == np.float32
    np.testing.assert_array_equal(rows, nx.one_hot(idx, 3))


@pytest.mark.parametrize("logits, target, error, message", [
    (np.zeros((2, 3)), np.array([0, 1, 2]), ValueError, r"f: .*\(3,\).*\(2, 3\).*\(2,\)"),
    (np.zeros((2, 3)), np.array([0, 3]), ValueError, r"f: .*\[0, 3\)"),
    (np.zeros((2, 3)), np.array([0.0, 1.0]), ValueError, r"f: .*integers.*float64"),
    (np.zeros((2, 3)), np.full((2, 3), "a"), TypeError, r"f: .*numeric"),
    (np.array(1.0), np.array(0), ValueError, r"f: .*class axis"),
])
def test_check_class_target_errors_name_the_caller_and_shapes(logits, target, error, message):
    with pytest.raises(error, match=message):
        nx.check_class_target("f", logits, target)


# ---- losses -----------------------------------------------------------------------------------

@requires_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("one_hot", [False, True])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_softmax_cross_entropy_matches_pytorch(reduction, one_hot, scale):
    import torch
    x = scale * rng.standard_normal((5, 4))
    x[0] = [scale, -scale, 0.0, scale]
    t = rng.integers(0, 4, 5)
    target = np.eye(4)[t] if one_hot else t
    with strict():
        ours = nx.softmax_cross_entropy(x, target, reduction)
    expected = torch.nn.functional.cross_entropy(torch_t(x), torch_t(target),
                                                 reduction=reduction).numpy()
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


@requires_torch
def test_softmax_cross_entropy_classes_last_any_batch_shape_and_float32():
    import torch
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    t = rng.integers(0, 5, (2, 3))
    ours = nx.softmax_cross_entropy(x, t)
    assert ours.dtype == np.float32
    expected = torch.nn.functional.cross_entropy(torch_t(x).movedim(-1, 1), torch_t(t))
    assert float(ours) == pytest.approx(expected.item(), rel=1e-6)
    # one sample with a 1-d x: batch of one, as in the book
    assert nx.softmax_cross_entropy(np.log([0.3, 0.2, 0.5]), 1) == pytest.approx(-np.log(0.2))


def test_nll_loss_closed_forms_and_reductions():
    log_p = np.log(np.array([[0.3, 0.2, 0.5], [0.1, 0.6, 0.3]]))
    t = np.array([1, 2])
    per = nx.nll_loss(log_p, t, "none")
    np.testing.assert_allclose(per, [-np.log(0.2), -np.log(0.3)], rtol=1e-14)
    np.testing.assert_allclose(nx.nll_loss(log_p, np.eye(3)[t], "none"), per, rtol=1e-14)
    assert nx.nll_loss(log_p, t) == pytest.approx(per.mean(), rel=1e-14)
    assert nx.nll_loss(log_p, t, "sum") == pytest.approx(per.sum(), rel=1e-14)
    for reduction in ("mean", "sum", "none"):  # the one-hot path equals the index path
        np.testing.assert_allclose(nx.nll_loss(log_p, np.eye(3)[t], reduction),
                                   nx.nll_loss(log_p, t, reduction), rtol=1e-15)
    soft = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])  # probabilities, not one-hot
    assert nx.nll_loss(log_p, soft, "sum") == pytest.approx(-np.sum(soft * log_p), rel=1e-14)
    for target in (t, np.eye(3)[t]):
        with pytest.raises(ValueError, match="nll_loss: reduction.*'avg'"):
            nx.nll_loss(log_p, target, "avg")
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: reduction"):
        nx.binary_cross_entropy_with_logits(log_p, np.ones((2, 3)), "avg")


def test_mean_of_no_samples_is_nan_quietly():
    with strict():
        assert np.isnan(nx.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, np.int64)))
        assert np.isnan(nx.softmax_cross_entropy(np.zeros((0, 3)), np.zeros((0, 3))))
        assert np.isnan(nx.binary_cross_entropy_with_logits(np.zeros(0), np.zeros(0)))
        assert nx.softmax_cross_entropy(np.zeros((0, 3)), np.zeros(0, np.int64), "sum") == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_closed_form(dtype):
    x = np.linspace(-8, 8, 17).astype(dtype)
    t = (np.arange(17) % 2).astype(dtype)
    p = 1 / (1 + np.exp(-x.astype(np.float64)))
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    ours = nx.binary_cross_entropy_with_logits(x, t, "none")
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours, expected, rtol=1e-6 if dtype == np.float32 else 1e-13)


@requires_torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_pytorch_on_hard_inputs(reduction):
    import torch
    x = np.concatenate([HARD, HARD, 5 * rng.standard_normal(8)])
    t = np.concatenate([np.zeros(9), np.ones(9), rng.random(8)])  # confident and wrong too
    with strict():
        ours = nx.binary_cross_entropy_with_logits(x, t, reduction)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch_t(x), torch_t(t), reduction=reduction).numpy()
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, expected, rtol=1e-13, atol=1e-15)


def test_bce_with_logits_keeps_the_logits_dtype_and_checks_shapes():
    x = np.zeros((2, 3), np.float32)
    assert nx.binary_cross_entropy_with_logits(x, np.ones((2, 3), np.int64)).dtype == np.float32
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits.*\(3,\).*\(2, 3\)"):
        nx.binary_cross_entropy_with_logits(x, np.ones(3))


# ---- im2col / col2im --------------------------------------------------------------------------

def book_im2col(x, kh, kw, stride, pad):
    """The book's im2col, written as plain loops over output positions (the closed form)."""
    n, c, h, w = x.shape
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    rows = [xp[i, :, y * stride:y * stride + kh, z * stride:z * stride + kw].reshape(-1)
            for i in range(n) for y in range(oh) for z in range(ow)]
    return np.array(rows).reshape(n * oh * ow, c * kh * kw)


CONV_CASES = [((2, 3, 5, 5), 3, 3, 1, 0), ((1, 2, 6, 7), 2, 3, 2, 1), ((2, 1, 4, 4), 4, 4, 1, 2),
              ((1, 2, 7, 5), 3, 2, 3, 1)]


@pytest.mark.parametrize("shape, kh, kw, stride, pad", CONV_CASES)
def test_im2col_is_the_books_and_col2im_its_transpose(shape, kh, kw, stride, pad):
    x = rng.standard_normal(shape)
    cols = nx.im2col(x, kh, kw, stride, pad)
    np.testing.assert_array_equal(cols, book_im2col(x, kh, kw, stride, pad))
    c = rng.standard_normal(cols.shape)  # <im2col(x), c> == <x, col2im(c)>
    assert np.vdot(cols, c) == pytest.approx(np.vdot(x, nx.col2im(c, shape, kh, kw, stride, pad)),
                                             rel=1e-12)
    assert nx.conv_out_size(shape[2], kh, stride, pad) * nx.conv_out_size(
        shape[3], kw, stride, pad) * shape[0] == cols.shape[0]


@requires_torch
@pytest.mark.parametrize("shape, kh, kw, stride, pad", CONV_CASES)
def test_im2col_and_col2im_match_pytorch_unfold_and_fold(shape, kh, kw, stride, pad):
    import torch
    n, c, h, w = shape
    x = rng.standard_normal(shape)
    cols = nx.im2col(x, kh, kw, stride, pad)
    unfolded = torch.nn.functional.unfold(torch_t(x), (kh, kw), padding=pad, stride=stride)
    np.testing.assert_array_equal(cols, unfolded.transpose(1, 2).reshape(cols.shape).numpy())
    g = rng.standard_normal(cols.shape)
    folded = torch.nn.functional.fold(torch_t(g).reshape(n, -1, c * kh * kw).transpose(1, 2),
                                      (h, w), (kh, kw), padding=pad, stride=stride)
    np.testing.assert_allclose(nx.col2im(g, shape, kh, kw, stride, pad), folded.numpy(),
                               rtol=1e-13, atol=1e-13)


def test_im2col_pad_value_and_dtype():
    x = np.ones((1, 1, 2, 2), np.float32)
    cols = nx.im2col(x, 2, 2, 1, 1, pad_value=-np.inf)
    assert cols.dtype == np.float32 and cols.shape == (9, 4)
    assert np.isneginf(cols[0]).sum() == 3 and cols.max(axis=1).tolist() == [1.0] * 9
    assert nx.col2im(cols, x.shape, 2, 2, 1, 1).dtype == np.float32


@pytest.mark.parametrize("shape, kh, kw, stride, pad", CONV_CASES)
def test_im2col_col2im_equal_the_nn_face(shape, kh, kw, stride, pad):
    from chainrule.nn.conv import col2im, im2col
    x = rng.standard_normal(shape)
    cols = nx.im2col(x, kh, kw, stride, pad)
    np.testing.assert_array_equal(cols, im2col(x, kh, kw, stride, pad))
    np.testing.assert_array_equal(nx.col2im(cols, shape, kh, kw, stride, pad),
                                  col2im(cols, shape, kh, kw, stride, pad))


# ---- numerical_gradient: the book's central difference ---------------------------------------

def test_public_name():
    assert chainrule.numerical_gradient is numerical_gradient


def test_book_example_function_2():
    # the book: f(x0, x1) = x0**2 + x1**2 has gradient (6, 8) at (3, 4)
    grad = numerical_gradient(lambda x: np.sum(x ** 2), np.array([3.0, 4.0]))
    np.testing.assert_allclose(grad, [6.0, 8.0], rtol=1e-8)


def test_matrix_input_and_closed_form():
    rng = np.random.default_rng(1)
    A, x = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    grad = numerical_gradient(lambda x: np.sum(np.sin(A @ x)), x)
    np.testing.assert_allclose(grad, A.T @ np.cos(A @ x), rtol=1e-7, atol=1e-9)


def test_float32_input_uses_the_step_actually_taken():
    # x + 1e-4 is rounded in float32; dividing by 2e-4 anyway would give ~1e-3 errors
    x = np.array([1000.0, 3.0, -0.5], dtype=np.float32)
    grad = numerical_gradient(lambda v: float(np.sum(v.astype(np.float64) ** 2)), x)
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, 2 * x.astype(np.float64), rtol=1e-6)


def test_x_is_restored_exactly():
    x = np.array([[0.1, 0.2], [0.3, 0.7]])
    before = x.copy()
    numerical_gradient(lambda v: np.sum(v ** 3), x)
    np.testing.assert_array_equal(x, before)


def test_x_is_restored_when_f_raises():
    x = np.array([0.1, 0.2, 0.3])
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:  # raises on the second element's perturbation
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)


def test_non_float_input_is_a_clear_error():
    with pytest.raises(TypeError, match="numerical_gradient"):
        numerical_gradient(lambda v: 0.0, np.array([1, 2]))


def test_numerical_gradient_of_the_shared_losses_matches_their_closed_forms():
    # d CE / d logits = (softmax - onehot) / N;  d BCE / d x = (sigmoid(x) - t) / N
    x, t = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    np.testing.assert_allclose(
        numerical_gradient(lambda v: nx.softmax_cross_entropy(v, t), x),
        (nx.softmax(x) - nx.one_hot(t, 3)) / 4, rtol=1e-7, atol=1e-10)
    y = (rng.random((4, 3)) > 0.5) * 1.0
    np.testing.assert_allclose(
        numerical_gradient(lambda v: nx.binary_cross_entropy_with_logits(v, y), x),
        (nx.sigmoid(x) - y) / 12, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_masked_is_np_where_with_zero_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 9)).astype(dtype)
    x.flat[:6] = [np.nan, np.inf, -np.inf, -0.0, 0.0, -np.nan]
    keep = rng.random((7, 9)) < 0.5
    keep.flat[:6] = False
    bits = f"i{np.dtype(dtype).itemsize}"
    for k in (keep, ~keep):
        got = nx.masked(x, k)
        assert got.dtype == x.dtype
        assert got.view(bits).tolist() == np.where(k, x, 0).view(bits).tolist()
    transposed = nx.masked(x.T, keep.T)         # a non-contiguous view
    assert transposed.view(bits).tolist() == np.where(keep.T, x.T, 0).view(bits).tolist()
