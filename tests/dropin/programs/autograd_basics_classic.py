# The autograd basics as the 60-minute blitz's older pages wrote them (y.data.norm(), ...)
import torch
x = torch.tensor([[1., 2.], [3., 4.]], requires_grad=True)
y = x ** 2 + 3 * x
out = y.mean()
out.backward()
print(x.grad)
v = torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float)
x2 = torch.randn(3, requires_grad=True)
y2 = x2 * 2
while y2.data.norm() < 1000:
    y2 = y2 * 2
y2.backward(v)
print(x2.grad)
print(x2.requires_grad, (x2 ** 2).requires_grad)
with torch.no_grad():
    print((x2 ** 2).requires_grad)
print(x2.detach().requires_grad, x2.eq(x2.detach()).all())
a = torch.ones(2, 2)
print(a.dtype, a.shape, a.size(), a.size(1), a.dim(), a.numel())
b = torch.zeros_like(a, dtype=torch.long)
print(b, torch.is_tensor(b), torch.numel(b))
c = torch.from_numpy(__import__("numpy").arange(4.0))
print(c, c.dtype)
print(torch.stack([a, a]).shape, torch.cat((a, a), dim=1).shape, a.T.shape)
print(a[:, 1], a[0, :].sum(), a.sum(0), a.mean(dim=1, keepdim=True))
e = torch.arange(12).reshape(3, 4)
print(e, e[e > 5], e.float().mean(), e.max(dim=0), e.argmax())
