"""The fast convolution and pooling kernels in chainrule.numerics against their plain
definitions, written out here with Python loops, on random shapes with stride and padding."""
import warnings

import numpy as np
import pytest

from chainrule import numerics as nm

# (N, C, H, W, kh, kw, stride, pad)
SHAPES = [(2, 3, 7, 6, 3, 3, 1, 0), (2, 2, 7, 6, 3, 2, 2, 1), (1, 3, 8, 9, 4, 3, 3, 2),
          (3, 1, 5, 5, 1, 1, 2, 0), (2, 2, 6, 6, 2, 2, 2, 0), (1, 2, 7, 5, 2, 2, 2, 1),
          (2, 1, 9, 9, 3, 3, 3, 1), (1, 1, 28, 28, 5, 5, 1, 0),
          # tiled windows (k x k, stride k, no padding): max_pool's contiguous fast path,
          # with a last row and column left out where k does not divide the size
          (2, 3, 8, 8, 2, 2, 2, 0), (1, 2, 9, 7, 3, 3, 3, 0), (2, 1, 8, 9, 4, 4, 4, 0),
          (1, 1, 5, 5, 2, 2, 2, 0), (3, 2, 2, 2, 2, 2, 2, 0), (1, 1, 2, 2, 2, 2, 2, 0)]


def random_shapes(count, seed):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        k = int(rng.integers(1, 5))
        kw = int(rng.integers(1, 5))
        pad = int(rng.integers(0, min(k, kw) // 2 + 1))
        stride = int(rng.integers(1, 4))
        h, w = int(rng.integers(k, 12)), int(rng.integers(kw, 12))
        yield int(rng.integers(1, 4)), int(rng.integers(1, 4)), h, w, k, kw, stride, pad


CASES = SHAPES + list(random_shapes(12, seed=7))


@pytest.fixture(autouse=True)
def no_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def windows(x, kh, kw, stride, pad, value=0.0):
    """{(n, c, oy, ox): the kh x kw window}, by the definition, with Python loops."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=value)
    oh = (x.shape[2] + 2 * pad - kh) // stride + 1
    ow = (x.shape[3] + 2 * pad - kw) // stride + 1
    return {(n, c, i, j): xp[n, c, i * stride:i * stride + kh, j * stride:j * stride + kw]
            for n in range(x.shape[0]) for c in range(x.shape[1])
            for i in range(oh) for j in range(ow)}, (oh, ow)


@pytest.mark.parametrize("case", CASES)
def test_unfold_is_im2col_per_image_and_fold_its_transpose(case):
    n, c, h, w, kh, kw, stride, pad = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wins, (oh, ow) = windows(x, kh, kw, stride, pad)
    cols = nm.unfold(x, kh, kw, stride, pad)
    assert cols.shape == (n, c * kh * kw, oh * ow) and cols.dtype == np.float32
    for (i, ch, y, xx), win in wins.items():
        np.testing.assert_array_equal(cols[i, ch * kh * kw:(ch + 1) * kh * kw, y * ow + xx],
                                      win.ravel())
    # the book's im2col holds the same numbers, one row per output position
    np.testing.assert_array_equal(nm.im2col(x, kh, kw, stride, pad),
                                  cols.transpose(0, 2, 1).reshape(-1, c * kh * kw))
    g = rng.standard_normal(cols.shape)
    expected = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for i in range(n):
        for p in range(oh * ow):
            y, xx = divmod(p, ow)
            expected[i, :, y * stride:y * stride + kh, xx * stride:xx * stride + kw] += \
                g[i, :, p].reshape(c, kh, kw)
    expected = expected[:, :, pad:pad + h, pad:pad + w]
    np.testing.assert_allclose(nm.fold(g, x.shape, kh, kw, stride, pad), expected, rtol=1e-12)
    book_cols = g.transpose(0, 2, 1).reshape(-1, c * kh * kw)
    np.testing.assert_allclose(nm.col2im(book_cols, x.shape, kh, kw, stride, pad), expected,
                               rtol=1e-12)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool_is_the_first_argmax_of_each_window(case, ties):
    n, c, h, w, kh, kw, stride, pad = case
    if pad > min(kh, kw) // 2:
        pad = min(kh, kw) // 2
    rng = np.random.default_rng(sum(case) + ties)
    x = rng.standard_normal((n, c, h, w))
    if ties:  # after a ReLU most windows hold several equal zeros
        x = np.maximum(np.round(x), 0)
    wins, (oh, ow) = windows(x, kh, kw, stride, pad, value=-np.inf)
    before = x.copy()
    out, arg = nm.max_pool(x, kh, kw, stride, pad)
    np.testing.assert_array_equal(x, before)    # the input is never written
    assert out.shape == arg.shape == (n, c, oh, ow)
    dout = rng.standard_normal(out.shape)
    expected_dx = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for (i, ch, y, xx), win in wins.items():
        first = int(np.argmax(win))
        assert arg[i, ch, y, xx] == first and out[i, ch, y, xx] == win.max()
        dy, dxx = divmod(first, kw)
        expected_dx[i, ch, y * stride + dy, xx * stride + dxx] += dout[i, ch, y, xx]
    dx = nm.max_pool_backward(dout, arg, x.shape, kh, kw, stride, pad)
    np.testing.assert_allclose(dx, expected_dx[:, :, pad:pad + h, pad:pad + w], rtol=1e-12)


def test_max_pool_keeps_float32_and_finds_the_first_nan_as_np_argmax():
    x = np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4)
    x[0, 0, 1, 1] = np.nan  # the last position of the first 2x2 window
    out, arg = nm.max_pool(x, 2, 2, 2)
    assert out.dtype == np.float32 and np.isnan(out[0, 0, 0, 0]) and arg[0, 0, 0, 0] == 3
    assert out[0, 1, 1, 1] == 31 and arg[0, 1, 1, 1] == 3
    dx = nm.max_pool_backward(np.ones(out.shape, np.float32), arg, x.shape, 2, 2, 2)
    assert dx.dtype == np.float32 and dx.sum() == out.size and dx[0, 0, 1, 1] == 1


@pytest.mark.parametrize("case", [(7, 3, 12, 10, 3, 3, 1, 1), (6, 4, 12, 12, 2, 2, 2, 0),
                                  (5, 2, 9, 9, 3, 3, 3, 0), (4, 2, 8, 8, 2, 2, 2, 1)])
def test_the_kernels_split_over_idle_cores_give_the_bits_of_one_call(case, monkeypatch):
    """Forced to split (two idle cores, every size large), each kernel equals its whole run."""
    from chainrule import threads
    n, c, h, w, kh, kw, stride, pad = case
    rng = np.random.default_rng(sum(case))
    x = np.maximum(rng.standard_normal((n, c, h, w)).astype(np.float32), 0)   # ties at 0
    w_rows = rng.standard_normal((5, c * kh * kw)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)

    def run():
        out, cols = nm.conv2d(x, w_rows, b, kh, kw, stride, pad)
        g = rng.standard_normal(out.shape).astype(np.float32)
        pooled, arg = nm.max_pool(x, kh, kw, stride, pad)
        dout = rng.standard_normal(pooled.shape).astype(np.float32)
        return [out, cols, nm.conv2d_weight_grad(g, cols),
                nm.conv2d_input_grad(g, w_rows, x.shape, kh, kw, stride, pad), pooled, arg,
                nm.max_pool_backward(dout, arg, x.shape, kh, kw, stride, pad),
                nm.masked(x, x > 0.5)]

    monkeypatch.setitem(threads._parts, "cores", 1)
    rng = np.random.default_rng(0)
    whole = run()
    calls = []
    in_parts = threads.in_parts
    monkeypatch.setattr(threads, "in_parts", lambda work, n: calls.append(n) or in_parts(work, n))
    monkeypatch.setattr(threads, "SPLIT_PRODUCT", 1)
    monkeypatch.setattr(threads, "SPLIT_ELEMENTS", 1)
    monkeypatch.setitem(threads._parts, "cores", 2)
    monkeypatch.setitem(threads._parts, "at", float("-inf"))
    monkeypatch.setattr(threads, "_others_running", lambda: 0)
    rng = np.random.default_rng(0)
    split = run()
    tiled = pad == 0 and kh == kw == stride         # max_pool splits its tiled case only
    assert len(calls) == 5 + tiled   # conv2d, its two gradients, max_pool, backward, masked
    for a, b_ in zip(whole, split):
        assert a.dtype == b_.dtype and a.tobytes() == b_.tobytes()
