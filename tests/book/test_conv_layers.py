"""The book's Convolution and Pooling: its worked numbers, numerical gradients (stride and
padding), the autograd face's conv2d/max_pool2d, PyTorch, and clear errors."""
import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.book.layers import Convolution, Pooling
from conftest import requires_torch

GEOMETRIES = [  # (N, C, H, W, FH, FW, stride, pad)
    (2, 3, 7, 6, 3, 3, 1, 0),
    (2, 2, 7, 6, 3, 2, 2, 1),
    (1, 3, 8, 9, 4, 3, 3, 2),
    (3, 1, 5, 5, 1, 1, 2, 0),
]


def conv_case(n, c, h, w, fh, fw, seed=0, fn=4):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, c, h, w)), rng.standard_normal((fn, c, fh, fw)),
            rng.standard_normal(fn), rng)


# ---- the book's worked numbers (its chapter 7 figures) -------------------------------------

BOOK_IMAGE = np.array([[1, 2, 3, 0], [0, 1, 2, 3], [3, 0, 1, 2], [2, 3, 0, 1]], float)
BOOK_FILTER = np.array([[2, 0, 1], [0, 1, 2], [1, 0, 2]], float)


def test_the_books_convolution_example():
    conv = Convolution(BOOK_FILTER[None, None], np.array([3.0]))
    out = conv.forward(BOOK_IMAGE[None, None])
    np.testing.assert_array_equal(out, [[[[18, 19], [9, 18]]]])  # 15 16 6 15, plus bias 3


def test_the_books_padded_convolution_example():
    # pad 1 keeps the 4x4 size; the corner sees only 2x2 of the image and of the filter
    out = Convolution(BOOK_FILTER[None, None], np.zeros(1), pad=1).forward(BOOK_IMAGE[None, None])
    assert out.shape == (1, 1, 4, 4)
    assert out[0, 0, 0, 0] == 1 * 1 + 2 * 2 + 0 * 0 + 1 * 2   # x[0:2,0:2] * W[1:3,1:3]
    np.testing.assert_array_equal(out[0, 0, 1:3, 1:3], [[15, 16], [6, 15]])


def test_the_books_max_pooling_example():
    x = np.array([[1, 2, 1, 0], [0, 1, 2, 3], [3, 0, 1, 2], [2, 4, 0, 1]], float)
    pool = Pooling(2, 2, stride=2)
    np.testing.assert_array_equal(pool.forward(x[None, None]), [[[[2, 3], [4, 2]]]])
    dx = pool.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 3], expected[3, 1], expected[2, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_pooling_defaults_to_stride_1_as_the_printed_book():
    assert Pooling(2, 2).stride == 1
    assert Pooling(2, 2).forward(np.zeros((1, 1, 4, 4))).shape == (1, 1, 3, 3)


def test_convolution_is_the_correlation_sum_at_every_position():
    x, W, b, _ = conv_case(2, 3, 7, 6, 3, 2, seed=3)
    stride, pad = 2, 1
    out = Convolution(W, b, stride, pad).forward(x)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    assert out.shape == (2, 4, 4, 4)  # (7 + 2 - 3) // 2 + 1 = 4, (6 + 2 - 2) // 2 + 1 = 4
    for n, f, i, j in [(0, 0, 0, 0), (1, 3, 3, 2), (0, 2, 1, 3), (1, 1, 2, 0)]:
        patch = xp[n, :, i * stride:i * stride + 3, j * stride:j * stride + 2]
        assert out[n, f, i, j] == pytest.approx(np.sum(patch * W[f]) + b[f], rel=1e-12)


def test_overlapping_pooling_windows_sum_their_gradients():
    x = np.array([[[[0.0, 5.0, 1.0]]]])  # both 1x2 windows (stride 1) pick the 5
    pool = Pooling(1, 2, stride=1)
    np.testing.assert_array_equal(pool.forward(x), [[[[5.0, 5.0]]]])
    np.testing.assert_array_equal(pool.backward(np.array([[[[2.0, 3.0]]]])), [[[[0, 5, 0]]]])


def test_pooling_padding_is_never_the_max():
    x = -1.0 - np.arange(16.0).reshape(1, 1, 4, 4)  # all negative: a zero pad would win
    out = Pooling(2, 2, stride=2, pad=1).forward(x)
    np.testing.assert_array_equal(out[0, 0], [[-1, -2, -4], [-5, -6, -8], [-13, -14, -16]])


# ---- numerical gradients (float64) ---------------------------------------------------------

@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_convolution_passes_check_layer(geometry):
    n, c, h, w, fh, fw, stride, pad = geometry
    x, W, b, _ = conv_case(n, c, h, w, fh, fw, seed=sum(geometry))
    report = cr.check_layer(Convolution(W, b, stride=stride, pad=pad), x)
    assert report.ok, str(report)
    assert {r.name for r in report.results} == {"dx", "dW", "db"}


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_pooling_passes_check_layer(geometry):
    n, c, h, w, ph, pw, stride, pad = geometry
    pad = min(pad, ph // 2, pw // 2)
    x = np.random.default_rng(sum(geometry)).standard_normal((n, c, h, w))
    report = cr.check_layer(Pooling(ph, pw, stride=stride, pad=pad), x)
    assert report.ok, str(report)
    assert [r.name for r in report.results] == ["dx"]


def test_check_layer_catches_a_convolution_with_a_wrong_dW():
    class TransposedFilters(Convolution):  # dW's channel and filter axes mixed up
        def backward(self, dout):
            dx = super().backward(dout)
            self.dW = self.dW.transpose(1, 0, 2, 3).reshape(self.W.shape)
            return dx

    x, W, b, _ = conv_case(2, 3, 5, 5, 3, 3, seed=5, fn=3)
    report = cr.check_layer(TransposedFilters(W, b, stride=1, pad=1), x)
    assert not report.ok
    assert [r.name for r in report.results if not r.passed] == ["dW"]


# ---- the autograd face and PyTorch ----------------------------------------------------------

@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_convolution_equals_autograd_conv2d(geometry):
    n, c, h, w, fh, fw, stride, pad = geometry
    x, W, b, rng = conv_case(n, c, h, w, fh, fw, seed=7 + sum(geometry))
    layer = Convolution(W, b, stride=stride, pad=pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    xt, Wt, bt = (cr.tensor(a, requires_grad=True) for a in (x, W, b))
    yt = F.conv2d(xt, Wt, bt, stride=stride, padding=pad)
    (yt * cr.tensor(dout)).sum().backward()
    np.testing.assert_allclose(out, yt.numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in ((dx, xt), (layer.dW, Wt), (layer.db, bt)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k, stride, pad", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 0)])
def test_pooling_equals_autograd_max_pool2d(k, stride, pad):
    rng = np.random.default_rng(k * 10 + stride + pad)
    x = rng.standard_normal((2, 3, 7, 6))
    layer = Pooling(k, k, stride=stride, pad=pad)
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    xt = cr.tensor(x, requires_grad=True)
    yt = F.max_pool2d(xt, k, stride=stride, padding=pad)
    (yt * cr.tensor(dout)).sum().backward()
    np.testing.assert_array_equal(out, yt.numpy())
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-14, atol=1e-15)


@requires_torch
def test_convolution_and_pooling_equal_pytorch():
    import torch
    x, W, b, rng = conv_case(2, 3, 9, 8, 3, 3, seed=11)
    conv, pool = Convolution(W, b, stride=2, pad=1), Pooling(2, 2, stride=2, pad=1)
    out = pool.forward(conv.forward(x))
    dout = rng.standard_normal(out.shape)
    dx = conv.backward(pool.backward(dout))
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    yt = torch.nn.functional.max_pool2d(torch.nn.functional.conv2d(xt, Wt, bt, 2, 1), 2, 2, 1)
    (yt * torch.tensor(dout)).sum().backward()
    np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in ((dx, xt), (conv.dW, Wt), (conv.db, bt)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-11, atol=1e-12)


# ---- dtypes, dout and misuse ----------------------------------------------------------------

def test_float32_stays_float32_and_dout_is_left_alone():
    x, W, b, rng = conv_case(2, 2, 6, 6, 3, 3, seed=2)
    x, W, b = x.astype(np.float32), W.astype(np.float32), b.astype(np.float32)
    for layer in (Convolution(W, b, stride=1, pad=1), Pooling(2, 2, stride=2)):
        out = layer.forward(x)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        saved = dout.copy()
        dx = layer.backward(dout)
        assert out.dtype == dx.dtype == np.float32
        np.testing.assert_array_equal(dout, saved)
    assert W.dtype == np.float32 and Convolution(W, b).forward(x).dtype == np.float32


@pytest.mark.parametrize("make", [lambda: Convolution(np.ones((2, 3, 3, 3)), np.zeros(2)),
                                  lambda: Pooling(2, 2)], ids=["Convolution", "Pooling"])
def test_backward_before_forward_and_wrong_dout_name_the_layer(make):
    layer = make()
    name = type(layer).__name__
    with pytest.raises(ValueError, match=f"{name}.backward called before forward"):
        layer.backward(np.ones((1, 2, 2, 2)))
    out = layer.forward(np.ones((1, 3, 4, 4)))
    shape = re.escape(str(out.shape))
    with pytest.raises(ValueError, match=rf"{name}.backward: dout has shape \(1, 1\) but "
                                         rf"forward's output has shape {shape}"):
        layer.backward(np.ones((1, 1)))


def test_convolution_rejects_input_that_does_not_fit():
    conv = Convolution(np.ones((2, 3, 3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"Convolution.forward: x of shape \(1, 2, 5, 5\) does "
                                         r"not fit W of shape \(2, 3, 3, 3\)"):
        conv.forward(np.ones((1, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"Convolution.forward: x of shape \(3, 5, 5\) is not"):
        conv.forward(np.ones((3, 5, 5)))
    with pytest.raises(ValueError, match=r"a 3x3 window does not fit x of shape \(1, 3, 2, 2\)"):
        conv.forward(np.ones((1, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"b has shape \(3,\) but W of shape"):
        Convolution(np.ones((2, 3, 3, 3)), np.zeros(3)).forward(np.ones((1, 3, 4, 4)))


@pytest.mark.parametrize("make, message", [
    (lambda: Convolution(np.ones((1, 1, 2, 2)), np.zeros(1), stride=0), "stride must be"),
    (lambda: Convolution(np.ones((1, 1, 2, 2)), np.zeros(1), pad=-1), "pad must be"),
    (lambda: Pooling(2, 2, stride=1.5), "stride must be an integer"),
    (lambda: Pooling(2, 2, pad=2), "pad 2 must be at most half the window 2x2"),
    (lambda: Pooling(0, 2), "pool_h must be"),
])
def test_bad_hyperparameters_are_refused_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_scalar_bias_broadcasts_over_the_filters_as_in_the_books_apply_filter():
    """The book's ch07/apply_filter.py builds Convolution(w, 0): b = 0 adds 0 to every filter."""
    x, W, _, _ = conv_case(2, 1, 6, 6, 3, 3, fn=1)
    zero = Convolution(W, 0).forward(x)
    np.testing.assert_array_equal(zero, Convolution(W, np.zeros(1)).forward(x))
    np.testing.assert_allclose(Convolution(W, 0.5).forward(x), zero + 0.5, rtol=0, atol=1e-15)


def test_backward_params_gives_backwards_dW_and_db_without_dx():
    """A network's first Convolution skips dx (no one takes the images' gradient): the
    parameter gradients are the same numbers backward gives."""
    x, W, b, rng = conv_case(3, 2, 7, 6, 3, 2)
    layer = Convolution(W, b, stride=2, pad=1)
    dout = rng.standard_normal(layer.forward(x).shape)
    layer.backward(dout)
    dW, db = layer.dW.copy(), layer.db.copy()
    layer.dW = layer.db = None
    assert layer.backward_params(dout) is None
    np.testing.assert_array_equal(layer.dW, dW)
    np.testing.assert_array_equal(layer.db, db)
