"""The tutorial's full MNIST run, chainrule's book layers against PyTorch CPU, in one process.

TwoLayerNet 784-100-10 in float32, batch 100, SGD lr 0.1, 10000 iterations, and once per
epoch the accuracy on all 60000 training and 10000 test images, as the tutorial does. Both
runs start from the same weights and see the same random batches. Also prints a floor: the
time the run's matrix products alone take at the GEMM speed measured here, in this process.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

INPUT, HIDDEN, OUTPUT = 784, 100, 10


def _epochs(iters: int, train_size: int, batch: int) -> list[int]:
    """The iterations at which the tutorial evaluates (i % iter_per_epoch == 0)."""
    per_epoch = max(train_size // batch, 1)
    return [i for i in range(iters) if i % per_epoch == 0]


def run_chainrule(data, batches, lr: float, seed: int) -> tuple[float, float]:
    """The tutorial's loop on chainrule.models.TwoLayerNet; returns (seconds, last test acc)."""
    from chainrule.models import TwoLayerNet

    (x_train, t_train), (x_test, t_test) = data
    net = TwoLayerNet(INPUT, HIDDEN, OUTPUT, dtype=np.float32, seed=seed)
    evaluate = set(_epochs(len(batches), len(x_train), batches.shape[1]))
    test_acc = float("nan")
    start = time.perf_counter()
    for i, batch in enumerate(batches):
        grad = net.gradient(x_train[batch], t_train[batch])
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= lr * grad[key]
        if i in evaluate:
            net.accuracy(x_train, t_train)
            test_acc = net.accuracy(x_test, t_test)
    return time.perf_counter() - start, test_acc


def run_torch(data, batches, lr: float, seed: int) -> tuple[float, float]:
    """The same network, batches and updates written as usual in PyTorch."""
    import torch
    from chainrule.models import TwoLayerNet

    (x_train, t_train), (x_test, t_test) = [
        (torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))) for x, t in data]
    start_weights = TwoLayerNet(INPUT, HIDDEN, OUTPUT, dtype=np.float32, seed=seed).params
    model = torch.nn.Sequential(torch.nn.Linear(INPUT, HIDDEN), torch.nn.ReLU(),
                                torch.nn.Linear(HIDDEN, OUTPUT))
    with torch.no_grad():  # the same start as chainrule (torch keeps weight as (out, in))
        for layer, i in ((model[0], 1), (model[2], 2)):
            layer.weight.copy_(torch.from_numpy(start_weights[f"W{i}"].T.copy()))
            layer.bias.copy_(torch.from_numpy(start_weights[f"b{i}"]))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = torch.from_numpy(batches)
    evaluate = set(_epochs(len(batches), len(x_train), batches.shape[1]))

    def accuracy(x, t):
        with torch.no_grad():
            return (model(x).argmax(dim=1) == t).float().mean().item()

    test_acc = float("nan")
    start = time.perf_counter()
    for i, batch in enumerate(batches):
        optimizer.zero_grad()
        loss_fn(model(x_train[batch]), t_train[batch]).backward()
        optimizer.step()
        if i in evaluate:
            accuracy(x_train, t_train)
            test_acc = accuracy(x_test, t_test)
    return time.perf_counter() - start, test_acc


def _seconds_per_matmul(a_shape: tuple, b_shape: tuple, transpose_a: bool = False,
                        repeats: int = 5) -> float:
    """Best time of one float32 np.matmul at these shapes (a given as a transposed view if asked)."""
    rng = np.random.default_rng(0)
    a = rng.random(a_shape[::-1] if transpose_a else a_shape, dtype=np.float32)
    a = a.T if transpose_a else a
    b = rng.random(b_shape, dtype=np.float32)
    out = np.empty((a_shape[0], b_shape[1]), np.float32)
    calls = max(1, int(2e8 / (2 * a_shape[0] * a_shape[1] * b_shape[1])))  # ~0.2 GFLOP a go
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            np.matmul(a, b, out=out)
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def gemm_floor(iters: int, batch: int, evaluations: int, train: int, test: int) -> tuple[float, float]:
    """(seconds, GFLOP) of the run's needed matrix products at the GEMM speed measured here.

    Per iteration: x @ W1, h @ W2 (forward), h.T @ dy (dW2), dy @ W2.T (dx of layer 2),
    x.T @ dh (dW1); no dx for layer 1, whose input is data. Per evaluation: the forward of
    both layers on all train and test images, in one batch each.
    """
    products = [  # (count, a shape, b shape, a is a transposed view)
        (iters, (batch, INPUT), (INPUT, HIDDEN), False),
        (iters, (batch, HIDDEN), (HIDDEN, OUTPUT), False),
        (iters, (HIDDEN, batch), (batch, OUTPUT), True),
        (iters, (batch, OUTPUT), (OUTPUT, HIDDEN), False),
        (iters, (INPUT, batch), (batch, HIDDEN), True),
    ]
    for n in (train, test):
        products += [(evaluations, (n, INPUT), (INPUT, HIDDEN), False),
                     (evaluations, (n, HIDDEN), (HIDDEN, OUTPUT), False)]
    seconds = sum(count * _seconds_per_matmul(a, b, t) for count, a, b, t in products)
    flops = sum(count * 2 * a[0] * a[1] * b[1] for count, a, b, _ in products)
    return seconds, flops / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chainrule bench seed",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10_000, help="SGD iterations (10000)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-torch", action="store_true", help="time chainrule only")
    args = parser.parse_args(argv)

    from chainrule.datasets import load_mnist

    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True,
                                                      one_hot_label=False)
    data = ((np.ascontiguousarray(x_train, np.float32), t_train),
            (np.ascontiguousarray(x_test, np.float32), t_test))
    batches = np.random.default_rng(args.seed).integers(
        0, len(x_train), (args.iters, args.batch_size))
    evaluations = len(_epochs(args.iters, len(x_train), args.batch_size))
    print(f"TwoLayerNet {INPUT}-{HIDDEN}-{OUTPUT} float32, batch {args.batch_size}, SGD lr "
          f"{args.lr}, {args.iters} iterations, {evaluations} evaluations on "
          f"{len(x_train)} train + {len(x_test)} test images")

    floor, gflop = gemm_floor(args.iters, args.batch_size, evaluations, len(x_train), len(x_test))
    ours, ours_acc = run_chainrule(data, batches, args.lr, args.seed)
    print(f"  chainrule  {ours:7.2f} s   final test accuracy {ours_acc:.4f}")
    torch_time = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("  PyTorch is not installed (pip install torch==2.13.0): skipped")
        else:
            torch_time, torch_acc = run_torch(data, batches, args.lr, args.seed)
            print(f"  PyTorch    {torch_time:7.2f} s   final test accuracy {torch_acc:.4f}   "
                  f"({torch.get_num_threads()} threads)")
    print(f"  GEMM floor {floor:7.2f} s   ({gflop:.0f} GFLOP of needed matrix products at "
          f"{gflop / floor:.0f} GFLOP/s, np.matmul measured here)")
    if torch_time is not None:
        print(f"  ratio chainrule / PyTorch = {ours / torch_time:.2f}")
    print(f"  chainrule / floor = {ours / floor:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
