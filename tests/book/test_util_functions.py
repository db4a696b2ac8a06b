"""The book's util, functions and gradient modules: its printed numbers, closed forms, and
the definitions written out element by element."""

import numpy as np
import pytest

from chainrule.book import functions as fn
from chainrule.book.gradient import numerical_gradient, numerical_gradient_2d
from chainrule.book.util import col2im, conv_output_size, im2col, shuffle_dataset, smooth_curve


# ---- im2col / col2im ----------------------------------------------------------------------

GEOMETRIES = [(2, 3, 7, 6, 3, 3, 1, 0), (2, 2, 7, 6, 3, 2, 2, 1), (1, 3, 8, 9, 4, 3, 3, 2),
              (3, 1, 5, 5, 1, 1, 2, 0), (1, 1, 4, 4, 4, 4, 1, 0)]


def im2col_by_definition(x, fh, fw, stride, pad):
    """Row (n, y, x), column (c, i, j) = the padded input at (n, c, y*stride + i, x*stride + j)."""
    n, c, h, w = x.shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    col = np.empty((n * oh * ow, c * fh * fw))
    for b in range(n):
        for y in range(oh):
            for x_ in range(ow):
                for ch in range(c):
                    for i in range(fh):
                        for j in range(fw):
                            col[(b * oh + y) * ow + x_, (ch * fh + i) * fw + j] = \
                                xp[b, ch, y * stride + i, x_ * stride + j]
    return col


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_im2col_is_the_books_layout(geometry):
    n, c, h, w, fh, fw, stride, pad = geometry
    x = np.random.default_rng(sum(geometry)).standard_normal((n, c, h, w))
    col = im2col(x, fh, fw, stride=stride, pad=pad)
    np.testing.assert_array_equal(col, im2col_by_definition(x, fh, fw, stride, pad))
    col[0, 0] = 123.0  # a new, writable array: x is untouched
    assert 123.0 not in x


def test_im2col_the_books_shapes():
    # the book's chapter 7 examples: (1, 3, 7, 7) -> (9, 75) and (10, 3, 7, 7) -> (90, 75)
    assert im2col(np.zeros((1, 3, 7, 7)), 5, 5, stride=1, pad=0).shape == (9, 75)
    assert im2col(np.zeros((10, 3, 7, 7)), 5, 5, stride=1, pad=0).shape == (90, 75)
    assert im2col(np.zeros((1, 1, 2, 2), dtype=int), 1, 1).dtype == np.float64  # as the book


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_col2im_is_the_transpose_of_im2col(geometry):
    # <im2col(x), col> == <x, col2im(col)> for all x and col, and col2im adds overlaps up
    n, c, h, w, fh, fw, stride, pad = geometry
    rng = np.random.default_rng(100 + sum(geometry))
    x = rng.standard_normal((n, c, h, w))
    col = rng.standard_normal(im2col(x, fh, fw, stride, pad).shape)
    img = col2im(col, x.shape, fh, fw, stride=stride, pad=pad)
    assert img.shape == x.shape
    assert np.vdot(im2col(x, fh, fw, stride, pad), col) == pytest.approx(np.vdot(x, img),
                                                                         rel=1e-12)
    counts = col2im(np.ones_like(col), x.shape, fh, fw, stride, pad)
    np.testing.assert_array_equal(counts, col2im_by_definition(np.ones_like(col), x.shape,
                                                               fh, fw, stride, pad))


def col2im_by_definition(col, shape, fh, fw, stride, pad):
    n, c, h, w = shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    img = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for b in range(n):
        for y in range(oh):
            for x_ in range(ow):
                patch = col[(b * oh + y) * ow + x_].reshape(c, fh, fw)
                img[b, :, y * stride:y * stride + fh, x_ * stride:x_ * stride + fw] += patch
    return img[:, :, pad:pad + h, pad:pad + w]


def test_col2im_counts_how_often_each_pixel_is_read():
    counts = col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2)  # 2x2 windows, stride 1, on 3x3
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_im2col_and_col2im_name_what_does_not_fit():
    with pytest.raises(ValueError, match=r"im2col: the input shape \(3, 4, 4\) is not"):
        im2col(np.zeros((3, 4, 4)), 2, 2)
    with pytest.raises(ValueError, match=r"im2col: a 5x5 filter does not fit"):
        im2col(np.zeros((1, 1, 4, 4)), 5, 5)
    with pytest.raises(ValueError, match=r"col2im: col has shape \(4, 3\), but im2col .* has "
                                         r"shape \(4, 4\)"):
        col2im(np.ones((4, 3)), (1, 1, 3, 3), 2, 2)
    with pytest.raises(ValueError, match=r"stride must be an integer >= 1, got 0"):
        im2col(np.zeros((1, 1, 4, 4)), 2, 2, stride=0)


# ---- conv_output_size, smooth_curve, shuffle_dataset -----------------------------------------

def test_conv_output_size_is_the_books_true_division():
    assert conv_output_size(28, 5) == 24.0                 # the book's MNIST convnet
    assert conv_output_size(4, 3, stride=1, pad=1) == 4.0  # padding keeps the size
    assert conv_output_size(7, 3, stride=2, pad=1) == 4.0
    assert conv_output_size(8, 3, stride=2) == 3.5         # the last window does not fit


KAISER = np.kaiser(11, 2) / np.kaiser(11, 2).sum()


def smooth_by_definition(x):
    """Each point the Kaiser-weighted mean of its 11 neighbours; mirrored without the edge
    at the start (x[-k] -> x[k]) and with it at the end (x[n-1+k] -> x[n-k])."""
    n, out = len(x), np.empty(len(x))
    for i in range(n):
        total = 0.0
        for k in range(-5, 6):
            j = i + k
            j = -j if j < 0 else 2 * n - 1 - j if j >= n else j
            total += KAISER[k + 5] * x[j]
        out[i] = total
    return out


def test_smooth_curve_weights_are_the_books():
    assert KAISER.sum() == pytest.approx(1.0)
    assert KAISER[5] == KAISER.max() and KAISER[0] == pytest.approx(KAISER[10])
    assert KAISER[5] == pytest.approx(1 / (2 * sum(np.i0(2 * np.sqrt(1 - (np.arange(1, 6) / 5)
                                                                     ** 2)) / np.i0(2)) + 1))


@pytest.mark.parametrize("n", [6, 11, 12, 40])
def test_smooth_curve_by_definition(n):
    x = np.random.default_rng(n).standard_normal(n)
    y = smooth_curve(list(x))
    assert y.shape == (n,)
    np.testing.assert_allclose(y, smooth_by_definition(x), rtol=1e-13, atol=1e-15)


def test_smooth_curve_keeps_constants_and_straight_lines():
    np.testing.assert_allclose(smooth_curve(np.full(20, 3.5)), 3.5, rtol=1e-14)
    line = 2.0 * np.arange(30) + 1
    np.testing.assert_allclose(smooth_curve(line)[5:-5], line[5:-5], rtol=1e-13)
    assert smooth_curve(line)[0] > line[0]  # mirrored at the start: the neighbours are larger


def test_smooth_curve_refuses_too_short_a_series():
    with pytest.raises(ValueError, match=r"smooth_curve: x must be a 1-d series of at least 6 "
                                         r"points, got shape \(5,\)"):
        smooth_curve(np.ones(5))


def test_shuffle_dataset_reorders_both_by_one_permutation(global_rng):
    x = np.arange(40.0).reshape(10, 2, 2)  # any number of axes (the book: 2 or 4)
    t = np.arange(10) * 3
    np.random.seed(11)
    xs, ts = shuffle_dataset(x, t)
    np.random.seed(11)
    order = np.random.permutation(10)
    np.testing.assert_array_equal(xs, x[order])
    np.testing.assert_array_equal(ts, t[order])
    assert not np.array_equal(order, np.arange(10))
    np.testing.assert_array_equal(xs[:, 0, 0] / 4 * 3, ts)  # every pair stays together
    with pytest.raises(ValueError, match=r"shuffle_dataset: x of shape \(10, 2, 2\) and t of "
                                         r"shape \(9,\)"):
        shuffle_dataset(x, t[:9])


# ---- functions: the book's chapters 3-4 numbers ----------------------------------------------

T_BOOK = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
Y_RIGHT = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
Y_WRONG = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])


def test_the_books_loss_numbers():
    assert fn.mean_squared_error(Y_RIGHT, T_BOOK) == pytest.approx(0.0975, rel=1e-12)
    assert fn.mean_squared_error(Y_WRONG, T_BOOK) == pytest.approx(0.5975, rel=1e-12)
    assert fn.sum_squared_error(Y_RIGHT, T_BOOK) == fn.mean_squared_error(Y_RIGHT, T_BOOK)
    assert fn.cross_entropy_error(Y_RIGHT, T_BOOK) == pytest.approx(0.510825457099338, 1e-13)
    assert fn.cross_entropy_error(Y_WRONG, T_BOOK) == pytest.approx(2.302584092994546, 1e-13)
    assert fn.cross_entropy_error(Y_RIGHT, T_BOOK) == -np.log(0.6 + 1e-7)


def test_cross_entropy_error_takes_one_hot_indices_and_columns_alike():
    y = np.array([[0.2, 0.7, 0.1], [0.5, 0.25, 0.25]])
    expected = -(np.log(0.7 + 1e-7) + np.log(0.25 + 1e-7)) / 2
    for t in (np.array([1, 2]), np.array([[1], [2]]), np.array([[0, 1, 0], [0, 0, 1]])):
        assert fn.cross_entropy_error(y, t) == pytest.approx(expected, rel=1e-15)
    assert fn.cross_entropy_error(np.array([[0.0, 1.0]]), np.array([0])) == \
        pytest.approx(-np.log(1e-7))  # log(0) guarded by the book's 1e-7
    with pytest.raises(ValueError, match=r"cross_entropy_error: class indices must be integers "
                                         r"in \[0, 3\)"):
        fn.cross_entropy_error(y, np.array([1, 3]))


def test_softmax_and_softmax_loss():
    a = np.array([0.3, 2.9, 4.0])  # the book's chapter 3 example
    np.testing.assert_allclose(fn.softmax(a), [0.01821127, 0.24519181, 0.73659691], rtol=1e-6)
    x = np.array([[1010.0, 1000.0, 990.0], [0.0, 0.0, 0.0]])  # the book's overflow example
    y = fn.softmax(x)
    np.testing.assert_allclose(y[0], np.exp([0.0, -10.0, -20.0]) / np.exp([0.0, -10, -20]).sum(),
                               rtol=1e-14)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-15)
    t = np.array([0, 2])
    assert fn.softmax_loss(x, t) == pytest.approx(
        -(np.log(y[0, 0] + 1e-7) + np.log(1 / 3 + 1e-7)) / 2, rel=1e-14)


def test_activations_and_their_gradients():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_array_equal(fn.step_function(x), [0, 0, 0, 1, 1])
    assert fn.step_function(x).dtype.kind == "i"
    np.testing.assert_allclose(fn.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_array_equal(fn.relu(x), [0, 0, 0, 0.5, 3])
    np.testing.assert_array_equal(fn.relu_grad(x), [0, 0, 1, 1, 1])  # the book: 1 at 0
    assert fn.identity_function(x) is x
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(fn.sigmoid_grad(x), s * (1 - s), rtol=1e-14)
    xs = x.copy()
    numeric = numerical_gradient(lambda v: float(np.sum(fn.sigmoid(v))), xs)
    np.testing.assert_allclose(fn.sigmoid_grad(x), numeric, rtol=1e-7)
    extremes = fn.sigmoid(np.array([-1000.0, 1000.0]))  # no overflow warning (the book's has)
    np.testing.assert_array_equal(extremes, [0.0, 1.0])


# ---- gradient: the book's chapter 4 numbers --------------------------------------------------

def function_2(x):
    return x[0] ** 2 + x[1] ** 2


@pytest.mark.parametrize("point, expected", [([3.0, 4.0], [6.0, 8.0]), ([0.0, 2.0], [0.0, 4.0]),
                                             ([3.0, 0.0], [6.0, 0.0])])
def test_numerical_gradient_the_books_examples(point, expected):
    x = np.array(point)
    np.testing.assert_allclose(numerical_gradient(function_2, x), expected, atol=1e-7)
    np.testing.assert_array_equal(x, point)  # restored


def test_numerical_gradient_2d_differentiates_each_row_as_a_point():
    X = np.array([[3.0, 4.0], [-1.0, 0.5], [0.0, 0.0]])
    grads = numerical_gradient_2d(lambda p: float(np.sum(p ** 2)), X)
    np.testing.assert_allclose(grads, 2 * X, atol=1e-7)
    np.testing.assert_allclose(numerical_gradient_2d(lambda p: float(p[0] * p[1]),
                                                     np.array([2.0, 5.0])), [5.0, 2.0])
