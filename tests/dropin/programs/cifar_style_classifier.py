# Written like PyTorch's CIFAR-10 classifier tutorial (synthetic images): BatchNorm2d, pooling,
# momentum SGD, gradient clipping, a cosine schedule and the tutorial's accuracy count
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import TensorDataset, DataLoader
torch.manual_seed(0)
X = torch.randn(200, 3, 8, 8)
Y = torch.randint(0, 4, (200,))
ds = TensorDataset(X, Y)
train_set, val_set = torch.utils.data.Subset(ds, range(160)), torch.utils.data.Subset(ds, range(160, 200))
trainloader = DataLoader(train_set, batch_size=16, shuffle=False, num_workers=0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(6 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 4)
    def forward(self, x):
        x = self.pool(F.relu(self.bn(self.conv1(x))))
        x = x.view(-1, 6 * 4 * 4)
        x = F.relu(self.fc1(x))
        return self.fc2(x)
net = Net()
print(sum(p.numel() for p in net.parameters() if p.requires_grad))
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=3)
for epoch in range(2):
    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        inputs, labels = data
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=5.0)
        optimizer.step()
        running_loss += loss.item()
        if i % 5 == 4:
            print(f'[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 5:.3f}')
            running_loss = 0.0
    scheduler.step()
correct = 0
total = 0
net.eval()
with torch.no_grad():
    for data in DataLoader(val_set, batch_size=8):
        images, labels = data
        outputs = net(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
print(f'Accuracy: {100 * correct // total} %', total)
print(net.state_dict().keys())
