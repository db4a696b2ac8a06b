"""Optimizers: 25-step trajectories against PyTorch in float32, all-or-nothing steps,
state dict round trips, param groups."""
import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle here: "
                            "pip install torch==2.13.0")

rng = np.random.default_rng(0)
W0 = rng.normal(size=(4, 3)).astype(np.float32)
B0 = rng.normal(size=4).astype(np.float32)
X = rng.normal(size=(8, 3)).astype(np.float32)
Y = rng.normal(size=(8, 4)).astype(np.float32)

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1,
                     eps=1e-6)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True, eps=1e-6)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
]


def cr_loss(w, b):
    return (((cr.tensor(X) @ w.T + b).tanh() - cr.tensor(Y)) ** 2).mean()


def torch_loss(w, b):
    return (((torch.from_numpy(X) @ w.T + b).tanh() - torch.from_numpy(Y)) ** 2).mean()


def trajectory_cr(name, kwargs, steps=25):
    w, b = nn.Parameter(W0.copy()), nn.Parameter(B0.copy())
    opt = getattr(optim, name)([w, b], **kwargs)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        cr_loss(w, b).backward()
        opt.step()
        out.append((w.numpy().copy(), b.numpy().copy()))
    return out, (w, b, opt)


def trajectory_torch(name, kwargs, steps=25):
    w = torch.nn.Parameter(torch.from_numpy(W0.copy()))
    b = torch.nn.Parameter(torch.from_numpy(B0.copy()))
    opt = getattr(torch.optim, name)([w, b], **kwargs)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        torch_loss(w, b).backward()
        opt.step()
        out.append((w.detach().numpy().copy(), b.detach().numpy().copy()))
    return out


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_pytorch(name, kwargs):
    ours, (w, b, _) = trajectory_cr(name, kwargs)
    theirs = trajectory_torch(name, kwargs)
    for step, ((w1, b1), (w2, b2)) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(w1, w2, rtol=1e-5, atol=1e-5, err_msg=f"step {step + 1} W")
        np.testing.assert_allclose(b1, b2, rtol=1e-5, atol=1e-5, err_msg=f"step {step + 1} b")
    assert w.dtype == np.float32 and b.dtype == np.float32
    assert not np.allclose(ours[-1][0], W0)  # it did move


@pytest.mark.parametrize("name,kwargs", CASES[1::2], ids=[n for n, _ in CASES[1::2]])
def test_state_dict_round_trip_resumes_exactly(name, kwargs):
    straight, _ = trajectory_cr(name, kwargs, steps=10)
    _, (w, b, opt) = trajectory_cr(name, kwargs, steps=5)
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"] and sd["param_groups"][0]["params"] == [0, 1]
    w2, b2 = nn.Parameter(w.numpy().copy()), nn.Parameter(b.numpy().copy())
    opt2 = getattr(optim, name)([w2, b2], **{**kwargs, "lr": 123.0})
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    for _ in range(5):
        opt2.zero_grad()
        cr_loss(w2, b2).backward()
        opt2.step()
    np.testing.assert_array_equal(w2.numpy(), straight[-1][0])
    np.testing.assert_array_equal(b2.numpy(), straight[-1][1])


def test_state_names_follow_pytorch():
    _, (_, _, opt) = trajectory_cr("Adam", dict(lr=0.01, amsgrad=True), steps=2)
    assert sorted(opt.state_dict()["state"][0]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq",
                                                    "step"]
    _, (_, _, opt) = trajectory_cr("SGD", dict(lr=0.1, momentum=0.9), steps=1)
    assert list(opt.state_dict()["state"][1]) == ["momentum_buffer"]


def test_load_state_dict_mismatch_changes_nothing():
    _, (w, b, opt) = trajectory_cr("Adam", dict(lr=0.01), steps=3)
    sd = opt.state_dict()
    other = optim.Adam([nn.Parameter(np.zeros((4, 3), np.float32))], lr=0.5)
    with pytest.raises(ValueError, match="2 parameters"):
        other.load_state_dict(sd)
    assert other.state == {} and other.param_groups[0]["lr"] == 0.5
    wrong = optim.Adam([nn.Parameter(np.zeros((4, 3), np.float32)),
                        nn.Parameter(np.zeros(5, np.float32))], lr=0.5)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        wrong.load_state_dict(sd)
    assert wrong.state == {} and wrong.param_groups[0]["lr"] == 0.5


def test_failed_step_changes_nothing():
    w, b = nn.Parameter(W0.copy()), nn.Parameter(B0.copy())
    opt = optim.SGD([w, b], lr=0.1, momentum=0.9)
    w.grad = cr.tensor(np.ones((4, 3), np.float32))
    b.grad = cr.tensor(np.ones(3, np.float32))  # wrong shape: found after w was checked
    with pytest.raises(ValueError, match=r"shape \(3,\).*shape \(4,\)"):
        opt.step()
    np.testing.assert_array_equal(w.numpy(), W0)
    assert opt.state == {}
    b.grad = cr.tensor(np.ones(4, np.float32))
    opt.param_groups[0]["lr"] = float("nan")
    with pytest.raises(ValueError, match="lr"):
        opt.step()
    np.testing.assert_array_equal(w.numpy(), W0)
    np.testing.assert_array_equal(b.numpy(), B0)
    assert opt.state == {}


def test_step_skips_none_grads_and_never_writes_grads():
    w, b = nn.Parameter(W0.copy()), nn.Parameter(B0.copy())
    opt = optim.Adam([w, b], lr=0.1, weight_decay=0.1)
    shared = np.ones((4, 3), np.float32)
    w.grad = cr.tensor(shared)
    opt.step()
    np.testing.assert_array_equal(b.numpy(), B0)
    np.testing.assert_array_equal(shared, 1.0)
    assert w.dtype == np.float32 and not np.array_equal(w.numpy(), W0)
    opt.zero_grad()
    assert w.grad is None


def test_param_groups_match_pytorch():
    w, b = nn.Parameter(W0.copy()), nn.Parameter(B0.copy())
    opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5, "momentum": 0.5}], lr=0.1)
    tw = torch.nn.Parameter(torch.from_numpy(W0.copy()))
    tb = torch.nn.Parameter(torch.from_numpy(B0.copy()))
    topt = torch.optim.SGD([{"params": [tw]}, {"params": [tb], "lr": 0.5, "momentum": 0.5}],
                           lr=0.1)
    for _ in range(5):
        opt.zero_grad(), topt.zero_grad()
        cr_loss(w, b).backward()
        torch_loss(tw, tb).backward()
        opt.step(), topt.step()
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.numpy(), tb.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert opt.state_dict()["param_groups"][1]["params"] == [1]


def test_constructor_errors():
    w = nn.Parameter(W0.copy())
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(ValueError, match="more than one"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(TypeError, match="unknown"):
        optim.SGD([{"params": [w], "beta": 1}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
