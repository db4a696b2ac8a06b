"""Every primitive against PyTorch: value, gradient (VJP) and forward-mode tangent (JVP).

hypothesis picks the shapes (0-d, size-1 axes, broadcasting both ways) and a seed for the
values; float64 results must agree to 1e-10 relative, float32 to 1e-5.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import chainrule as cr

torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle: pip install torch==2.13.0")

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}
FAST = settings(max_examples=25, deadline=None)


def values(rng, shape, domain, dtype=np.float64):
    x = rng.standard_normal(shape)
    if domain == "pos":
        x = np.abs(x) + 0.1
    elif domain == "away0":  # away from kinks (relu, abs) so finite differences agree
        x = np.where(np.abs(x) < 0.1, 0.5, x)
    return x.astype(dtype)


def compare(cr_fn, torch_fn, arrays, dtype=np.float64, jvp=True):
    """Value, gradient for a random upstream gradient, and JVP for random tangents."""
    tol = TOL[dtype]
    rng = np.random.default_rng(0)
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = cr_fn(*xs)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = torch_fn(*ts)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), **tol)
    assert out.dtype == tout.detach().numpy().dtype
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(g)
    tout.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        expected = t.grad.numpy() if t.grad is not None else np.zeros_like(x.numpy())
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
        np.testing.assert_allclose(x.grad.numpy(), expected, **tol)
    if jvp:
        tangents = [rng.standard_normal(a.shape).astype(dtype) for a in arrays]
        _, cr_tan = cr.jvp(cr_fn, arrays, tangents)
        _, th_tan = torch.func.jvp(torch_fn, tuple(torch.tensor(a) for a in arrays),
                                   tuple(torch.tensor(t) for t in tangents))
        np.testing.assert_allclose(cr_tan.numpy(), th_tan.numpy(), **tol)


UNARY = {
    "neg": (lambda x: -x, lambda x: -x, "any"),
    "exp": (cr.exp, torch.exp, "any"),
    "log": (cr.log, torch.log, "pos"),
    "sqrt": (cr.sqrt, torch.sqrt, "pos"),
    "abs": (cr.abs, torch.abs, "away0"),
    "sin": (cr.sin, torch.sin, "any"),
    "cos": (cr.cos, torch.cos, "any"),
    "tanh": (cr.tanh, torch.tanh, "any"),
    "sigmoid": (cr.sigmoid, torch.sigmoid, "any"),
    "relu": (cr.relu, torch.relu, "away0"),
    "square": (lambda x: x ** 2, lambda x: x ** 2, "any"),
    "pow_half": (lambda x: x ** 0.5, lambda x: x ** 0.5, "pos"),
    "rsub": (lambda x: 2.0 - x, lambda x: 2.0 - x, "any"),
    "rdiv": (lambda x: 1.0 / x, lambda x: 1.0 / x, "pos"),
    "clip": (lambda x: cr.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), "any"),
    "softmax": (lambda x: cr.softmax(x, -1), lambda x: torch.softmax(x, -1), "any"),
    "log_softmax": (lambda x: cr.log_softmax(x, -1), lambda x: torch.log_softmax(x, -1), "any"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@FAST
@given(shape=array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
       seed=st.integers(0, 2**16))
def test_unary_matches_torch(name, shape, seed):
    cr_fn, torch_fn, domain = UNARY[name]
    if name in ("softmax", "log_softmax") and len(shape) == 0:
        shape = (3,)
    compare(cr_fn, torch_fn, [values(np.random.default_rng(seed), shape, domain)])


BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, "any", "any"),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, "any", "any"),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, "any", "any"),
    "div": (lambda a, b: a / b, lambda a, b: a / b, "any", "pos"),
    "pow": (lambda a, b: a ** b, lambda a, b: a ** b, "pos", "any"),
    "maximum": (cr.maximum, torch.maximum, "any", "any"),
    "minimum": (cr.minimum, torch.minimum, "any", "any"),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@FAST
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_binary_broadcasting_matches_torch(name, shapes, seed):
    cr_fn, torch_fn, dom_a, dom_b = BINARY[name]
    rng = np.random.default_rng(seed)
    a, b = values(rng, shapes.input_shapes[0], dom_a), values(rng, shapes.input_shapes[1], dom_b)
    compare(cr_fn, torch_fn, [a, b])


def test_maximum_splits_ties_like_torch():
    a = np.array([1.0, 2.0, 3.0])
    compare(cr.maximum, torch.maximum, [a, np.array([1.0, 0.0, 3.0])])
    compare(cr.minimum, torch.minimum, [a, np.array([1.0, 5.0, 3.0])])


def test_where_matches_torch():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    cond = rng.standard_normal((3, 4)) > 0
    compare(lambda x, y: cr.where(cond, x, y), lambda x, y: torch.where(torch.tensor(cond), x, y),
            [a, b])


@pytest.mark.parametrize("a_shape,b_shape", [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (4, 3, 2)),
    ((5, 2, 3), (3,)), ((3,), (5, 3, 2))])
def test_matmul_matches_torch(a_shape, b_shape):
    rng = np.random.default_rng(2)
    compare(cr.matmul, torch.matmul, [rng.standard_normal(a_shape), rng.standard_normal(b_shape)])
    compare(lambda a, b: a @ b, lambda a, b: a @ b,
            [rng.standard_normal(a_shape).astype(np.float32),
             rng.standard_normal(b_shape).astype(np.float32)], dtype=np.float32)


def _torch_reduce(name, axis, keepdims):
    def fn(x):
        dims = tuple(range(x.ndim)) if axis is None else axis
        if name == "sum":
            return torch.sum(x, dim=dims, keepdim=keepdims) if x.ndim else x.sum()
        if name == "mean":
            return torch.mean(x, dim=dims, keepdim=keepdims) if x.ndim else x.mean()
        if name == "max":
            return torch.amax(x, dim=dims, keepdim=keepdims)
        if name == "min":
            return torch.amin(x, dim=dims, keepdim=keepdims)
        return torch.logsumexp(x, dim=dims, keepdim=keepdims)
    return fn


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_torch(name, axis, keepdims):
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    compare(lambda t: getattr(cr, name)(t, axis=axis, keepdims=keepdims),
            _torch_reduce(name, axis, keepdims), [x])


def test_max_with_ties_shares_gradient_like_torch_amax():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    compare(lambda t: t.max(axis=1), lambda t: torch.amax(t, dim=1), [x])
    compare(lambda t: t.max(), lambda t: torch.amax(t), [x])


@pytest.mark.parametrize("index", [
    (0,), (slice(1, 3),), (slice(None), 1), (Ellipsis, slice(None, None, 2)),
    (np.array([0, 2, 0, 0]),), (np.array([[1, 1], [0, 2]]),),
    (slice(None), np.array([3, 3, 1])), (None, 1),
])
def test_indexing_matches_torch(index):
    x = np.random.default_rng(4).standard_normal((3, 4))
    compare(lambda t: t[index], lambda t: t[index if not isinstance(index, tuple) else tuple(
        torch.tensor(i) if isinstance(i, np.ndarray) else i for i in index)], [x])


def test_boolean_mask_indexing_matches_torch():
    x = np.random.default_rng(5).standard_normal((3, 4))
    mask = x > 0.2
    compare(lambda t: t[mask], lambda t: t[torch.tensor(mask)], [x])


def test_repeated_indices_accumulate():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


@pytest.mark.parametrize("case", ["reshape", "reshape_neg", "transpose", "T", "swapaxes",
                                  "broadcast_to", "squeeze", "expand_dims", "flatten"])
def test_shape_ops_match_torch(case):
    x = np.random.default_rng(6).standard_normal((2, 1, 3))
    fns = {
        "reshape": (lambda t: t.reshape(3, 2), lambda t: t.reshape(3, 2)),
        "reshape_neg": (lambda t: t.reshape((-1,)), lambda t: t.reshape(-1)),
        "transpose": (lambda t: t.transpose(2, 0, 1), lambda t: t.permute(2, 0, 1)),
        "T": (lambda t: t.reshape(2, 3).T, lambda t: t.reshape(2, 3).T),
        "swapaxes": (lambda t: t.swapaxes(0, 2), lambda t: t.transpose(0, 2)),
        "broadcast_to": (lambda t: t.broadcast_to((4, 2, 5, 3)),
                         lambda t: t.broadcast_to((4, 2, 5, 3))),
        "squeeze": (lambda t: t.squeeze(1), lambda t: t.squeeze(1)),
        "expand_dims": (lambda t: cr.expand_dims(t, 0), lambda t: t.unsqueeze(0)),
        "flatten": (lambda t: t.flatten(1), lambda t: t.flatten(1)),
    }
    compare(*fns[case], [x])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_and_stack_match_torch(axis):
    rng = np.random.default_rng(7)
    a, b, c = (rng.standard_normal((2, 3)) for _ in range(3))
    compare(lambda *t: cr.concat(t, axis=axis), lambda *t: torch.cat(t, dim=axis), [a, b, c])
    compare(lambda *t: cr.stack(t, axis=axis), lambda *t: torch.stack(t, dim=axis), [a, b, c])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_cross_entropy_matches_torch(reduction, dtype):
    rng = np.random.default_rng(8)
    logits = rng.standard_normal((5, 4)).astype(dtype)
    labels = np.array([0, 3, 1, 1, 2])
    probs = rng.dirichlet(np.ones(4), size=5).astype(dtype)
    F = torch.nn.functional
    compare(lambda z: cr.softmax_cross_entropy(z, labels, reduction),
            lambda z: F.cross_entropy(z, torch.tensor(labels), reduction=reduction),
            [logits], dtype=dtype)
    compare(lambda z: cr.softmax_cross_entropy(z, probs, reduction),
            lambda z: F.cross_entropy(z, torch.tensor(probs), reduction=reduction),
            [logits], dtype=dtype)


def test_cross_entropy_stable_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]], dtype=np.float32)
    labels = np.array([1, 1])
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        compare(lambda z: cr.softmax_cross_entropy(z, labels),
                lambda z: torch.nn.functional.cross_entropy(z, torch.tensor(labels)),
                [logits], dtype=np.float32)


def test_sigmoid_and_logsumexp_hard_inputs_match_torch():
    x = np.array([-1000.0, -100.0, -20.0, 0.0, 20.0, 1000.0])
    with np.errstate(divide="raise", over="raise", invalid="raise"):
        compare(cr.sigmoid, torch.sigmoid, [x])
        compare(cr.sigmoid, torch.sigmoid, [x.astype(np.float32)], dtype=np.float32)
        compare(lambda t: cr.logsumexp(t), lambda t: torch.logsumexp(t, 0), [x])


def test_linear_matches_torch():
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    compare(cr.ops.linear, torch.nn.functional.linear, [x, w, b])
    compare(lambda x, w: cr.ops.linear(x, w), torch.nn.functional.linear,
            [rng.standard_normal((5, 4, 3)), w])


def test_float32_stays_float32_through_backward():
    x = cr.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    w = cr.tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    loss = cr.softmax_cross_entropy(x @ w * 0.5 + 1, np.array([0, 3]))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32 and w.grad.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_matches_pytorch_bit_for_bit_on_signed_zeros_nan_and_inf(dtype):
    # relu is np.maximum(0, a) and its VJP the branch-free numerics.masked: the sign of
    # zero, nan passing through, and a non-finite upstream gradient that does not leak
    # where relu blocks it, all as PyTorch's threshold rules give them
    a = np.array([-0.0, 0.0, -1.0, np.nan, 2.0, -np.inf, np.inf, 3.0], dtype)
    g = np.array([1.0, -2.0, np.inf, 4.0, np.nan, -np.inf, 5.0, -0.0], dtype)
    x = cr.tensor(a, requires_grad=True)
    y = cr.relu(x)
    y.backward(cr.tensor(g))
    tx = torch.tensor(a, requires_grad=True)
    ty = torch.relu(tx)
    ty.backward(torch.tensor(g))
    bits = f"i{np.dtype(dtype).itemsize}"
    assert y.numpy().view(bits).tolist() == ty.detach().numpy().view(bits).tolist()
    assert x.grad.numpy().view(bits).tolist() == tx.grad.numpy().view(bits).tolist()
