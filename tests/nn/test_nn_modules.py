"""nn.Module machinery and the layers, checked against PyTorch and against closed forms."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle here: "
                            "pip install torch==2.13.0")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(2, 3)
        self.act = nn.Sigmoid()
        self.block = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))

    def forward(self, x):
        return self.block(self.act(self.layer1(x)))


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = torch.nn.Linear(2, 3)
        self.act = torch.nn.Sigmoid()
        self.block = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(),
                                         torch.nn.Linear(4, 1))

    def forward(self, x):
        return self.block(self.act(self.layer1(x)))


def copy_to_torch(model, tmodel):
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(model.state_dict().items(),
                                          tmodel.state_dict().items()):
            assert name == tname
            tp.copy_(torch.from_numpy(np.array(p.numpy())))


def test_names_and_structure_match_pytorch():
    model, tmodel = Net(), TorchNet()
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in tmodel.named_parameters()]
    assert [n for n, _ in model.named_modules()] == [n for n, _ in tmodel.named_modules()]
    assert [n for n, _ in model.named_children()] == ["layer1", "act", "block"]
    assert repr(model) == repr(tmodel).replace("TorchNet", "Net")
    assert all(p.dtype == np.float32 and p.requires_grad for p in model.parameters())
    assert isinstance(model.layer1.weight, nn.Parameter)
    assert model.layer1.weight.shape == (3, 2)
    assert len(model.block) == 3 and isinstance(model.block[1], nn.ReLU)
    assert [type(m).__name__ for m in model.block] == ["Linear", "ReLU", "Linear"]
    assert len(model.block[1:]) == 2


def test_shared_parameter_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2


def test_forward_backward_match_pytorch():
    model, tmodel = Net(), TorchNet()
    copy_to_torch(model, tmodel)
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    out = model(cr.tensor(x))
    tout = tmodel(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-6, atol=1e-6)
    out.sum().backward()
    tout.sum().backward()
    for (name, p), (_, tp) in zip(model.named_parameters(), tmodel.named_parameters()):
        assert p.grad.dtype == np.float32, name
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_linear_default_init_bounds_and_seed():
    cr.manual_seed(1)
    a = nn.Linear(400, 30)
    cr.manual_seed(1)
    b = nn.Linear(400, 30)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    bound = 1 / math.sqrt(400)
    for p in (a.weight, a.bias):
        assert np.abs(p.numpy()).max() <= bound
        assert np.abs(p.numpy()).max() > 0.9 * bound
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=np.float64).weight.dtype == np.float64
    assert list(dict(nn.Linear(3, 2, bias=False).named_parameters())) == ["weight"]


@pytest.mark.parametrize("name,kwargs", [("ReLU", {}), ("Sigmoid", {}), ("Tanh", {}),
                                         ("Softmax", {"dim": 1}), ("Softmax", {"dim": 0}),
                                         ("LogSoftmax", {"dim": 1}),
                                         ("Flatten", {}), ("Flatten", {"start_dim": 0}),
                                         ("Identity", {})])
def test_activation_values_and_grads(name, kwargs):
    x = np.random.default_rng(2).normal(size=(3, 4, 2)).astype(np.float32) * 3
    if name.endswith("Softmax"):
        x = x[:, :, 0]
    layer, tlayer = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    xt = cr.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out, tout = layer(xt), tlayer(tx)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-6, atol=1e-6)
    w = np.random.default_rng(3).normal(size=out.shape).astype(np.float32)
    (out * w).sum().backward()
    (tout * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert repr(layer) == repr(tlayer)


def test_zero_grad_train_eval():
    model = Net()
    model(cr.tensor([[1.0, 2.0]])).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.training and model.block[0].training
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_module_needs_init_first():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__"):
        Bad()


def test_state_dict_round_trip_and_in_place_load():
    a, b = Net(), Net()
    sd = a.state_dict()
    assert list(sd) == list(TorchNet().state_dict())
    w_before = b.layer1.weight
    array_before = b.layer1.weight.numpy()
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.layer1.weight is w_before and b.layer1.weight.numpy() is array_before
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    # arrays work as values too
    b.load_state_dict({k: np.zeros(v.shape, np.float32) for k, v in sd.items()})
    assert not b.layer1.weight.numpy().any()


def _snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def _unchanged(model, snap):
    return all(np.array_equal(v.numpy(), snap[k]) for k, v in model.state_dict().items())


def test_load_state_dict_shape_mismatch_changes_nothing():
    model = Net()
    snap = _snapshot(model)
    bad = {k: np.ones(v.shape, np.float32) for k, v in snap.items()}
    bad["block.2.weight"] = np.ones((2, 4), np.float32)  # last entry wrong: nothing may change
    with pytest.raises(nn.StateDictError, match=r"block\.2\.weight.*\(2, 4\).*\(1, 4\)"):
        model.load_state_dict(bad)
    assert _unchanged(model, snap)
    with pytest.raises(RuntimeError):  # PyTorch users catch RuntimeError
        model.load_state_dict(bad, strict=False)
    assert _unchanged(model, snap)


def test_load_state_dict_missing_and_unexpected_keys():
    model = Net()
    snap = _snapshot(model)
    sd = {k: np.ones(v.shape, np.float32) for k, v in snap.items()}
    del sd["layer1.bias"]
    sd["extra.weight"] = np.ones(3, np.float32)
    with pytest.raises(ValueError) as err:
        model.load_state_dict(sd)
    assert '"layer1.bias"' in str(err.value) and '"extra.weight"' in str(err.value)
    assert _unchanged(model, snap)
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["layer1.bias"] and result.unexpected_keys == ["extra.weight"]
    assert (model.layer1.weight.numpy() == 1).all()
    np.testing.assert_array_equal(model.layer1.bias.numpy(), snap["layer1.bias"])


def test_assigning_wrong_type_to_parameter_slot():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="weight"):
        lin.weight = np.zeros((2, 2))
    lin.weight = nn.Parameter(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert lin.weight.dtype == np.float32
    np.testing.assert_array_equal(lin(cr.tensor([[1.0, 0.0]])).numpy() - lin.bias.numpy(),
                                  [[1.0, 3.0]])


# ---- BatchNorm1d ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_matches_pytorch_train_and_eval(shape, momentum):
    rng = np.random.default_rng(4)
    bn, tbn = nn.BatchNorm1d(3, momentum=momentum), torch.nn.BatchNorm1d(3, momentum=momentum)
    w = rng.normal(size=3).astype(np.float32)
    bn.weight.numpy()[...] = w
    with torch.no_grad():
        tbn.weight.copy_(torch.from_numpy(w))
    for step in range(3):
        x = (rng.normal(size=shape) * 2 + step).astype(np.float32)
        xt, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, tout = bn(xt), tbn(tx)
        np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
        g = rng.normal(size=shape).astype(np.float32)
        (out * g).sum().backward()
        (tout * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(bn, name).numpy(), getattr(tbn, name).numpy(),
                                   rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked.numpy()) == int(tbn.num_batches_tracked) == 3
    np.testing.assert_allclose(bn.weight.grad.numpy(), tbn.weight.grad.numpy(), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(bn.bias.grad.numpy(), tbn.bias.grad.numpy(), rtol=1e-4,
                               atol=1e-5)
    bn.eval(), tbn.eval()
    x = rng.normal(size=shape).astype(np.float32)
    np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), tbn(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    assert list(bn.state_dict()) == list(tbn.state_dict())
    assert repr(bn) == repr(tbn)


def test_batchnorm_running_update_uses_unbiased_variance():
    bn = nn.BatchNorm1d(1, momentum=0.5)
    x = np.array([[1.0], [3.0]], np.float32)  # mean 2, biased var 1, unbiased var 2
    out = bn(cr.tensor(x))
    np.testing.assert_allclose(out.numpy()[:, 0], [-1 / math.sqrt(1 + 1e-5), 1 / math.sqrt(1 + 1e-5)],
                               rtol=1e-6)
    np.testing.assert_allclose(bn.running_mean.numpy(), [1.0])
    np.testing.assert_allclose(bn.running_var.numpy(), [0.5 * 1 + 0.5 * 2])
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(cr.tensor([[1.0]]))


def test_batchnorm_without_running_stats_uses_batch_stats_in_eval():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False).eval()
    x = np.array([[1.0, 5.0], [3.0, 7.0]], np.float32)
    np.testing.assert_allclose(bn(cr.tensor(x)).numpy(), [[-1, -1], [1, 1]], atol=1e-4)
    assert list(bn.parameters()) == [] and bn.state_dict() == {}


# ---- Dropout -------------------------------------------------------------------------------
def test_dropout_scaling_mask_gradient_and_eval_identity():
    cr.manual_seed(0)
    drop = nn.Dropout(p=0.25)
    x = cr.tensor(np.full((200, 50), 2.0, np.float32), requires_grad=True)
    out = drop(x)
    vals = np.unique(out.numpy())
    np.testing.assert_allclose(vals, [0.0, 2.0 / 0.75], rtol=1e-6)
    assert out.dtype == np.float32
    frac = (out.numpy() == 0).mean()
    assert 0.22 < frac < 0.28
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (out.numpy() != 0) / 0.75, rtol=1e-6)
    drop.eval()
    assert drop(x) is x
    cr.manual_seed(0)
    again = nn.Dropout(p=0.25)(x)
    np.testing.assert_array_equal(again.numpy(), out.numpy())
    assert not nn.Dropout(p=1.0)(x).numpy().any()
    assert nn.Dropout(p=0.0)(x) is x
    with pytest.raises(ValueError):
        nn.Dropout(p=1.5)


# ---- init ----------------------------------------------------------------------------------
def test_init_functions():
    rng = np.random.default_rng(0)
    w = nn.Parameter(np.empty((300, 200), np.float32))
    nn.init.xavier_uniform_(w, generator=rng)
    a = math.sqrt(6 / 500)
    assert np.abs(w.numpy()).max() <= a and np.abs(w.numpy()).max() > 0.95 * a
    nn.init.xavier_normal_(w, gain=2.0, generator=rng)
    assert abs(w.numpy().std() - 2 * math.sqrt(2 / 500)) < 0.01 * 2 * math.sqrt(2 / 500) * 5
    nn.init.kaiming_normal_(w, nonlinearity="relu", generator=rng)
    assert abs(w.numpy().std() / math.sqrt(2 / 200) - 1) < 0.02
    nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=rng)
    assert np.abs(w.numpy()).max() <= 1 / math.sqrt(200)
    nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu", generator=rng)
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 300)
    nn.init.uniform_(w, -0.5, 0.25, generator=rng)
    assert w.numpy().min() >= -0.5 and w.numpy().max() <= 0.25
    nn.init.normal_(w, 3.0, 0.1, generator=rng)
    assert abs(w.numpy().mean() - 3.0) < 0.01
    assert nn.init.constant_(w, 0.5) is w and (w.numpy() == 0.5).all()
    nn.init.zeros_(w)
    assert not w.numpy().any()
    nn.init.ones_(w)
    assert (w.numpy() == 1).all() and w.dtype == np.float32
    assert nn.init.calculate_gain("tanh") == pytest.approx(torch.nn.init.calculate_gain("tanh"))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2))
    with pytest.raises(ValueError, match="fewer than 2"):
        nn.init.xavier_uniform_(nn.Parameter(np.empty(3, np.float32)))


def test_dtype_mismatch_is_an_error_and_to_converts_in_place():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    x64 = np.ones((4, 3))
    with pytest.raises(TypeError, match="float64 does not match the weight dtype float32"):
        model(x64)
    weight = model[0].weight
    assert model.double() is model
    assert model[0].weight is weight and weight.dtype == np.float64
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    assert model(x64).dtype == np.float64
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())
