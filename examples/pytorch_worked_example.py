"""The tutorial's PyTorch worked example, with `import torch` changed to chainrule.

A 2-2-1 network with a sigmoid after each layer, BCELoss, one SGD step (lr=1) on
x=[[1, 1]], y=[[0]], starting from the weights PyTorch gave the tutorial. Prints the
forward values, the loss, every gradient and the weights before and after the step,
next to the tutorial's (4-decimal, partly mislabelled) numbers. PyTorch computes exactly
the numbers printed here (tests/test_pytorch_worked_example.py checks it to 1e-6).

    python examples/pytorch_worked_example.py
"""
import chainrule as cr
from chainrule import nn, optim


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


# the tutorial's names for the weights, and the updated values it printed
TUTORIAL_NAMES = {
    "W1": ("layer1.weight", (0, 0)), "W2": ("layer1.weight", (0, 1)),
    "W3": ("layer1.weight", (1, 0)), "W4": ("layer1.weight", (1, 1)),
    "b1": ("layer1.bias", (0,)), "b2": ("layer1.bias", (1,)),
    "W5": ("layer2.weight", (0, 0)), "W6": ("layer2.weight", (0, 1)),
    "b3": ("layer2.bias", (0,)),
}
TUTORIAL_UPDATED = {"W1": 0.4514, "W2": 0.3707, "W3": 0.1848, "W4": 0.4732, "b1": -0.1257,
                    "b2": 0.0336, "W5": -0.4452, "W6": -0.1667, "b3": -0.7196}


def run():
    """Build the network, do one SGD step, return every number the tutorial shows."""
    model = Net()
    model.layer1.weight = nn.Parameter(cr.tensor([[0.4352, 0.3545], [0.1951, 0.4835]]))
    model.layer1.bias = nn.Parameter(cr.tensor([-0.1419, 0.0439]))
    model.layer2.weight = nn.Parameter(cr.tensor([[-0.1725, 0.1129]]))
    model.layer2.bias = nn.Parameter(cr.tensor([-0.3043]))

    criterion = nn.BCELoss()
    optimizer = optim.SGD(model.parameters(), lr=1)

    x = cr.tensor([[1.0, 1.0]])
    y = cr.tensor([[0.0]])

    before = {name: p.numpy().copy() for name, p in model.named_parameters()}
    z1 = model.layer1(x)              # the same forward, step by step, for printing
    h1 = model.sigmoid(z1)
    z2 = model.layer2(h1)
    output = model(x)
    loss = criterion(output, y)

    optimizer.zero_grad()
    loss.backward()
    grads = {name: p.grad.numpy().copy() for name, p in model.named_parameters()}
    optimizer.step()
    after = {name: p.numpy().copy() for name, p in model.named_parameters()}
    return {"z1": z1.numpy(), "h1": h1.numpy(), "z2": z2.numpy(), "output": output.numpy(),
            "loss": loss.item(), "grads": grads, "before": before, "after": after}


def main():
    r = run()
    print(f"hidden pre-activation z1 = {r['z1'].ravel().tolist()}")
    print(f"hidden sigmoid       h1 = {r['h1'].ravel().tolist()}")
    print(f"output pre-activation z2 = {r['z2'].ravel().tolist()}")
    print(f"output: {r['output'].item():.8f}")
    print(f"loss: {r['loss']:.8f}   (tutorial: 0.5368)")
    print("gradients:")
    for name, g in r["grads"].items():
        print(f"  d loss / d {name:13s} = {g.tolist()}")
    print("one SGD step, lr = 1:")
    print(f"  {'':4s} {'parameter':18s} {'before':>10s} {'after':>12s} {'tutorial':>9s}")
    for short, (name, idx) in TUTORIAL_NAMES.items():
        before, after = r["before"][name][idx], r["after"][name][idx]
        flag = "" if round(after, 4) == TUTORIAL_UPDATED[short] else "  (tutorial's 4th decimal is off)"
        print(f"  {short:4s} {name + str(list(idx)):18s} {before:10.4f} {after:12.8f} "
              f"{TUTORIAL_UPDATED[short]:9.4f}{flag}")


if __name__ == "__main__":
    main()
