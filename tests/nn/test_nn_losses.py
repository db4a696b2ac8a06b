"""Losses against PyTorch (values, gradients, every reduction), on the hard inputs too,
and the fused primitives against float64 numerical gradients and forward mode."""
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle here: "
                            "pip install torch==2.13.0")

REDUCTIONS = ["mean", "sum", "none"]


def run_both(cr_loss, t_loss, inp, target, tol=1e-6):
    """Loss value and d(loss)/d(input) (weighted for 'none') from both libraries."""
    x = cr.tensor(inp, requires_grad=True)
    tx = torch.tensor(inp, requires_grad=True)
    tt = torch.from_numpy(np.asarray(target))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(divide="raise", over="raise", invalid="raise"):
            out = cr_loss(x, target)
            w = np.linspace(0.5, 1.5, out.numel()).reshape(out.shape).astype(out.dtype)
            (out * w).sum().backward()
    tout = t_loss(tx, tt)
    (tout * torch.from_numpy(w)).sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.isfinite(out.numpy()).all() and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=tol)
    return out


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse(reduction):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    run_both(nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction), a, b)


def test_mse_target_gets_gradient():
    a, b = cr.tensor([1.0, 2.0], requires_grad=True), cr.tensor([0.0, 4.0], requires_grad=True)
    F.mse_loss(a, b).backward()
    np.testing.assert_allclose(b.grad.numpy(), [-1.0, 2.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_including_exact_zero_and_one(reduction):
    p = np.array([[0.0, 1.0, 0.3], [1.0, 0.0, 0.999999], [1e-30, 0.5, 0.7]], np.float32)
    y = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.25, 0.0]], np.float32)
    out = run_both(nn.BCELoss(reduction=reduction), torch.nn.BCELoss(reduction=reduction), p, y,
                   tol=1e-5)
    if reduction == "none":
        assert out.numpy()[1, 0] == pytest.approx(100.0)  # log(1 - 1) clamped at -100


def test_bce_weight_and_bad_input():
    p = np.array([0.2, 0.9, 0.5], np.float32)
    y = np.array([0.0, 1.0, 1.0], np.float32)
    w = np.array([1.0, 2.0, 0.5], np.float32)
    run_both(nn.BCELoss(weight=w), torch.nn.BCELoss(weight=torch.from_numpy(w)), p, y)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(cr.tensor([1.5]), np.array([1.0], np.float32))
    with pytest.raises(ValueError, match="target shape"):
        F.binary_cross_entropy(cr.tensor([0.5, 0.5]), np.array([1.0], np.float32))
    with pytest.raises(ValueError, match="reduction"):
        nn.BCELoss(reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_extreme_logits(reduction):
    x = np.array([[1000.0, -1000.0, 0.0, 3.0], [-1000.0, 1000.0, -20.0, 40.0]], np.float32)
    y = np.array([[0.0, 1.0, 0.5, 1.0], [0.0, 1.0, 1.0, 0.0]], np.float32)
    out = run_both(nn.BCEWithLogitsLoss(reduction=reduction),
                   torch.nn.BCEWithLogitsLoss(reduction=reduction), x, y, tol=1e-5)
    if reduction == "none":
        assert out.numpy()[0, 0] == pytest.approx(1000.0)


def test_bce_with_logits_pos_weight_and_weight():
    x = np.array([[2.0, -1.0, 1000.0], [-1000.0, 0.5, -3.0]], np.float32)
    y = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.3]], np.float32)
    pw = np.array([3.0, 0.5, 2.0], np.float32)
    w = np.array([[1.0], [2.0]], np.float32)
    run_both(nn.BCEWithLogitsLoss(weight=w, pos_weight=pw),
             torch.nn.BCEWithLogitsLoss(weight=torch.from_numpy(w), pos_weight=torch.from_numpy(pw)),
             x, y, tol=1e-4)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_indices_extreme_logits(reduction):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [0.1, 0.2, 0.3], [1e4, 1e4, -1e4]],
                 np.float32)
    t = np.array([1, 1, 2, 0])
    out = run_both(nn.CrossEntropyLoss(reduction=reduction),
                   torch.nn.CrossEntropyLoss(reduction=reduction), x, t, tol=1e-4)
    if reduction == "none":
        assert out.numpy()[0] == pytest.approx(2e4)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities(reduction):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    t = rng.dirichlet(np.ones(4), size=5).astype(np.float32)
    run_both(nn.CrossEntropyLoss(reduction=reduction),
             torch.nn.CrossEntropyLoss(reduction=reduction), x, t)


def test_cross_entropy_spatial_and_label_smoothing():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    t = rng.integers(0, 3, size=(2, 4))
    run_both(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), x, t)
    x2 = rng.normal(size=(6, 5)).astype(np.float32)
    t2 = rng.integers(0, 5, size=6)
    run_both(nn.CrossEntropyLoss(label_smoothing=0.1),
             torch.nn.CrossEntropyLoss(label_smoothing=0.1), x2, t2)


def test_cross_entropy_keeps_float32_with_int64_targets():
    x = cr.tensor(np.zeros((3, 10), np.float32), requires_grad=True)
    loss = F.cross_entropy(x, np.array([1, 2, 3], dtype=np.int64))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize("fn", [
    lambda x: F.binary_cross_entropy(x.sigmoid(), np.array([[0.0, 1.0, 0.3]]), reduction="sum"),
    lambda x: F.binary_cross_entropy_with_logits(x, np.array([[0.0, 1.0, 0.3]]),
                                                 pos_weight=np.array([2.0, 1.0, 0.5])),
])
def test_fused_primitives_vs_numerical_gradient_float64(fn):
    x = np.array([[0.3, -1.2, 2.0]])
    analytic = cr.grad(fn)(x).numpy()
    numeric = cr.numerical_gradient(lambda a: fn(cr.tensor(a)).item(), x.copy())
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_fused_primitives_forward_mode_and_second_order():
    x = np.array([0.3, -1.2, 2.0])
    y = np.array([0.0, 1.0, 0.3])
    v = np.array([1.0, -2.0, 0.5])
    fns = [lambda z: F.binary_cross_entropy_with_logits(z, y),
           lambda z: F.binary_cross_entropy(z.sigmoid(), y)]
    for f in fns:
        _, tangent = cr.jvp(f, (x,), (v,))
        g = cr.grad(f)(x).numpy()
        np.testing.assert_allclose(tangent.numpy(), g @ v, rtol=1e-10)
    # d2/dx2 of mean BCE-with-logits = s(1-s)/n on the diagonal, as PyTorch says
    h = cr.hessian(fns[0])(x).numpy()
    tx = torch.tensor(x, requires_grad=True)
    th = torch.autograd.functional.hessian(
        lambda z: torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(y)), tx)
    np.testing.assert_allclose(h, th.numpy(), rtol=1e-10, atol=1e-12)


from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

_logits = hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                     elements=st.one_of(st.floats(-30, 30, width=32),
                                        st.sampled_from([-1e4, -1000.0, 0.0, 1000.0, 1e4])))


@settings(max_examples=40, deadline=None)
@given(x=_logits, data=st.data())
def test_logit_losses_match_pytorch_on_any_values(x, data):
    y = data.draw(hnp.arrays(np.float32, x.shape, elements=st.floats(0, 1, width=32)))
    run_both(nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), x, y, tol=1e-4)
    t = data.draw(hnp.arrays(np.int64, x.shape[:1], elements=st.integers(0, x.shape[1] - 1)))
    run_both(nn.CrossEntropyLoss(reduction="sum"), torch.nn.CrossEntropyLoss(reduction="sum"),
             x, t, tol=1e-3)
