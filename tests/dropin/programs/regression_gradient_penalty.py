# A regression written the way third-party scripts are: init by model.apply, Adam with weight
# decay, ExponentialLR, and a gradient penalty through autograd.grad(create_graph=True)
import math
import torch
from torch import nn

def init_weights(m):
    if isinstance(m, nn.Linear):
        torch.nn.init.xavier_uniform_(m.weight)
        m.bias.data.fill_(0.01)

model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 16), nn.LeakyReLU(0.2),
                      nn.Dropout(0.1), nn.Linear(16, 1))
model.apply(init_weights)
opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=1e-4)
sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.95)
X = torch.linspace(-1, 1, 40).reshape(10, 4)
Y = (X ** 2).sum(dim=1, keepdim=True)
for epoch in range(30):
    model.train()
    opt.zero_grad(set_to_none=True)
    pred = model(X)
    loss = nn.functional.mse_loss(pred, Y)
    loss.backward()
    opt.step()
    sched.step()
    if epoch % 10 == 0:
        print(epoch, f"{loss.item():.6f}", sched.get_last_lr()[0])
model.eval()
xg = X.clone().requires_grad_(True)
out = model(xg).sum()
g, = torch.autograd.grad(out, xg, create_graph=True)
penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
penalty.backward()
print(penalty.item(), model[0].weight.grad.abs().sum().item())
print(torch.sigmoid(torch.tensor([0.0, 2.0])), torch.softmax(torch.tensor([1.0, 2.0, 3.0]), dim=0))
print(torch.where(X > 0, X, torch.zeros_like(X)).sum())
