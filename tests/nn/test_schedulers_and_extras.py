"""Adadelta, the learning-rate schedulers, nll_loss, pooling, the data utilities and
Module.to against PyTorch."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import functional as F
from tests.conftest import requires_torch


def _torch():
    return pytest.importorskip("torch")


@requires_torch
@pytest.mark.parametrize("make", [
    lambda lib, o: lib.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.7),
    lambda lib, o: lib.optim.lr_scheduler.MultiStepLR(o, milestones=[1, 3, 3], gamma=0.5),
    lambda lib, o: lib.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
    lambda lib, o: lib.optim.lr_scheduler.CosineAnnealingLR(o, T_max=3, eta_min=0.01),
    lambda lib, o: lib.optim.lr_scheduler.LambdaLR(o, lambda epoch: 0.95 ** epoch),
])
def test_schedulers_set_pytorchs_rates(make):
    torch = _torch()
    rates = []
    for lib in (cr, torch):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        sched = make(lib, opt)
        seen = []
        for _ in range(9):
            opt.step()
            sched.step()
            seen.append(sched.get_last_lr()[0])
        rates.append(seen)
    np.testing.assert_allclose(rates[0], rates[1], rtol=1e-12)


@requires_torch
def test_reduce_on_plateau_follows_pytorch():
    torch = _torch()
    losses = [1.0, 0.9, 0.91, 0.92, 0.93, 0.5, 0.6, 0.61, 0.62, 0.63]
    rates = []
    for lib in (cr, torch):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.ones(1))], lr=1.0)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
        rates.append([(sched.step(v), opt.param_groups[0]["lr"])[1] for v in losses])
    assert rates[0] == rates[1]


@requires_torch
def test_adadelta_matches_pytorch():
    torch = _torch()
    rng = np.random.default_rng(0)
    w0, x = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((5, 4))
    results = []
    for lib in (cr, torch):
        w = lib.nn.Parameter(lib.tensor(w0))
        opt = lib.optim.Adadelta([w], lr=1.0, rho=0.8, weight_decay=0.01)
        for _ in range(5):
            opt.zero_grad()
            loss = ((lib.tensor(x.astype(np.float32)) @ w.t()) ** 2).mean()
            loss.backward()
            opt.step()
        results.append(w.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)


@requires_torch
@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"reduction": "none"},
                                    {"weight": [1.0, 2.0, 0.5]}, {"ignore_index": 1},
                                    {"weight": [1.0, 2.0, 0.5], "ignore_index": 0}])
def test_nll_loss_and_weighted_cross_entropy_match_pytorch(kwargs):
    torch = _torch()
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    t = np.array([0, 1, 2, 1])
    for name in ("nll_loss", "cross_entropy"):
        a, b = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        kw = {k: (torch.tensor(v) if k == "weight" else v) for k, v in kwargs.items()}
        got = getattr(F, name)(a.log_softmax(1) if name == "nll_loss" else a, cr.tensor(t),
                               **kwargs)
        want = getattr(torch.nn.functional, name)(
            b.log_softmax(1) if name == "nll_loss" else b, torch.tensor(t), **kw)
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-6, atol=1e-7)
        got.sum().backward()
        want.sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_nll_loss_refuses_out_of_range_targets():
    with pytest.raises(IndexError, match="nll_loss.*out of bounds for 3 classes"):
        F.nll_loss(cr.zeros(2, 3), cr.tensor([0, 3]))


@requires_torch
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_pooling_with_tuple_kernels_matches_pytorch(pool):
    torch = _torch()
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6)).astype(np.float32)
    a, b = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    got = getattr(F, pool)(a, (2, 2), stride=2, padding=1)
    want = getattr(torch.nn.functional, pool)(b, (2, 2), stride=2, padding=1)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-6)
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="only square values"):
        getattr(F, pool)(a, (2, 3))


def test_data_utilities():
    data = cr.utils.data.TensorDataset(cr.arange(10).float(), cr.arange(10))
    first, second = cr.utils.data.random_split(data, [0.7, 0.3])
    assert len(first) == 7 and len(second) == 3
    assert sorted(int(first[i][1]) for i in range(7)) + sorted(
        int(second[i][1]) for i in range(3)) != [] and len(
        {int(s[1]) for s in [first[i] for i in range(7)] + [second[i] for i in range(3)]}) == 10
    loader = cr.utils.data.DataLoader(data, batch_size=4, drop_last=True,
                                      collate_fn=lambda items: len(items))
    assert list(loader) == [4, 4]
    labels = cr.utils.data.DataLoader([(cr.ones(2), 3), (cr.zeros(2), 1)], batch_size=2)
    x, y = next(iter(labels))
    assert x.shape == (2, 2) and y.dtype == np.int64 and y.tolist() == [3, 1]


def test_module_to_dtype_and_device():
    model = cr.nn.Linear(2, 2)
    weight = model.weight
    assert model.to(cr.float64) is model and model.weight is weight
    assert model.weight.dtype == np.float64
    assert model.to("cpu", cr.float32).weight.dtype == np.float32


@requires_torch
@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.LeakyReLU(0.1), lambda lib: lib.nn.ELU(), lambda lib: lib.nn.SiLU(),
    lambda lib: lib.nn.Softplus(beta=2.0, threshold=1.0), lambda lib: lib.nn.LayerNorm(4),
    lambda lib: lib.nn.BatchNorm2d(3), lambda lib: lib.nn.AvgPool2d(2),
    lambda lib: lib.nn.AdaptiveAvgPool2d((1, 1)),
])
def test_more_layers_match_pytorch(make):
    torch = _torch()
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 4)).astype(np.float32)
    a, b = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    got, want = make(cr)(a), make(torch)(b)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    (got * got).sum().backward()
    (want * want).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("fn", [
    lambda t, x: t.gather(x, 1, t.tensor([[0, 0], [1, 0]])),
    lambda t, x: x.index_select(1, t.tensor([2, 0])),
    lambda t, x: t.cat(t.split(x, 2, dim=1)[::-1], 1), lambda t, x: t.cat(x.chunk(2, 0), 1),
    lambda t, x: x.repeat(2, 3), lambda t, x: x.sort(1, descending=True).values,
    lambda t, x: t.topk(x, 2).values, lambda t, x: t.mm(x, x.t()), lambda t, x: t.square(x),
    lambda t, x: t.nn.functional.l1_loss(x, x.flip(1)),
    lambda t, x: t.nn.functional.smooth_l1_loss(x, x * 0.3),
])
def test_more_functions_match_pytorch(fn):
    torch = _torch()
    x = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]], dtype=np.float32)
    a, b = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    got, want = fn(cr, a), fn(torch, b)
    np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-6)
    (got * got).sum().backward()
    (want * want).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)


@requires_torch
def test_clip_grad_norm_and_embedding_match_pytorch():
    torch = _torch()
    norms, grads = [], []
    for lib in (cr, torch):
        lib.manual_seed(0)
        emb = lib.nn.Embedding(5, 3)
        emb.weight.data.copy_(lib.tensor(np.arange(15.0, dtype=np.float32).reshape(5, 3)))
        (emb(lib.tensor([[0, 2], [2, 4]])) ** 2).sum().backward()
        norms.append(float(lib.nn.utils.clip_grad_norm_(emb.parameters(), 1.0)))
        grads.append(emb.weight.grad.numpy().copy())
    assert norms[0] == pytest.approx(norms[1], rel=1e-6)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5)
    assert np.isclose(np.linalg.norm(grads[0]), 1.0, rtol=1e-5)
