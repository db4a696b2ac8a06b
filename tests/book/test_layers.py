"""The book's layers: tutorial numbers, backward vs numerical gradients and vs PyTorch."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from chainrule.book.layers import (AddLayer, Affine, IdentityWithLoss, MulLayer, Relu, Sigmoid,
                                   SigmoidWithLoss, SoftmaxWithLoss, Tanh)
from chainrule.numerics import numerical_gradient
from conftest import requires_torch

rng = np.random.default_rng(0)


def strict():
    """Overflow, 0/0 and log(0) raise (underflow to 0 is the right answer, so it is allowed)."""
    return np.errstate(over="raise", divide="raise", invalid="raise")


# ---- the tutorials' numbers -------------------------------------------------------------

def test_apple():
    mul_apple, mul_tax = MulLayer(), MulLayer()
    price = mul_tax.forward(mul_apple.forward(100, 2), 1.1)
    dapple_price, dtax = mul_tax.backward(1)
    dapple, dcount = mul_apple.backward(dapple_price)
    assert price == pytest.approx(220)
    assert (dapple, dcount, dtax) == pytest.approx((2.2, 110, 200))


def test_apple_orange():
    mul_apple, mul_orange, add, mul_tax = MulLayer(), MulLayer(), AddLayer(), MulLayer()
    all_price = add.forward(mul_apple.forward(100, 2), mul_orange.forward(150, 3))
    price = mul_tax.forward(all_price, 1.1)
    dall, dtax = mul_tax.backward(1)
    dapple_price, dorange_price = add.backward(dall)
    dapple, dapple_num = mul_apple.backward(dapple_price)
    dorange, dorange_num = mul_orange.backward(dorange_price)
    assert price == pytest.approx(715)
    assert (dapple_num, dapple, dorange, dorange_num, dtax) == pytest.approx(
        (110, 2.2, 3.3, 165, 650))


@pytest.mark.parametrize("label", [np.array([0, 1, 0]), np.array(1)])
def test_softmax_with_loss_tutorial_backward(label):
    # the tutorial's y = (0.3, 0.2, 0.5) is the softmax *output*: logits log(y) produce it
    layer = SoftmaxWithLoss()
    loss = layer.forward(np.log([0.3, 0.2, 0.5]), label)
    assert loss == pytest.approx(-np.log(0.2))
    np.testing.assert_allclose(layer.y, [0.3, 0.2, 0.5])
    np.testing.assert_allclose(layer.backward(1), [0.3, -0.8, 0.5], atol=1e-12)


def test_softmax_with_loss_batch_divides_by_batch_size():
    layer = SoftmaxWithLoss()
    layer.forward(np.log([[0.3, 0.2, 0.5]] * 4), np.array([1, 1, 1, 1]))
    np.testing.assert_allclose(layer.backward(), [[0.3 / 4, -0.8 / 4, 0.5 / 4]] * 4, atol=1e-12)


# ---- every layer vs numerical gradients (float64) -----------------------------------------

def check_numerically(layer, inputs, params=(), dout=None):
    """Backward of sum(out * dout) vs central differences, for every input and parameter."""
    out = layer.forward(*inputs)
    if dout is None:
        dout = rng.standard_normal(np.shape(out))
    grads = layer.backward(dout)
    grads = grads if isinstance(grads, tuple) else (grads,)

    def objective(_):
        return float(np.sum(layer.forward(*inputs) * dout))

    for x, dx in zip(inputs, grads):
        np.testing.assert_allclose(dx, numerical_gradient(objective, x), rtol=1e-6, atol=1e-8)
    for name in params:
        analytic = getattr(layer, "d" + name).copy()
        np.testing.assert_allclose(analytic, numerical_gradient(objective, getattr(layer, name)),
                                   rtol=1e-6, atol=1e-8)


def labels(n, classes):
    return rng.integers(0, classes, size=n)


@pytest.mark.parametrize("make", [
    lambda: (MulLayer(), [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]),
    lambda: (MulLayer(), [rng.standard_normal((3, 4)), rng.standard_normal(4)]),
    lambda: (AddLayer(), [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))]),
    lambda: (AddLayer(), [rng.standard_normal((3, 1)), rng.standard_normal(4)]),
    lambda: (Relu(), [rng.standard_normal((5, 6))]),
    lambda: (Sigmoid(), [3 * rng.standard_normal((5, 6))]),
    lambda: (Tanh(), [2 * rng.standard_normal((5, 6))]),
], ids=["mul", "mul-broadcast", "add", "add-broadcast", "relu", "sigmoid", "tanh"])
def test_elementwise_layers_match_numerical_gradients(make):
    layer, inputs = make()
    check_numerically(layer, inputs)


@pytest.mark.parametrize("x_shape", [(4, 5), (4, 1, 5)])
def test_affine_matches_numerical_gradients(x_shape):
    layer = Affine(rng.standard_normal((5, 3)), rng.standard_normal(3))
    check_numerically(layer, [rng.standard_normal(x_shape)], params=("W", "b"))
    assert layer.backward(np.ones((4, 3))).shape == x_shape


def test_affine_db_is_sum_of_dout_not_of_bias():
    # the tutorial's bug: db = np.sum(self.b, axis=0); the gradient of b is dout summed
    layer = Affine(np.zeros((2, 3)), np.full(3, 7.0))
    layer.forward(np.ones((4, 2)))
    dout = np.arange(12.0).reshape(4, 3)
    layer.backward(dout)
    np.testing.assert_array_equal(layer.db, dout.sum(axis=0))


def test_affine_without_input_grad_still_gives_parameter_grads():
    W, b, x, dout = (rng.standard_normal((5, 3)), rng.standard_normal(3),
                     rng.standard_normal((4, 5)), rng.standard_normal((4, 3)))
    full, first = Affine(W, b), Affine(W, b, input_grad=False)
    full.forward(x), first.forward(x)
    full.backward(dout)
    assert first.backward(dout) is None
    np.testing.assert_array_equal(first.dW, full.dW)
    np.testing.assert_array_equal(first.db, full.db)


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_with_loss_matches_numerical_gradient(one_hot):
    x, t = rng.standard_normal((4, 5)), labels(4, 5)
    if one_hot:
        t = np.eye(5)[t]
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    dx = layer.backward(1)
    np.testing.assert_allclose(dx, numerical_gradient(lambda x: layer.forward(x, t), x),
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("layer_cls", [IdentityWithLoss, SigmoidWithLoss])
def test_elementwise_losses_match_numerical_gradient(layer_cls):
    x = 2 * rng.standard_normal((4, 3))
    t = rng.random((4, 3)) if layer_cls is IdentityWithLoss else (rng.random((4, 3)) > 0.5) * 1.0
    layer = layer_cls()
    layer.forward(x, t)
    dx = layer.backward(2.5)
    np.testing.assert_allclose(dx, numerical_gradient(lambda x: 2.5 * layer.forward(x, t), x),
                               rtol=1e-6, atol=1e-9)


def test_identity_with_loss_is_the_books_half_sum_of_squares_over_batch():
    layer = IdentityWithLoss()
    x, t = np.array([[1.0, 2.0], [3.0, 5.0]]), np.array([[0.0, 0.0], [3.0, 3.0]])
    assert layer.forward(x, t) == pytest.approx(0.5 * (1 + 4 + 0 + 4) / 2)
    np.testing.assert_allclose(layer.backward(), (x - t) / 2)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), d=st.integers(1, 4), broadcast_y=st.booleans())
def test_mul_layer_gradients_any_shape(n, d, broadcast_y):
    x = rng.standard_normal((n, d))
    y = rng.standard_normal(d if broadcast_y else (n, d))
    check_numerically(MulLayer(), [x, y])


# ---- every layer vs PyTorch (value and gradient) ----------------------------------------

def torch_value_and_grads(fn, inputs, dout):
    import torch
    ts = [torch.tensor(x, requires_grad=True) for x in inputs]
    out = fn(*ts)
    out.backward(torch.as_tensor(dout, dtype=out.dtype))
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


@requires_torch
@pytest.mark.parametrize("name", ["mul", "add", "relu", "sigmoid", "tanh", "affine"])
def test_layers_match_pytorch(name):
    import torch
    x, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    x[0, :2] = 0.0  # relu's kink: both give gradient 0 there
    cases = {
        "mul": (MulLayer(), [x, y], lambda a, c: a * c),
        "add": (AddLayer(), [x, y], lambda a, c: a + c),
        "relu": (Relu(), [x], torch.relu),
        "sigmoid": (Sigmoid(), [x], torch.sigmoid),
        "tanh": (Tanh(), [x], torch.tanh),
        "affine": (Affine(W, b), [x, W, b], lambda a, w, c: a @ w + c),
    }
    layer, inputs, fn = cases[name]
    ours = layer.forward(*inputs[:1] if name == "affine" else inputs)
    dout = rng.standard_normal(ours.shape)
    grads = layer.backward(dout)
    grads = list(grads) if isinstance(grads, tuple) else [grads]
    if name == "affine":
        grads += [layer.dW, layer.db]
    value, torch_grads = torch_value_and_grads(fn, inputs, dout)
    np.testing.assert_allclose(ours, value, rtol=1e-12, atol=1e-12)
    for g, tg in zip(grads, torch_grads, strict=True):
        np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)


@requires_torch
@pytest.mark.parametrize("one_hot", [False, True])
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_softmax_with_loss_matches_pytorch_cross_entropy(one_hot, scale):
    import torch
    x = scale * rng.standard_normal((5, 4))
    x[0] = [scale, -scale, 0.0, scale]  # ties and extremes
    t = labels(5, 4)
    target = np.eye(4)[t] if one_hot else t
    layer = SoftmaxWithLoss()
    with strict():
        loss = layer.forward(x, target)
        dx = layer.backward(1)
    tx = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(tx, torch.tensor(target))
    expected.backward()
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), atol=1e-15)


@requires_torch
@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_sigmoid_with_loss_matches_pytorch_bce_with_logits(scale):
    import torch
    x = scale * rng.standard_normal((6, 2))
    x[0] = [scale, -scale]
    t = (rng.random((6, 2)) > 0.5) * 1.0
    t[0] = [0.0, 1.0]  # the worst case: confident and wrong both ways
    layer = SigmoidWithLoss()
    with strict():
        loss = layer.forward(x, t)
        dx = layer.backward(1)
    tx = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        tx, torch.tensor(t), reduction="sum") / 6
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-15)


@requires_torch
def test_identity_with_loss_matches_pytorch_half_sum_of_squares():
    import torch
    x, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    layer = IdentityWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward(1)
    tx = torch.tensor(x, requires_grad=True)
    expected = 0.5 * 3 * torch.nn.functional.mse_loss(tx, torch.tensor(t))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12)


# ---- hard inputs --------------------------------------------------------------------------

def test_sigmoid_layers_are_finite_and_quiet_at_extremes():
    x = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]])
    with strict():
        for layer in (Sigmoid(), Tanh()):
            out = layer.forward(x)
            dx = layer.backward(np.ones_like(x))
            assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
        out = Sigmoid().forward(x)
    np.testing.assert_allclose(out, [[0.0, np.exp(-50.0), 0.5, 1.0, 1.0]], rtol=1e-12, atol=0)


# ---- dout is never mutated; dtypes are kept ---------------------------------------------

LAYERS = [
    (MulLayer, 2), (AddLayer, 2), (Relu, 1), (Sigmoid, 1), (Tanh, 1),
    (lambda: Affine(rng.standard_normal((4, 3)), rng.standard_normal(3)), 1),
]


@pytest.mark.parametrize("make, n_inputs", LAYERS)
def test_backward_does_not_modify_dout(make, n_inputs):
    layer = make()
    inputs = [rng.standard_normal((5, 4)) for _ in range(n_inputs)]
    inputs[0][0] = -1.0  # relu has something to zero
    out = layer.forward(*inputs)
    dout = rng.standard_normal(out.shape)
    before = dout.copy()
    grads = layer.backward(dout)
    np.testing.assert_array_equal(dout, before)
    for g in grads if isinstance(grads, tuple) else (grads,):
        assert not np.shares_memory(g, dout)  # callers may modify what they get back


@pytest.mark.parametrize("make, n_inputs", LAYERS)
def test_float32_stays_float32(make, n_inputs):
    layer = make()
    if isinstance(layer, Affine):
        layer.W, layer.b = layer.W.astype(np.float32), layer.b.astype(np.float32)
    inputs = [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(n_inputs)]
    out = layer.forward(*inputs)
    grads = layer.backward(np.ones(out.shape, np.float32))
    assert out.dtype == np.float32
    for g in grads if isinstance(grads, tuple) else (grads,):
        assert g.dtype == np.float32
    if isinstance(layer, Affine):
        assert layer.dW.dtype == layer.db.dtype == np.float32


@pytest.mark.parametrize("layer_cls, target", [
    (SoftmaxWithLoss, np.eye(3, dtype=np.int64)[[0, 2]]),  # int64 one-hot
    (SoftmaxWithLoss, np.array([0, 2])),
    (IdentityWithLoss, np.ones((2, 3), np.int64)),
    (SigmoidWithLoss, np.ones((2, 3), np.int64)),
])
def test_loss_layers_keep_float32_with_integer_labels(layer_cls, target):
    layer = layer_cls()
    loss = layer.forward(rng.standard_normal((2, 3)).astype(np.float32), target)
    assert np.asarray(loss).dtype == np.float32
    assert layer.backward(np.float64(1.0)).dtype == np.float32


# ---- clear errors -----------------------------------------------------------------------

@pytest.mark.parametrize("layer", [MulLayer(), AddLayer(), Relu(), Sigmoid(), Tanh(),
                                   Affine(np.ones((2, 2)), np.ones(2)), SoftmaxWithLoss(),
                                   IdentityWithLoss(), SigmoidWithLoss()])
def test_backward_before_forward_names_the_layer(layer):
    with pytest.raises(ValueError, match=f"{type(layer).__name__}.backward called before forward"):
        layer.backward(np.ones((2, 2)))


@pytest.mark.parametrize("make, n_inputs", LAYERS)
def test_wrong_dout_shape_names_layer_and_both_shapes(make, n_inputs):
    layer = make()
    out = layer.forward(*[rng.standard_normal((5, 4)) for _ in range(n_inputs)])
    with pytest.raises(ValueError) as err:
        layer.backward(np.ones((2, 7)))
    message = str(err.value)
    assert type(layer).__name__ in message and "(2, 7)" in message and str(out.shape) in message


def test_loss_layer_rejects_non_scalar_dout():
    layer = SoftmaxWithLoss()
    layer.forward(np.zeros((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"SoftmaxWithLoss.*\(2, 3\).*scalar"):
        layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize("t", [np.array([0, 1, 2]), np.array([0, 3]), np.array([0.0, 1.0])])
def test_softmax_with_loss_rejects_bad_labels(t):
    with pytest.raises(ValueError, match="SoftmaxWithLoss.forward"):
        SoftmaxWithLoss().forward(np.zeros((2, 3)), t)


def test_softmax_with_loss_takes_a_column_of_labels():
    # the book's chapter 7 gradient check passes T = np.array([1]).reshape((1, 1))
    x = np.random.default_rng(8).standard_normal((3, 4))
    column, flat = SoftmaxWithLoss(), SoftmaxWithLoss()
    loss = column.forward(x, np.array([[2], [0], [3]]))
    assert loss == flat.forward(x, np.array([2, 0, 3]))
    log_y = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-(log_y[0, 2] + log_y[1, 0] + log_y[2, 3]) / 3, rel=1e-14)
    np.testing.assert_array_equal(column.backward(), flat.backward())
    one = SoftmaxWithLoss()
    assert one.forward(x[:1], np.array([1]).reshape((1, 1))) == pytest.approx(-log_y[0, 1])
    with pytest.raises(ValueError, match="SoftmaxWithLoss.forward: class-index labels must be "
                                         "integers"):
        SoftmaxWithLoss().forward(x, np.array([[2.0], [0.0], [3.0]]))


def test_affine_rejects_input_that_does_not_fit_W():
    with pytest.raises(ValueError, match=r"Affine.forward.*\(4, 6\).*\(5, 3\)"):
        Affine(np.ones((5, 3)), np.ones(3)).forward(np.ones((4, 6)))


# ---- property tests ---------------------------------------------------------------------

@requires_torch
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), classes=st.integers(2, 6),
       scale=st.sampled_from([1e-3, 1.0, 30.0, 1e4]), seed=st.integers(0, 2**16),
       one_hot=st.booleans())
def test_softmax_with_loss_matches_pytorch_on_any_logits(n, classes, scale, seed, one_hot):
    import torch
    r = np.random.default_rng(seed)
    x, t = scale * r.standard_normal((n, classes)), r.integers(0, classes, n)
    target = np.eye(classes)[t] if one_hot else t
    layer = SoftmaxWithLoss()
    with strict():
        loss, dx = layer.forward(x, target), layer.backward(1)
    tx = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(tx, torch.tensor(target))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-9, atol=1e-15)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 3), feature_shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       out=st.integers(1, 3))
def test_affine_gradients_for_any_input_shape(n, feature_shape, out):
    features = int(np.prod(feature_shape))
    layer = Affine(rng.standard_normal((features, out)), rng.standard_normal(out))
    check_numerically(layer, [rng.standard_normal((n, *feature_shape))], params=("W", "b"))
