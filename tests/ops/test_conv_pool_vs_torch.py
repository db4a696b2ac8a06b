"""The conv2d and max_pool2d primitives against PyTorch: values, gradients, gradients of
gradients (create_graph), forward mode (torch.func.jvp) and forward-over-reverse, on random
shapes with stride and padding, in float32 and float64; max pooling's ties follow
PyTorch's rule (the whole gradient to the window's first maximum)."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F
from chainrule.ops.conv import CONV2D, CONV2D_INPUT_GRAD, CONV2D_WEIGHT_GRAD
from chainrule.ops.pool import MAX_POOL2D, MAX_POOL2D_GATHER, MAX_POOL2D_SCATTER

torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle here: "
                            "pip install torch==2.13.0")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=2e-4, atol=2e-4), np.float64: dict(rtol=1e-9, atol=1e-9)}
SEEDS = range(8)


def _conv_case(seed: int, dtype) -> tuple:
    """A random conv: shapes and kernel; strides 1-3 and paddings 0-2 taken in turn; bias
    on two seeds in three."""
    rng = np.random.default_rng(seed)
    n, c, o = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 5)
    kh, kw = rng.integers(1, 5), rng.integers(1, 5)
    stride, pad = 1 + seed % 3, seed // 2 % 3
    h, w = rng.integers(kh, kh + 6), rng.integers(kw, kw + 6)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((o, c, kh, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if seed % 3 else None
    return rng, x, wt, b, stride, pad


def _pool_case(seed: int, dtype) -> tuple:
    """A random max pool: shapes, kernel, stride (None: the kernel) and padding <= k // 2."""
    rng = np.random.default_rng(100 + seed)
    k = [2, 3, 3, 2, 1, 3, 2, 4][seed]
    stride = [None, 1, 2, 3][seed % 4]
    pad = int(rng.integers(0, k // 2 + 1))
    n, c = rng.integers(1, 4), rng.integers(1, 4)
    h, w = rng.integers(k, k + 7), rng.integers(k, k + 7)
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w).astype(dtype)  # no ties
    return rng, x / x.size, k, stride, pad


def _pair(a, grad=True):
    """The same values as a chainrule and a torch leaf."""
    if a is None:
        return None, None
    return cr.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _close(got, want, dtype, msg=""):
    got = got.numpy() if isinstance(got, cr.Tensor) else np.asarray(got)
    want = want.detach().numpy()
    assert got.shape == want.shape and got.dtype == want.dtype, msg
    np.testing.assert_allclose(got, want, err_msg=msg, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_values_and_gradients(seed, dtype):
    rng, x, w, b, stride, pad = _conv_case(seed, dtype)
    (cx, tx), (cw, tw), (cb, tb) = _pair(x), _pair(w), _pair(b)
    out = F.conv2d(cx, cw, cb, stride, pad)
    tout = TF.conv2d(tx, tw, tb, stride=stride, padding=pad)
    _close(out, tout, dtype, "values")
    assert out.grad_fn is not None and out._prim is CONV2D   # one node
    g = rng.standard_normal(out.shape).astype(dtype)
    (out * cr.tensor(g)).sum().backward()
    (tout * torch.from_numpy(g)).sum().backward()
    for name, c, t in (("x", cx, tx), ("w", cw, tw), ("b", cb, tb)):
        if c is not None:
            _close(c.grad, t.grad, dtype, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_second_and_third_order(seed, dtype):
    """grad of grad through the transposed convolution and the weight correlation (and
    their own VJPs, a third time), against torch.autograd.grad(create_graph=True)."""
    rng, x, w, b, stride, pad = _conv_case(seed, dtype)
    (cx, tx), (cw, tw), (cb, tb) = _pair(x), _pair(w), _pair(b)
    vx, vw = rng.standard_normal(x.shape).astype(dtype), rng.standard_normal(w.shape).astype(dtype)

    def second(lib, conv, X, W, B, grad, tensor):
        loss = (conv(X, W, B) ** 3).sum()          # a cubic: its third derivative is not 0
        gx, gw = grad(loss, [X, W])
        s = (gx * tensor(vx)).sum() + (gw * tensor(vw)).sum()
        hx, hw = grad(s, [X, W])
        return hx, hw, grad((hx * tensor(vx)).sum() + (hw ** 2).sum(), [X, W])

    def cgrad(y, xs):
        return cr.autograd.grad(y, xs, create_graph=True)

    def tgrad(y, xs):
        return torch.autograd.grad(y, xs, create_graph=True)

    got = second(cr, lambda X, W, B: F.conv2d(X, W, B, stride, pad), cx, cw, cb, cgrad,
                 cr.tensor)
    want = second(torch, lambda X, W, B: TF.conv2d(X, W, B, stride=stride, padding=pad),
                  tx, tw, tb, tgrad, torch.from_numpy)
    tol = dict(TOL[dtype], rtol=2e-3 if dtype == np.float32 else 1e-9)
    for name, a, t in (("hx", got[0], want[0]), ("hw", got[1], want[1]),
                       ("third x", got[2][0], want[2][0]), ("third w", got[2][1], want[2][1])):
        np.testing.assert_allclose(a.numpy(), t.detach().numpy(), err_msg=name, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", SEEDS)
def test_conv2d_jvp_and_hvp(seed, dtype):
    rng, x, w, b, stride, pad = _conv_case(seed, dtype)
    b = rng.standard_normal(w.shape[0]).astype(dtype)
    dx, dw, db = (rng.standard_normal(a.shape).astype(dtype) for a in (x, w, b))
    out, tan = cr.jvp(lambda X, W, B: F.conv2d(X, W, B, stride, pad), (x, w, b), (dx, dw, db))
    tout, ttan = torch.func.jvp(lambda X, W, B: TF.conv2d(X, W, B, stride=stride, padding=pad),
                                tuple(map(torch.from_numpy, (x, w, b))),
                                tuple(map(torch.from_numpy, (dx, dw, db))))
    _close(out, tout, dtype, "value")
    _close(tan, ttan, dtype, "tangent")
    # forward over reverse: the JVPs of the gradient primitives
    f = lambda X, W: (F.conv2d(X, W, None, stride, pad) ** 2).sum()  # noqa: E731
    tf = lambda X, W: (TF.conv2d(X, W, None, stride=stride, padding=pad) ** 2).sum()  # noqa: E731
    tol = dict(TOL[dtype], rtol=1e-3 if dtype == np.float32 else 1e-9)
    for i, name in enumerate(("hvp x", "hvp w")):  # cr.jvp takes one output: one argnum each
        _, hv = cr.jvp(cr.grad(f, argnums=i), (x, w), (dx, dw))
        _, thv = torch.func.jvp(torch.func.grad(tf, argnums=i),
                                (torch.from_numpy(x), torch.from_numpy(w)),
                                (torch.from_numpy(dx), torch.from_numpy(dw)))
        np.testing.assert_allclose(hv.numpy(), thv.numpy(), err_msg=name, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", SEEDS)
def test_max_pool2d_values_gradients_and_higher_orders(seed, dtype):
    rng, x, k, stride, pad = _pool_case(seed, dtype)
    cx, tx = _pair(x)
    out = F.max_pool2d(cx, k, stride, pad)
    tout = TF.max_pool2d(tx, k, stride, pad)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    assert out._prim is MAX_POOL2D
    g = rng.standard_normal(out.shape).astype(dtype)
    gx, = cr.autograd.grad((out ** 2 * cr.tensor(g)).sum(), [cx], create_graph=True)
    tgx, = torch.autograd.grad((tout ** 2 * torch.from_numpy(g)).sum(), [tx], create_graph=True)
    _close(gx, tgx, dtype, "grad")
    v = rng.standard_normal(x.shape).astype(dtype)
    hx, = cr.autograd.grad((gx * cr.tensor(v)).sum(), [cx])
    thx, = torch.autograd.grad((tgx * torch.from_numpy(v)).sum(), [tx])
    _close(hx, thx, dtype, "grad of grad")
    _, tan = cr.jvp(lambda a: F.max_pool2d(a, k, stride, pad), (x,), (v,))
    _, ttan = torch.func.jvp(lambda a: TF.max_pool2d(a, k, stride, pad),
                             (torch.from_numpy(x),), (torch.from_numpy(v),))
    _close(tan, ttan, dtype, "jvp")
    f = lambda a: (F.max_pool2d(a, k, stride, pad) ** 3).sum()  # noqa: E731
    tf = lambda a: (TF.max_pool2d(a, k, stride, pad) ** 3).sum()  # noqa: E731
    _, hv = cr.jvp(cr.grad(f), (x,), (v,))
    _, thv = torch.func.jvp(torch.func.grad(tf), (torch.from_numpy(x),), (torch.from_numpy(v),))
    _close(hv, thv, dtype, "hvp")


@pytest.mark.parametrize("k,stride,pad", [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0)])
def test_max_pool2d_ties_send_the_gradient_to_one_position(k, stride, pad):
    """After a ReLU most windows hold several equal zeros: PyTorch sends each window's
    whole gradient to its first maximum (row-major), not shared among the ties."""
    rng = np.random.default_rng(k * 10 + stride + pad)
    x = np.maximum(np.round(rng.standard_normal((2, 3, 7, 8)), 0), 0).astype(np.float32)
    assert (x == 0).mean() > 0.3
    cx, tx = _pair(x)
    out, tout = F.max_pool2d(cx, k, stride, pad), TF.max_pool2d(tx, k, stride, pad)
    g = rng.standard_normal(out.shape).astype(np.float32)
    (out * cr.tensor(g)).sum().backward()
    (tout * torch.from_numpy(g)).sum().backward()
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    if stride >= k:  # disjoint windows: exactly one position per window gets anything
        assert np.count_nonzero(cx.grad.numpy()) <= out.numel()


def test_max_pool2d_padding_counts_as_minus_infinity():
    x = -np.ones((1, 1, 3, 3)) - np.arange(9).reshape(1, 1, 3, 3)   # all negative
    cx, tx = _pair(x)
    out, tout = F.max_pool2d(cx, 3, 1, 1), TF.max_pool2d(tx, 3, 1, 1)
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    out.sum().backward(), tout.sum().backward()
    np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("k,stride,pad", [(2, 2, 0), (3, 1, 1), (3, 2, 1), (2, 1, 1)])
def test_max_pool2d_routes_nan_and_minus_infinity_as_pytorch(k, stride, pad):
    """PyTorch's exceptions to "the first maximum": a window with NaN sends its gradient to
    its last NaN; a window of -inf only, to its first position inside the input."""
    rng = np.random.default_rng(k + 3 * stride + 7 * pad)
    for _ in range(20):
        x = rng.standard_normal((2, 2, 6, 7))
        m = rng.random(x.shape)
        x[m < 0.15], x[m > 0.7] = np.nan, -np.inf
        cx, tx = _pair(x)
        out, tout = F.max_pool2d(cx, k, stride, pad), TF.max_pool2d(tx, k, stride, pad)
        np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
        out.sum().backward(), tout.sum().backward()
        np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())


def test_gradient_primitives_are_each_others_transposes():
    """<conv(x, W), g> = <x, dx(g, W)> = <W, dW(g, x)>, and <gather(t), u> = <t, scatter(u)>:
    the adjoint identities the higher-order rules rely on."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2))
    out = CONV2D(x, w, stride=2, pad=1)
    g = rng.standard_normal(out.shape)
    lhs = np.vdot(out, g)
    assert lhs == pytest.approx(np.vdot(x, CONV2D_INPUT_GRAD(g, w, x_shape=x.shape, stride=2,
                                                             pad=1)))
    assert lhs == pytest.approx(np.vdot(w, CONV2D_WEIGHT_GRAD(g, x, w_shape=w.shape, stride=2,
                                                              pad=1)))
    cache: dict = {}
    pooled = MAX_POOL2D(x, kernel=3, stride=2, pad=1, cache=cache)
    routing = dict(arg=cache["arg"], x_shape=x.shape, kernel=3, stride=2, pad=1)
    np.testing.assert_array_equal(MAX_POOL2D_GATHER(x, **routing), pooled)
    u, t = rng.standard_normal(pooled.shape), rng.standard_normal(x.shape)
    assert np.vdot(MAX_POOL2D_GATHER(t, **routing), u) == \
        pytest.approx(np.vdot(t, MAX_POOL2D_SCATTER(u, **routing)))


def test_errors_name_the_op_and_shapes():
    x = cr.tensor(np.zeros((1, 2, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"conv2d: bias has shape \(3,\), expected \(4,\)"):
        F.conv2d(x, np.zeros((4, 2, 3, 3), np.float32), np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"conv2d: input \(1, 2, 5, 5\) and weight"):
        F.conv2d(x, np.zeros((4, 3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="conv2d: stride must be at least 1"):
        F.conv2d(x, np.zeros((4, 2, 3, 3), np.float32), stride=0)
    with pytest.raises(ValueError, match="square"):
        F.conv2d(x, np.zeros((4, 2, 3, 3), np.float32), padding=(1, 2))
    with pytest.raises(ValueError, match="max_pool2d: kernel_size and stride must be"):
        F.max_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match=r"max_pool2d: expected \(N, C, H, W\) input"):
        F.max_pool2d(cr.tensor(np.zeros((2, 5, 5))), 2)


def test_no_numpy_warnings_reach_the_user():
    """Infinite and NaN values go through both primitives and their gradients quietly."""
    x = np.array([[[[np.inf, 1.0, -np.inf, 2.0], [np.nan, 0.0, 3.0, -1.0],
                    [1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]]])
    with np.errstate(all="raise"):
        cx = cr.tensor(x, requires_grad=True)
        y = F.max_pool2d(cx, 2) * cr.tensor(np.array([[[[np.inf, 1.0], [0.0, 2.0]]]]))
        z = F.conv2d(y, np.ones((1, 1, 2, 2)), np.zeros(1), 1, 1)
        z.sum().backward()
    assert cx.grad.shape == x.shape


def test_an_empty_batch():
    """An empty batch gives empty values and gradients of the right shapes, as PyTorch."""
    (cx, tx), (cw, tw) = _pair(np.ones((0, 1, 5, 4))), _pair(np.ones((2, 1, 3, 3)))
    out, tout = F.conv2d(cx, cw, None, 2, 1), TF.conv2d(tx, tw, None, stride=2, padding=1)
    (out.sum() + F.max_pool2d(cx, 3, 2, 1).sum()).backward()
    (tout.sum() + TF.max_pool2d(tx, 3, 2, 1).sum()).backward()
    _close(out, tout, np.float64)
    _close(cx.grad, tx.grad, np.float64, "x")
    _close(cw.grad, tw.grad, np.float64, "w")


def test_no_input_channels_or_no_filters():
    """Cases PyTorch refuses or answers oddly, by their definition: with no input channels
    the output is the bias everywhere; with no filters it is empty; gradients are zeros."""
    x, w, b = (cr.tensor(np.ones(s), requires_grad=True) for s in ((2, 0, 5, 4), (3, 0, 3, 3),
                                                                    (3,)))
    out = F.conv2d(x, w, b * 2, 2, 1)
    np.testing.assert_array_equal(out.numpy(), np.full((2, 3, 3, 2), 2.0))
    out.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape
    np.testing.assert_array_equal(b.grad.numpy(), np.full(3, 2.0 * 2 * 3 * 2))
    x2, w2 = cr.tensor(np.ones((2, 1, 5, 4)), requires_grad=True), \
        cr.tensor(np.ones((0, 1, 3, 3)), requires_grad=True)
    out2 = F.conv2d(x2, w2, None, 1, 0)
    assert out2.shape == (2, 0, 3, 2)
    out2.sum().backward()
    np.testing.assert_array_equal(x2.grad.numpy(), np.zeros((2, 1, 5, 4)))
