"""The PyTorch surface beyond the tutorials' programs: factories, dtypes, devices, PyTorch's
reductions and shapes, grad_fn, autograd.Function, and the NumPy interop of the
functional API — each against PyTorch or against the error it must give."""
import numpy as np
import pytest

import chainrule as cr
from tests.conftest import requires_torch


def _torch():
    return pytest.importorskip("torch")


# ---- factories and dtypes -----------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("make", [
    lambda t: t.tensor([1, 2]), lambda t: t.tensor([1.0, 2]), lambda t: t.tensor(True),
    lambda t: t.arange(5), lambda t: t.arange(0, 1, 0.25), lambda t: t.arange(5.0),
    lambda t: t.full((2,), 3), lambda t: t.full((2,), 0.5), lambda t: t.full((2,), True),
    lambda t: t.zeros(2, 3), lambda t: t.ones((2,), dtype=t.long), lambda t: t.eye(2, 3),
    lambda t: t.linspace(-3.14159, 3.14159, 2000), lambda t: t.linspace(0, 1, 5, dtype=t.float64),
    lambda t: t.zeros_like(t.ones(2, dtype=t.int64)), lambda t: t.empty(2, 0),
    lambda t: t.Tensor([1, 2]), lambda t: t.tensor([[1, 2]]).float(),
    lambda t: t.tensor([1.5, 2.5]).long(), lambda t: t.tensor([1.5]).double(),
    lambda t: t.tensor([0.0, 2.0]).bool(), lambda t: t.tensor([1, 2]).type(t.float),
])
def test_factories_and_conversions_give_pytorchs_values_and_dtypes(make):
    torch = _torch()
    got, want = make(cr), make(torch)
    assert got.shape == tuple(want.shape)
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_dtype_names_and_type_strings():
    assert cr.float is np.float32 and cr.double is np.float64 and cr.long is np.int64
    x = cr.tensor([1.0])
    assert x.dtype == cr.float32 and x.type() == "torch.FloatTensor"
    assert x.type("torch.DoubleTensor").dtype == np.float64
    assert x.to(cr.float64).dtype == np.float64 and x.to("cpu") is x
    assert x.to(cr.tensor([1], dtype=cr.int32)).dtype == np.int32


def test_the_cpu_is_the_only_device():
    assert not cr.cuda.is_available() and cr.cuda.device_count() == 0
    assert not cr.backends.mps.is_available() and not cr.accelerator.is_available()
    assert cr.accelerator.current_accelerator() is None
    assert cr.device("cpu") == "cpu" and str(cr.device("cuda:1")) == "cuda:1"
    assert cr.ones(2, device="cpu").device == cr.device("cpu")
    model = cr.nn.Linear(2, 1)
    assert model.to("cpu") is model and model.to(cr.device("cpu")).cpu() is model
    cr.cuda.manual_seed(0)  # nothing to seed, as PyTorch without a GPU
    for attempt in (lambda: cr.zeros(2, device="cuda"), lambda: cr.ones(1).to("cuda"),
                    lambda: cr.ones(1).cuda(), lambda: model.to("mps"),
                    lambda: cr.tensor([1.0], device=cr.device("cuda", 0)),
                    lambda: cr.set_default_device("cuda")):
        with pytest.raises(cr.engine.DeviceError, match="CPU with NumPy only.*PyTorch"):
            attempt()


def test_unknown_pytorch_names_say_they_are_not_supported():
    with pytest.raises(AttributeError, match="compile.*not support it yet"):
        cr.compile  # noqa: B018
    with pytest.raises(AttributeError, match="LSTM.*not support it yet"):
        cr.nn.LSTM  # noqa: B018
    with pytest.raises(AttributeError, match="LBFGS.*not support it yet"):
        cr.optim.LBFGS  # noqa: B018


# ---- PyTorch's reductions and shapes --------------------------------------------------------
X = np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]], dtype=np.float32)


@requires_torch
@pytest.mark.parametrize("fn", [
    lambda t, x: x.sum(dim=1, keepdim=True), lambda t, x: t.sum(x, 0),
    lambda t, x: x.mean(dim=(0, 1)), lambda t, x: x.var(), lambda t, x: x.var(1),
    lambda t, x: x.std(dim=0, unbiased=False), lambda t, x: t.var(x, 1, correction=0),
    lambda t, x: x.prod(), lambda t, x: x.prod(1, keepdim=True), lambda t, x: t.cumsum(x, 1),
    lambda t, x: x.norm(), lambda t, x: x.flip(0), lambda t, x: t.flip(x, (0, 1)),
    lambda t, x: x.transpose(0, 1), lambda t, x: t.transpose(x, 1, 0), lambda t, x: x.t(),
    lambda t, x: x.permute(1, 0), lambda t, x: x.view(3, 2), lambda t, x: x.view(-1),
    lambda t, x: x.reshape(1, 6).view_as(x), lambda t, x: t.flatten(x[None], 1),
    lambda t, x: x.unsqueeze(0).squeeze(0), lambda t, x: t.cat([x, x], dim=1),
    lambda t, x: t.stack([x, x], 2), lambda t, x: t.clamp(x, min=2.0, max=5.0),
    lambda t, x: x.clamp(max=3.0), lambda t, x: t.log1p(x), lambda t, x: t.cosh(x / 4),
    lambda t, x: t.sinh(x / 4), lambda t, x: t.outer(x[0], x[1]), lambda t, x: x.pow(2),
    lambda t, x: t.matmul(input=x, other=x.t()), lambda t, x: t.where(x > 2, x, -x),
    lambda t, x: x.max(), lambda t, x: t.max(x, x.flip(1)), lambda t, x: x.expand(2, 2, 3),
    lambda t, x: x.logsumexp(dim=1), lambda t, x: x.softmax(dim=0),
    lambda t, x: x.log_softmax(1), lambda t, x: x.masked_fill(x > 3, 0.0),
])
def test_functions_match_torch_in_value_and_gradient(fn):
    torch = _torch()
    a = cr.tensor(X, requires_grad=True)
    b = torch.tensor(X, requires_grad=True)
    got, want = fn(cr, a), fn(torch, b)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = np.random.default_rng(0).standard_normal(tuple(want.shape)).astype(np.float32)
    got.backward(cr.tensor(g))
    want.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)


@requires_torch
def test_prod_with_zeros_has_pytorchs_gradient():
    torch = _torch()
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0]], dtype=np.float64)
    a, b = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a.prod(1).sum().backward()
    b.prod(1).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


@requires_torch
def test_max_and_argmax_along_a_dim_give_values_and_indices():
    torch = _torch()
    a, b = cr.tensor(X), torch.tensor(X)
    for dim, keep in ((0, False), (1, True), (-1, False)):
        got, want = a.max(dim, keep), b.max(dim, keep)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
        values, indices = cr.min(a, dim=dim, keepdim=keep)
        np.testing.assert_array_equal(indices.numpy(), torch.min(b, dim, keep).indices.numpy())
        np.testing.assert_array_equal(a.argmax(dim, keep).numpy(), b.argmax(dim, keep).numpy())
    assert a.argmax().item() == b.argmax().item() and a.argmax().dtype == np.int64
    assert a.max(axis=1).shape == (2,)  # NumPy's spelling gives the values, as NumPy


def test_comparisons_are_bool_tensors_the_tutorials_count_with():
    pred = cr.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    y = cr.tensor([1, 0, 0])
    assert (pred.argmax(1) == y).type(cr.float).sum().item() == 2.0
    assert pred.argmax(dim=1, keepdim=True).eq(y.view(-1, 1)).sum().item() == 2
    assert isinstance(pred > 0.5, cr.Tensor) and (pred > 0.5).dtype == np.bool_
    assert f"{pred.sum():.2f}" == "3.00"
    assert ["a", "b"][cr.tensor(1)] == "b"


# ---- grad_fn, .data, backward ------------------------------------------------------------
@requires_torch
def test_grad_fn_names_and_next_functions_follow_pytorch():
    torch = _torch()
    for lib in (cr, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([[0.5, -1.0]], requires_grad=True)
        b = lib.tensor([0.1], requires_grad=True)
        y = lib.nn.functional.linear(x[None], w, b)
        z = (y * 2).sum()
        addmm = z.grad_fn.next_functions[0][0].next_functions[0][0]
        names = [z.grad_fn.name(), z.grad_fn.next_functions[0][0].name(), addmm.name(),
                 addmm.next_functions[0][0].name()]
        assert addmm.next_functions[0][0].variable is b
        if lib is cr:
            cr_names = names
        else:
            assert cr_names == names
        assert x.grad_fn is None and (x * 2).grad_fn.next_functions[1] == (None, 0)


def test_data_is_a_detached_tensor_sharing_memory():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    before = w.numpy()
    w.data -= 0.5 * w.grad.data
    assert w.numpy() is before and w.numpy().tolist() == [0.0, 0.0]
    assert w.data.requires_grad is False and w.data.grad_fn is None
    w.data.normal_(0, 0.02)
    assert np.all(np.abs(w.numpy()) < 1)
    w.data.copy_(cr.tensor([3.0, 4.0]))
    assert w.numpy().tolist() == [3.0, 4.0] and w._version == 0  # not tracked, as PyTorch
    w.data = cr.tensor([5.0])
    assert w.shape == (1,) and w.requires_grad


def test_backward_with_gradient_and_retain_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h ** 2).backward(gradient=cr.tensor([1.0, 0.5]))
    assert h.grad.numpy().tolist() == [6.0, 6.0] and x.grad.numpy().tolist() == [18.0, 18.0]
    y = (x * x).sum()
    y.backward(inputs=[x])
    assert x.grad.numpy().tolist() == [20.0, 22.0]


# ---- autograd.Function --------------------------------------------------------------------
class Cube(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x ** 3 * scale

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return g * 3 * x ** 2 * ctx.scale, None


def test_custom_function_first_and_second_order():
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn.name() == "CubeBackward"
    (g,) = cr.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [6.0, 24.0])
    g.sum().backward()  # the backward was written with differentiable ops: d/dx 6x^2
    np.testing.assert_allclose(x.grad.numpy(), [12.0, -24.0])
    with cr.no_grad():
        assert Cube.apply(x, 1.0).grad_fn is None


def test_custom_function_errors_name_the_function():
    class Bad(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g
    a = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Bad.backward returned 1 gradient.*took 2"):
        Bad.apply(a, a).sum().backward()


# ---- the functional API and NumPy -----------------------------------------------------------
def test_grad_takes_pytrees_and_returns_the_same_structure():
    def loss(params, x):
        return ((x @ params["w"] + params["b"][0]) ** 2).sum()
    params = {"w": np.ones((2, 1)), "b": [np.zeros(1)]}
    x = np.array([[1.0, 2.0]])
    g = cr.grad(loss)(params, x)
    assert set(g) == {"w", "b"} and isinstance(g["b"], list)
    np.testing.assert_allclose(g["w"].numpy(), [[6.0], [12.0]])
    np.testing.assert_allclose(g["b"][0].numpy(), [6.0])
    value, (gw, gb) = cr.value_and_grad(lambda w, b: (w[0] * w[1]).sum() * b[0].sum(),
                                        argnums=(0, 1))((np.ones(2), np.full(2, 3.0)),
                                                        [np.ones(1)])
    assert value.item() == 6.0 and isinstance(gw, tuple) and isinstance(gb, list)
    np.testing.assert_allclose(gw[0].numpy(), [3.0, 3.0])
    out, pullback = cr.vjp(lambda ws: ws[0] * ws[1], [np.ones(2), np.full(2, 2.0)])
    (ct,) = pullback(np.ones(2))
    np.testing.assert_allclose(ct[0].numpy(), [2.0, 2.0])


def test_elementwise_grad_and_numpy_in_place_updates():
    d = cr.elementwise_grad(cr.tanh)(np.array([0.0, 1.0]))
    np.testing.assert_allclose(d.numpy(), 1 - np.tanh([0.0, 1.0]) ** 2, rtol=1e-6)
    w = np.ones(2)
    array = w
    w -= 0.5 * cr.grad(lambda v: (v * v).sum())(w)  # HIPS autograd's training loop
    assert w is array and w.tolist() == [0.0, 0.0]
    assert isinstance(np.ones(2) * cr.tensor([1.0, 2.0]), cr.Tensor)
    assert isinstance(np.exp(cr.tensor([0.0])), cr.Tensor)
    with pytest.raises(TypeError, match="numpy.arctan.*not differentiable"):
        np.arctan(cr.tensor([1.0], requires_grad=True))


# ---- serialization -------------------------------------------------------------------------
def test_save_and_load_state_dicts_with_pytorchs_arguments(tmp_path):
    model = cr.nn.Linear(3, 2)
    cr.save(model.state_dict(), tmp_path / "m.pt")
    other = cr.nn.Linear(3, 2)
    other.load_state_dict(cr.load(tmp_path / "m.pt", weights_only=True, map_location="cpu"))
    np.testing.assert_array_equal(other.weight.numpy(), model.weight.numpy())
    with pytest.raises(ValueError, match="state dict.*never pickles"):
        cr.save(model, tmp_path / "whole.pt")
    with pytest.raises(cr.engine.DeviceError):
        cr.load(tmp_path / "m.pt", map_location="cuda:0")


def test_jvp_takes_pytrees_and_tensor_types():
    out, tangent = cr.jvp(lambda p: (p["a"] * p["b"][0]).sum(),
                          ({"a": np.ones(2), "b": [np.full(2, 3.0)]},),
                          ({"a": np.ones(2), "b": [np.ones(2)]},))
    assert out.item() == 6.0 and tangent.item() == 8.0
    with pytest.raises(ValueError, match="tangent must have its primal's structure"):
        cr.jvp(lambda p: p[0], ([np.ones(1), np.ones(1)],), ([np.ones(1)],))
    assert cr.tensor([1, 2]).type(cr.FloatTensor).dtype == np.float32
    assert cr.LongTensor([1.5]).dtype == np.int64
    assert cr.nn.ReLU(inplace=True)(cr.tensor([-1.0, 1.0])).tolist() == [0.0, 1.0]


def test_generators_make_splits_shuffles_and_draws_repeatable():
    data = cr.utils.data.TensorDataset(cr.arange(10))
    splits = [cr.utils.data.random_split(data, [7, 3], generator=cr.Generator().manual_seed(4))
              for _ in range(2)]
    assert [int(s[0]) for s in splits[0][0]] == [int(s[0]) for s in splits[1][0]]
    draws = [cr.randn(3, generator=cr.Generator().manual_seed(0)).tolist() for _ in range(2)]
    assert draws[0] == draws[1]
    with pytest.raises(RuntimeError, match="CPU with NumPy only"):
        cr.Generator(device="cuda")


def test_grad_modes_as_pytorch_sets_them():
    cr.set_grad_enabled(False)  # called alone, it sets the mode
    try:
        assert not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)
    assert cr.is_grad_enabled()
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()

    @cr.no_grad()
    def inside():
        return cr.is_grad_enabled()
    assert inside() is False and cr.is_grad_enabled()
    with cr.inference_mode():
        assert not (cr.ones(1, requires_grad=True) * 2).requires_grad
    assert cr.is_grad_enabled()
