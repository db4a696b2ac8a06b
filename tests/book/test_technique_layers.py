"""The book's Dropout (not inverted) and BatchNormalization: its formulas, numerical gradients
in training and test mode, the autograd face, PyTorch, and clear errors."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.book.layers import BatchNormalization, Dropout
from conftest import requires_torch

EPS = 1e-6  # the book's 10e-7


class SeededDropout(Dropout):
    """Draws the same mask at every training forward, so that a numerical gradient can
    differentiate one fixed function."""

    def __init__(self, ratio, seed):
        super().__init__(ratio)
        self.seed = seed

    def forward(self, x, train_flg=True):
        np.random.seed(self.seed)
        return super().forward(x, train_flg)


class EvalDropout(Dropout):
    def forward(self, x):
        return super().forward(x, train_flg=False)


class EvalBatchNormalization(BatchNormalization):
    def forward(self, x):
        return super().forward(x, train_flg=False)


# ---- Dropout ------------------------------------------------------------------------------

def test_dropout_training_keeps_where_the_books_draw_exceeds_the_ratio(global_rng):
    x = np.arange(1.0, 13.0).reshape(3, 4)
    np.random.seed(42)
    keep = np.random.rand(3, 4) > 0.3
    np.random.seed(42)
    layer = Dropout(0.3)
    out = layer.forward(x)
    np.testing.assert_array_equal(out, np.where(keep, x, 0.0))  # kept values NOT rescaled
    np.testing.assert_array_equal(layer.mask, keep)
    dout = np.full((3, 4), 2.0)
    np.testing.assert_array_equal(layer.backward(dout), np.where(keep, 2.0, 0.0))
    assert 0 < keep.sum() < 12


def test_dropout_test_mode_scales_by_the_keep_ratio_in_both_directions():
    layer = Dropout(0.25)
    x = np.array([[4.0, -8.0], [1.0, 0.5]])
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), 0.75 * x)
    np.testing.assert_array_equal(layer.backward(np.ones((2, 2))), np.full((2, 2), 0.75))


def test_dropout_backward_differentiates_the_mode_of_the_last_forward(global_rng):
    layer = Dropout(0.5)
    x = np.ones((50,))
    layer.forward(x, train_flg=True)
    layer.forward(x, train_flg=False)  # the book's backward would still use the old mask
    np.testing.assert_array_equal(layer.backward(np.ones(50)), np.full(50, 0.5))


def test_dropout_keeps_about_one_minus_ratio(global_rng):
    np.random.seed(0)
    kept = Dropout(0.3).forward(np.ones(100_000)).mean()
    assert kept == pytest.approx(0.7, abs=0.01)


@pytest.mark.parametrize("train", [True, False])
def test_dropout_passes_check_layer(train, global_rng):
    x = np.random.default_rng(3).standard_normal((4, 6))
    layer = SeededDropout(0.4, seed=9) if train else EvalDropout(0.4)
    report = cr.check_layer(layer, x)
    assert report.ok, str(report)
    assert [r.name for r in report.results] == ["dx"]


def test_check_layer_catches_an_inverted_dropout_backward(global_rng):
    class Inverted(SeededDropout):  # the scaled gradient of the OTHER convention
        def backward(self, dout):
            return super().backward(dout) / (1 - self.dropout_ratio)

    report = cr.check_layer(Inverted(0.4, seed=9), np.random.default_rng(3).standard_normal(8))
    assert not report.ok


class FixedDraws:
    """A generator for chainrule's dropout that hands out given uniform numbers."""

    def __init__(self, u):
        self.u = u

    def random(self, shape, dtype=None):
        assert tuple(shape) == self.u.shape
        return self.u


def test_dropout_is_autograd_dropout_times_the_keep_ratio(global_rng):
    # the same uniform draws give both layers the same mask; the autograd face's dropout is
    # inverted (kept / (1 - p)), the book's is not: they differ by the factor (1 - p) exactly
    p, rng = 0.35, np.random.default_rng(4)
    x, dout = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    np.random.seed(17)
    u = np.random.rand(5, 7)
    np.random.seed(17)
    book = Dropout(p)
    out = book.forward(x)
    dx = book.backward(dout)
    xt = cr.tensor(x, requires_grad=True)
    yt = F.dropout(xt, p, training=True, generator=FixedDraws(u))
    (yt * cr.tensor(dout)).sum().backward()
    np.testing.assert_allclose(out, (1 - p) * yt.numpy(), rtol=1e-15)
    np.testing.assert_allclose(dx, (1 - p) * xt.grad.numpy(), rtol=1e-15)
    assert np.count_nonzero(out) == np.count_nonzero(u > p) < out.size
    eval_module = cr.nn.Dropout(p).eval()
    np.testing.assert_allclose(book.forward(x, train_flg=False),
                               (1 - p) * eval_module(cr.tensor(x)).numpy(), rtol=1e-15)


# ---- BatchNormalization: the book's formulas -----------------------------------------------

def test_batchnorm_training_is_the_books_formula():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4)) * [1.0, 2.0, 3.0, 0.5] + [5.0, -1.0, 0.0, 2.0]
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    rm0, rv0 = rng.random(4), rng.random(4) + 0.5
    layer = BatchNormalization(gamma, beta, momentum=0.8, running_mean=rm0, running_var=rv0)
    out = layer.forward(x)
    mu, var = x.mean(axis=0), x.var(axis=0)  # the biased variance
    np.testing.assert_allclose(out, gamma * (x - mu) / np.sqrt(var + EPS) + beta, rtol=1e-13)
    np.testing.assert_allclose(layer.running_mean, 0.8 * rm0 + 0.2 * mu, rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, 0.8 * rv0 + 0.2 * var, rtol=1e-14)
    np.testing.assert_allclose(layer.forward(x, train_flg=False),
                               gamma * (x - layer.running_mean)
                               / np.sqrt(layer.running_var + EPS) + beta, rtol=1e-13)


def test_batchnorm_running_statistics_start_at_zero_as_the_book():
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    layer = BatchNormalization(np.ones(2), np.zeros(2))
    out = layer.forward(x)
    np.testing.assert_allclose(out, [[-1, -1], [1, 1]], rtol=1e-6)  # var 1 and 4, eps 1e-6
    np.testing.assert_allclose(layer.running_mean, [0.2, 0.4], rtol=1e-14)  # 0.1 * mean
    np.testing.assert_allclose(layer.running_var, [0.1, 0.4], rtol=1e-14)   # 0.1 * var


def test_batchnorm_4d_normalises_each_of_the_C_H_W_features():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2, 3, 3)) * 3 + 1
    out = BatchNormalization(np.ones(18), np.zeros(18)).forward(x)
    assert out.shape == x.shape
    flat = out.reshape(5, 18)
    np.testing.assert_allclose(flat.mean(axis=0), 0, atol=1e-13)
    var = x.reshape(5, 18).var(axis=0)
    np.testing.assert_allclose(flat.var(axis=0), var / (var + EPS), rtol=1e-12)


def test_batchnorm_one_sample_gives_beta_and_zero_dx():
    # the book's chapter 6 gradient check runs on a batch of one
    layer = BatchNormalization(np.array([2.0, 3.0]), np.array([0.5, -0.5]))
    np.testing.assert_array_equal(layer.forward(np.array([[7.0, -4.0]])), [[0.5, -0.5]])
    np.testing.assert_array_equal(layer.backward(np.array([[1.0, 1.0]])), [[0.0, 0.0]])
    np.testing.assert_array_equal(layer.dbeta, [1.0, 1.0])


# ---- BatchNormalization: numerical gradients ------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 4), (3, 2, 3, 2), (2, 3)])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_passes_check_layer(shape, train):
    rng = np.random.default_rng(len(shape) * 10 + train)
    d = int(np.prod(shape[1:]))
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    stats = dict(running_mean=rng.standard_normal(d), running_var=rng.random(d) + 0.5)
    cls = BatchNormalization if train else EvalBatchNormalization
    layer = cls(gamma, beta, momentum=0.9, **stats)
    report = cr.check_layer(layer, rng.standard_normal(shape) * 2 + 1)
    assert report.ok, str(report)
    assert {r.name for r in report.results} == {"dx", "dgamma", "dbeta"}


def test_check_layer_catches_batchnorm_without_the_batch_statistics_in_dx():
    class Frozen(BatchNormalization):  # dx as if mu and var were constants
        def backward(self, dout):
            super().backward(dout)
            return (self.gamma * dout.reshape(self.xn.shape) / self.std).reshape(dout.shape)

    rng = np.random.default_rng(2)
    report = cr.check_layer(Frozen(rng.standard_normal(3), rng.standard_normal(3)),
                            rng.standard_normal((4, 3)))
    assert not report.ok
    assert [r.name for r in report.results if not r.passed] == ["dx"]


# ---- BatchNormalization: the autograd face and PyTorch --------------------------------------

@pytest.mark.parametrize("shape", [(6, 5), (4, 2, 2, 3)])
def test_batchnorm_equals_autograd_batch_norm(shape):
    # the book's 4-d layer is batch_norm over the flattened (N, C*H*W) features
    rng = np.random.default_rng(5)
    n, d = shape[0], int(np.prod(shape[1:]))
    x, dout = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    rm, rv = rng.standard_normal(d), rng.random(d) + 0.5
    book = BatchNormalization(gamma, beta, momentum=0.9, running_mean=rm.copy(),
                              running_var=rv.copy())
    for train in (True, False):
        out = book.forward(x, train_flg=train)
        dx = book.backward(dout)
        xt, gt, bt = (cr.tensor(a, requires_grad=True) for a in (x.reshape(n, d), gamma, beta))
        yt = F.batch_norm(xt, rm, rv, gt, bt, training=train, momentum=0.1, eps=EPS)
        (yt * cr.tensor(dout.reshape(n, d))).sum().backward()
        np.testing.assert_allclose(out.reshape(n, d), yt.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx.reshape(n, d), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(book.dgamma, gt.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(book.dbeta, bt.grad.numpy(), rtol=1e-12, atol=1e-12)
        if train:  # same mean; PyTorch's running variance uses the unbiased batch variance
            var = x.reshape(n, d).var(axis=0)
            np.testing.assert_allclose(book.running_mean, rm, rtol=1e-12)
            np.testing.assert_allclose(rv - book.running_var, 0.1 * var / (n - 1), rtol=1e-9)
            rm[...], rv[...] = book.running_mean, book.running_var  # the same for test mode


@requires_torch
def test_batchnorm_equals_pytorch_in_training():
    import torch
    rng = np.random.default_rng(6)
    x, dout = rng.standard_normal((8, 3)) * 4 - 2, rng.standard_normal((8, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    book = BatchNormalization(gamma, beta)
    out = book.forward(x)
    dx = book.backward(dout)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    yt = torch.nn.functional.batch_norm(xt, torch.zeros(3, dtype=torch.float64),
                                        torch.zeros(3, dtype=torch.float64), gt, bt,
                                        training=True, momentum=0.1, eps=EPS)
    (yt * torch.tensor(dout)).sum().backward()
    np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    for mine, theirs in ((dx, xt), (book.dgamma, gt), (book.dbeta, bt)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


# ---- dtypes, dout and misuse ----------------------------------------------------------------

def test_float32_stays_float32_and_dout_is_left_alone(global_rng):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    layers = [Dropout(0.5), BatchNormalization(np.ones(3, np.float32), np.zeros(3, np.float32))]
    for layer in layers:
        for train in (True, False):
            out = layer.forward(x, train_flg=train)
            dout = rng.standard_normal(out.shape).astype(np.float32)
            saved = dout.copy()
            dx = layer.backward(dout)
            assert out.dtype == dx.dtype == np.float32, (type(layer).__name__, train)
            np.testing.assert_array_equal(dout, saved)
    assert layers[1].running_mean.dtype == np.float32


@pytest.mark.parametrize("make", [lambda: Dropout(0.5),
                                  lambda: BatchNormalization(np.ones(3), np.zeros(3))],
                         ids=["Dropout", "BatchNormalization"])
def test_backward_before_forward_and_wrong_dout_name_the_layer(make):
    layer = make()
    name = type(layer).__name__
    with pytest.raises(ValueError, match=f"{name}.backward called before forward"):
        layer.backward(np.ones((2, 3)))
    layer.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"{name}.backward: dout has shape \(3, 2\) but "
                                         r"forward's output has shape \(2, 3\)"):
        layer.backward(np.ones((3, 2)))


def test_batchnorm_names_the_shapes_that_do_not_fit():
    layer = BatchNormalization(np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"x of shape \(2, 3, 2, 2\) has 12 features per "
                                         r"sample .* gamma has shape \(3,\); pass gamma of "
                                         r"shape \(12,\)"):
        layer.forward(np.ones((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"x of shape \(2, 3, 4\) must be a non-empty batch"):
        layer.forward(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"running_var has shape \(2,\)"):
        BatchNormalization(np.ones(3), np.zeros(3), running_mean=np.zeros(3),
                           running_var=np.ones(2)).forward(np.ones((2, 3)))


@pytest.mark.parametrize("make, message", [
    (lambda: Dropout(1.5), r"Dropout: dropout_ratio must be a number in \[0, 1\], got 1.5"),
    (lambda: Dropout("0.5"), r"dropout_ratio must be a number"),
    (lambda: BatchNormalization(np.ones(2), np.zeros(2), momentum=-0.1), r"momentum must be"),
])
def test_bad_hyperparameters_are_refused_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()
