"""The tutorial's MNIST run: TwoLayerNet 784-100-10, batch 100, SGD lr 0.1.

    python examples/train_two_layer.py [iterations]     (default 10000, about 17 epochs)

Test accuracy reaches about 0.97. The tutorial's version stayed at 0.107 because its update
`params[key] = params[key] - lr * grad[key]` detached the layers from the new arrays; the
same line below works, because chainrule's `params` writes into the layers' arrays.
"""
import sys

import numpy as np

from chainrule.datasets import load_mnist
from chainrule.models import TwoLayerNet

iters_num = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
batch_size = 100
learning_rate = 0.1

(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
network = TwoLayerNet(input_size=784, hidden_size=100, output_size=10,
                      dtype=np.float32, seed=0)  # float32, like the data
rng = np.random.default_rng(0)

train_size = x_train.shape[0]
iter_per_epoch = max(train_size // batch_size, 1)

for i in range(iters_num):
    batch_mask = rng.choice(train_size, batch_size)
    x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]

    grad = network.gradient(x_batch, t_batch)
    for key in ("W1", "b1", "W2", "b2"):
        network.params[key] = network.params[key] - learning_rate * grad[key]

    if i % iter_per_epoch == 0:
        train_acc = network.accuracy(x_train, t_train)
        test_acc = network.accuracy(x_test, t_test)
        loss = network.loss(x_batch, t_batch)
        print(f"epoch {i // iter_per_epoch:2d}  iter {i:5d}  loss {loss:.4f}  "
              f"train acc {train_acc:.4f}  test acc {test_acc:.4f}")
