"""Engine edge cases against PyTorch: per-thread modes, x**c at 0, nan propagation, signed
zeros, 0-d gradients, casts, dtype promotion by scalars, and no NumPy warnings."""
import threading
import warnings

import numpy as np
import pytest

import chainrule as cr
from tests.conftest import requires_torch


def test_no_grad_in_one_thread_leaves_other_threads_recording():
    inside, entered, results = threading.Event(), threading.Event(), {}

    def hold_no_grad():
        with cr.no_grad():
            entered.set()
            inside.wait(5)
            results["other"] = cr.is_grad_enabled()

    worker = threading.Thread(target=hold_no_grad)
    worker.start()
    entered.wait(5)
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()  # recorded here while the other thread is in no_grad
    inside.set()
    worker.join()
    assert results["other"] is False and cr.is_grad_enabled()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])


def test_grad_mode_does_not_leak_from_a_thread_that_raised():
    def fail():
        with cr.no_grad():
            raise ValueError("boom")
    t = threading.Thread(target=lambda: pytest.raises(ValueError, fail))
    t.start()
    t.join()
    assert cr.is_grad_enabled()


@requires_torch
@pytest.mark.parametrize("c", [0, 1, 2, 3])
def test_power_at_zero_every_order(c):
    import torch
    from torch.func import grad as tgrad, hessian as thess

    def f(x):
        return x ** c
    for order in (1, 2, 3):
        g_cr, g_t = f, f
        for _ in range(order):
            g_cr, g_t = cr.grad(g_cr), tgrad(g_t)
        got = g_cr(cr.tensor(np.float64(0.0))).item()
        want = g_t(torch.tensor(0.0, dtype=torch.float64)).item()
        assert got == want, (c, order, got, want)
    h = cr.hessian(lambda v: (v ** c).sum())(np.zeros(3))
    np.testing.assert_array_equal(h.numpy(), thess(lambda v: (v ** c).sum())(
        torch.zeros(3, dtype=torch.float64)).numpy())
    _, tangent = cr.jvp(lambda v: v ** c, (np.zeros(2),), (np.ones(2),))
    np.testing.assert_array_equal(tangent.numpy(), np.zeros(2) if c != 1 else np.ones(2))


@requires_torch
def test_tensor_power_at_zero_matches_torch():
    import torch
    a0, b0 = np.array([0., 0., 2., 0.]), np.array([0., 1., 0., 2.])
    a, b = cr.tensor(a0, requires_grad=True), cr.tensor(b0, requires_grad=True)
    (a ** b).sum().backward()
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    (ta ** tb).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-15)


@requires_torch
@pytest.mark.parametrize("op", ["relu", "abs", "sigmoid", "tanh", "maximum", "minimum",
                                "clip"])
def test_nan_propagation_matches_torch(op):
    import torch
    nan = float("nan")
    x0 = np.array([nan, 0.0, -0.0, 1.0, -2.0])
    upstream = np.array([1.0, nan, 2.0, 3.0, nan])
    calls = {"relu": lambda L, x: x.relu(), "abs": lambda L, x: x.abs(),
             "sigmoid": lambda L, x: x.sigmoid(), "tanh": lambda L, x: x.tanh(),
             "maximum": lambda L, x: L.maximum(x, L.tensor(np.zeros(5))),
             "minimum": lambda L, x: L.minimum(x, L.tensor(np.zeros(5))),
             "clip": lambda L, x: (x.clip(-1.0, 0.5) if L is cr else x.clamp(-1.0, 0.5))}
    outs = []
    for L in (cr, torch):
        x = L.tensor(x0, requires_grad=True)
        y = calls[op](L, x)
        y.backward(L.tensor(upstream))
        outs.append((y.detach().numpy(), x.grad.numpy()))
    (v, g), (tv, tg) = outs
    np.testing.assert_array_equal(v, tv)
    np.testing.assert_array_equal(g, tg)
    assert np.array_equal(np.signbit(v), np.signbit(tv))


def test_signed_zeros_are_kept():
    x = cr.tensor([1.0, -1.0, 0.0])
    np.testing.assert_array_equal(np.signbit((x * -0.0).numpy()), [True, False, True])
    np.testing.assert_array_equal(np.signbit((x * 0.0).numpy()), [False, True, False])


def test_zero_dim_leaf_gradient_stays_a_zero_dim_array():
    a = cr.tensor(np.float32(3.0), requires_grad=True)
    (a * a).backward()
    (a * a).backward()
    assert type(a.grad.numpy()) is np.ndarray and a.grad.numpy().shape == ()
    assert np.asarray(a.grad).item() == 12.0


def test_integer_and_bool_casts_cut_the_graph():
    x = cr.tensor([1.6, 2.2], requires_grad=True)
    i = x.astype(np.int64)
    assert not i.requires_grad and i.is_leaf
    b = x.astype(bool)
    assert not b.requires_grad
    (x * 3 + i).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    f = x.astype(np.float64)
    assert f.requires_grad


@pytest.mark.parametrize("scalar", [2.0, 2, np.float64(2.0), np.sqrt(4.0), np.int64(2),
                                    np.array(2), cr.tensor(np.float64(2.0))],
                         ids=["float", "int", "np.float64", "np.sqrt", "np.int64",
                              "0-d int array", "0-d float64 tensor"])
def test_scalars_never_promote_a_float32_tensor(scalar):
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for y in (x * scalar, scalar * x, x + scalar, x / scalar, x - scalar, x ** scalar):
        assert y.dtype == np.float32
    (x * scalar).sum().backward()
    assert x.grad.dtype == np.float32


def test_float_arrays_keep_their_dtype_as_in_pytorch():
    x = cr.tensor([1.0, 2.0])
    assert (x * np.array(2.0)).dtype == np.float64  # torch.ones(2) * np.array(2.0) too
    assert (x * np.array([2.0, 3.0])).dtype == np.float64


def test_python_float_with_an_int_tensor_gives_float32_like_pytorch():
    i = cr.tensor(np.array([1, 2]))
    assert (i * 1.5).dtype == np.float32
    assert (i + 1).dtype == np.int64


@pytest.mark.parametrize("bad", ["abc", ["1", 2], np.array(["a", "b"]), np.array([object()]),
                                 np.array(["2020-01-01"], dtype="datetime64[D]")])
def test_strings_and_objects_are_a_type_error(bad):
    with pytest.raises(TypeError, match="tensor: cannot make a tensor"):
        cr.tensor(bad)
    with pytest.raises(TypeError, match="cannot make a tensor"):
        cr.tensor([1.0]) + bad


@pytest.mark.parametrize("expr", [
    lambda: cr.tensor([0.0, 1.0]).log(),
    lambda: cr.tensor([1e30, -1e30]).exp(),
    lambda: cr.tensor([0.0, 1.0]) / cr.tensor([0.0, 0.0]),
    lambda: cr.tensor([-1.0]).sqrt(),
    lambda: cr.tensor([[-np.inf, -np.inf]]).softmax(-1),
    lambda: cr.tensor([[-np.inf, -np.inf]]).log_softmax(-1),
    lambda: cr.tensor([1e30]) * cr.tensor([1e30]),
    lambda: cr.tensor([0.0]) ** -1.0,
])
def test_no_numpy_warning_escapes(expr):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = expr()
    assert not np.isfinite(out.numpy()).all()


def test_no_numpy_warning_escapes_from_backward():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.log().sum().backward()
        cr.grad(lambda v: v.sqrt().sum())(np.zeros(2))
    assert x.grad.numpy()[0] == np.inf
