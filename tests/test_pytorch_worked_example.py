"""examples/pytorch_worked_example.py gives every number PyTorch gives for the same code."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch 2.13.0 is the oracle here: "
                            "pip install torch==2.13.0")

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "pytorch_worked_example.py"


def load_example():
    spec = importlib.util.spec_from_file_location("pytorch_worked_example", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_torch():
    """The tutorial's code, in PyTorch."""
    from torch import nn, optim

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer1 = nn.Linear(2, 2)
            self.layer2 = nn.Linear(2, 1)
            self.sigmoid = nn.Sigmoid()

        def forward(self, x):
            x = self.sigmoid(self.layer1(x))
            x = self.sigmoid(self.layer2(x))
            return x

    model = Net()
    model.layer1.weight = nn.Parameter(torch.tensor([[0.4352, 0.3545], [0.1951, 0.4835]]))
    model.layer1.bias = nn.Parameter(torch.tensor([-0.1419, 0.0439]))
    model.layer2.weight = nn.Parameter(torch.tensor([[-0.1725, 0.1129]]))
    model.layer2.bias = nn.Parameter(torch.tensor([-0.3043]))
    criterion = nn.BCELoss()
    optimizer = optim.SGD(model.parameters(), lr=1)
    x = torch.tensor([[1.0, 1.0]])
    y = torch.tensor([[0.0]])
    before = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    z1 = model.layer1(x)
    h1 = model.sigmoid(z1)
    z2 = model.layer2(h1)
    output = model(x)
    loss = criterion(output, y)
    optimizer.zero_grad()
    loss.backward()
    grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    optimizer.step()
    after = {n: p.detach().numpy().copy() for n, p in model.named_parameters()}
    return {"z1": z1.detach().numpy(), "h1": h1.detach().numpy(), "z2": z2.detach().numpy(),
            "output": output.detach().numpy(), "loss": loss.item(), "grads": grads,
            "before": before, "after": after}


def test_every_number_equals_pytorch():
    ours, theirs = load_example().run(), run_torch()
    for key in ("z1", "h1", "z2", "output"):
        np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-6, err_msg=key)
    assert abs(ours["loss"] - theirs["loss"]) < 1e-6
    for table in ("grads", "before", "after"):
        assert list(ours[table]) == list(theirs[table])
        for name in ours[table]:
            assert ours[table][name].dtype == np.float32
            np.testing.assert_allclose(ours[table][name], theirs[table][name], rtol=0,
                                       atol=1e-6, err_msg=f"{table} {name}")


def test_the_tutorials_numbers():
    example = load_example()
    r = example.run()
    assert r["output"].item() == pytest.approx(0.4154, abs=5e-5)
    assert r["loss"] == pytest.approx(0.53688, abs=1e-5)
    # the tutorial's updated values, to its 4 decimals (two of its 4th decimals are off by
    # one or two because it rounded intermediates; PyTorch is the truth there)
    for short, (name, idx) in example.TUTORIAL_NAMES.items():
        assert r["after"][name][idx] == pytest.approx(example.TUTORIAL_UPDATED[short], abs=3e-4)


def test_script_prints_the_table():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "loss: 0.53688" in out
    assert "W5" in out and "-0.44523" in out
    assert out.count("tutorial's 4th decimal is off") == 2
