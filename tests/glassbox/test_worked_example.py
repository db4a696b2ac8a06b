"""The tutorials' 2-2-1 worked example: golden numbers (corrected where the tutorial is off)
and every number against PyTorch running the tutorial's code."""
import json

import numpy as np
import pytest

from chainrule.glassbox.worked_example import INITIAL, POSITIONS, TUTORIAL, worked_example


@pytest.fixture(scope="module")
def ex():
    return worked_example()


def r4(v):
    return round(v, 4)


def test_golden_forward_numbers(ex):
    f = ex.forward
    assert [r4(f[k]) for k in ("z1", "z2", "σ1", "σ2", "z3", "σ3")] == \
        [0.6478, 0.7225, 0.6565, 0.6732, -0.3415, 0.4154]
    assert f["L"] == pytest.approx(0.5368841905553, abs=1e-12)  # the tutorial's 0.5368 is 0.53688…
    assert r4(f["L"]) == 0.5369


def test_golden_updated_weights(ex):
    assert {k: r4(v) for k, v in ex.after.items()} == {
        "W5": -0.4452, "W6": -0.1668, "b3": -0.7197,  # tutorial: -0.1667, -0.7196 (rounding)
        "W1": 0.4514, "W2": 0.3707, "W3": 0.1848, "W4": 0.4732, "b1": -0.1257, "b2": 0.0336}
    off = {k for k in POSITIONS if r4(ex.after[k]) != TUTORIAL[k]}
    assert off == {"W6", "b3"}


def test_golden_local_derivatives_and_the_rounded_one(ex):
    assert r4(ex.local["∂L/∂σ3"]) == 1.7107
    assert r4(1 / (1 - r4(ex.forward["σ3"]))) == TUTORIAL["∂L/∂σ3"] == 1.7106
    assert r4(ex.local["∂σ3/∂z3"]) == 0.2428


def test_every_number_matches_pytorch_running_the_tutorial_code(ex):
    torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle: pip install torch==2.13.0")
    l1 = torch.nn.Linear(2, 2).double()
    l2 = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        l1.weight.copy_(torch.tensor(INITIAL["layer1.weight"]))
        l1.bias.copy_(torch.tensor(INITIAL["layer1.bias"]))
        l2.weight.copy_(torch.tensor(INITIAL["layer2.weight"]))
        l2.bias.copy_(torch.tensor(INITIAL["layer2.bias"]))
    model = torch.nn.Sequential(l1, torch.nn.Sigmoid(), l2, torch.nn.Sigmoid())
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[0.0]], dtype=torch.float64)
    z = l1(x)
    h = torch.sigmoid(z)
    z3 = l2(h)
    out = torch.sigmoid(z3)
    for t in (h, out):
        t.retain_grad()
    loss = torch.nn.BCELoss()(out, y)
    opt.zero_grad()
    loss.backward()
    params = {"layer1.weight": l1.weight, "layer1.bias": l1.bias,
              "layer2.weight": l2.weight, "layer2.bias": l2.bias}
    grads = {k: p.grad.clone() for k, p in params.items()}
    opt.step()

    tol = dict(abs=1e-6)
    f = ex.forward
    assert f["z1"] == pytest.approx(z[0, 0].item(), **tol)
    assert f["z2"] == pytest.approx(z[0, 1].item(), **tol)
    assert f["σ1"] == pytest.approx(h[0, 0].item(), **tol)
    assert f["σ2"] == pytest.approx(h[0, 1].item(), **tol)
    assert f["z3"] == pytest.approx(z3.item(), **tol)
    assert f["σ3"] == pytest.approx(out.item(), **tol)
    assert f["L"] == pytest.approx(loss.item(), **tol)
    assert ex.local["∂L/∂σ3"] == pytest.approx(out.grad.item(), **tol)
    assert ex.explanation.step("σ").upstream.ravel() == pytest.approx(h.grad.numpy().ravel(), **tol)
    for name, (key, idx, _) in POSITIONS.items():
        assert ex.grads[name] == pytest.approx(grads[key][idx].item(), **tol), name
        assert ex.after[name] == pytest.approx(params[key][idx].item(), **tol), name


def test_chain_rule_products_are_the_gradients(ex):
    for w in ex.explanation.wrt:
        for idx, chains in w.chains.items():
            assert sum(c.product for c in chains) == pytest.approx(
                float(np.asarray(w.gradient).ravel()[idx]), rel=1e-12)
    (w5,) = ex.explanation.wrt[0].chains[0]
    assert w5.labels == ["L", "σ3", "z3", "W5"]
    assert [r4(v) for v in w5.factors] == [1.7107, 0.2428, 0.6565]


def test_derivation_text(ex):
    text = str(ex)
    for line in (
        "σ3 = σ(z3) = 0.4154",
        "= −ln(1 − σ3) = 0.5369   (exactly 0.5368841906…)",
        "∂L/∂W5 = ∂L/∂σ3 · ∂σ3/∂z3 · ∂z3/∂W5 = 1.7107 × 0.2428 × 0.6565 = 0.2727",
        "∂L/∂W1 = ∂L/∂σ3 · ∂σ3/∂z3 · ∂z3/∂σ1 · ∂σ1/∂z1 · ∂z1/∂W1",
        "= 1.7107 × 0.2428 × (-0.1725) × 0.2255 × 1.0000",
        "1/(1 − 0.4154) = 1.7106",
        "  δ3 = ∂L/∂z3 = ∂L/∂σ3 · ∂σ3/∂z3 = 1.7107 × 0.2428 = 0.4154",
        "  δ1 = ∂L/∂z1 = δ3 · ∂z3/∂σ1 · ∂σ1/∂z1 = 0.4154 × (-0.1725) × 0.2255 = -0.0162",
        "  ∂L/∂W6 = δ3 · σ2 = 0.4154 × 0.6732 = 0.2797",
        "  ∂L/∂W4 = δ2 · x2 = 0.0103 × 1.0000 = 0.0103",
    ):
        assert line in text, line
    # the five-factor product is written once (for W1), not once per first-layer weight
    assert text.count("= 1.7107 × 0.2428 × (-0.1725) × 0.2255 × 1.0000") == 1
    assert sum(line.startswith("  δ") for line in text.splitlines()) == 3
    assert "W6      0.1129   0.2797  -0.1668   -0.1667  4th decimal off" in text
    assert "W5     -0.1725   0.2727  -0.4452   -0.4452  matches" in text


def test_json_has_full_precision(ex):
    data = json.loads(ex.to_json())
    assert data["forward"]["L"] == ex.forward["L"]
    assert data["tutorial"]["L"] == 0.5368


def test_learning_rate_is_honoured():
    half = worked_example(lr=0.5)
    assert half.after["W5"] == pytest.approx(-0.1725 - 0.5 * half.grads["W5"])
