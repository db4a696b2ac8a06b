"""The tutorial's full MNIST run, chainrule's book layers against PyTorch CPU, in one process.

TwoLayerNet 784-100-10 in float32, batch 100, SGD lr 0.1, 10000 iterations, and once per
epoch the accuracy on all 60000 training and 10000 test images, as the tutorial does. Both
runs start from the same weights and see the same random batches. Also prints a floor: the
time the run's matrix products alone take at the GEMM speed measured here, in this process.
The two runs take turns epoch by epoch, so a busy shared machine slows both alike.

    python benchmarks/seed_workload.py [--iters N] [--no-torch]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import HIDDEN, INPUT, NO_TORCH, OUTPUT, epoch_starts, workload

PAUSE = 0.25  # seconds between turns, untimed: longer than OpenBLAS's idle spin


class ChainruleRun:
    """The tutorial's loop on chainrule.models.TwoLayerNet (float32)."""

    name = "chainrule"

    def __init__(self, data, lr: float, seed: int):
        from chainrule.models import TwoLayerNet

        (self.x_train, self.t_train), (self.x_test, self.t_test) = data
        self.net = TwoLayerNet(INPUT, HIDDEN, OUTPUT, dtype=np.float32, seed=seed)
        self.lr = lr

    def step(self, batch: np.ndarray) -> None:
        grad = self.net.gradient(self.x_train[batch], self.t_train[batch])
        for key in ("W1", "b1", "W2", "b2"):
            self.net.params[key] -= self.lr * grad[key]

    def evaluate(self) -> float:
        self.net.accuracy(self.x_train, self.t_train)
        return self.net.accuracy(self.x_test, self.t_test)


class TorchRun:
    """The same network, start, batches and updates, written as usual in PyTorch."""

    name = "PyTorch"

    def __init__(self, data, lr: float, seed: int):
        import torch
        from chainrule.models import TwoLayerNet

        self.torch = torch
        (self.x_train, self.t_train), (self.x_test, self.t_test) = [
            (torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))) for x, t in data]
        start = TwoLayerNet(INPUT, HIDDEN, OUTPUT, dtype=np.float32, seed=seed).params
        self.model = torch.nn.Sequential(torch.nn.Linear(INPUT, HIDDEN), torch.nn.ReLU(),
                                         torch.nn.Linear(HIDDEN, OUTPUT))
        with torch.no_grad():  # chainrule's start (torch keeps weight as (out, in))
            for layer, i in ((self.model[0], 1), (self.model[2], 2)):
                layer.weight.copy_(torch.from_numpy(start[f"W{i}"].T.copy()))
                layer.bias.copy_(torch.from_numpy(start[f"b{i}"]))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.loss_fn = torch.nn.CrossEntropyLoss()

    def step(self, batch: np.ndarray) -> None:
        batch = self.torch.from_numpy(batch)
        self.optimizer.zero_grad()
        self.loss_fn(self.model(self.x_train[batch]), self.t_train[batch]).backward()
        self.optimizer.step()

    def evaluate(self) -> float:
        with self.torch.no_grad():
            (self.model(self.x_train).argmax(dim=1) == self.t_train).float().mean().item()
            return (self.model(self.x_test).argmax(dim=1) == self.t_test).float().mean().item()


def run_interleaved(runs: list, batches: np.ndarray, evaluate_at: list[int]) -> list[tuple]:
    """Each run's total seconds and last test accuracy; the runs take turns epoch by epoch.

    Every run does the whole tutorial loop (a step per batch, an evaluation after the step of
    each epoch start); taking turns per epoch, in alternating order, spreads the load of a
    shared machine evenly over the runs instead of favouring whichever ran in a quiet minute.
    Before each turn an untimed pause lets the previous run's idle worker threads stop
    spinning (OpenBLAS's spin for about 0.1 s after a call and would slow the next run).
    """
    seconds, accuracy = [0.0] * len(runs), [float("nan")] * len(runs)
    bounds = [*evaluate_at[1:], len(batches)]
    for epoch, (begin, end) in enumerate(zip([0, *bounds[:-1]], bounds)):
        order = range(len(runs)) if epoch % 2 == 0 else reversed(range(len(runs)))
        for r in order:
            time.sleep(PAUSE)
            start = time.perf_counter()
            for i in range(begin, end):
                runs[r].step(batches[i])
                if i == begin and i in evaluate_at:
                    accuracy[r] = runs[r].evaluate()
            seconds[r] += time.perf_counter() - start
    return list(zip(seconds, accuracy))


def _seconds_per_matmul(a_shape: tuple, b_shape: tuple, transpose_a: bool = False,
                        repeats: int = 5) -> float:
    """Best time of one float32 np.matmul at these shapes (a as a transposed view if asked)."""
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


def gemm_floor(iters: int, batch: int, evaluations: int, train: int,
               test: int) -> tuple[float, float]:
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10_000, help="SGD iterations (10000)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-torch", action="store_true", help="time chainrule only")
    args = parser.parse_args(argv)

    data, batches = workload(args.iters, args.batch_size, args.seed)
    (x_train, _), (x_test, _) = data
    evaluate_at = epoch_starts(args.iters, len(x_train), args.batch_size)
    evaluations = len(evaluate_at)
    print(f"TwoLayerNet {INPUT}-{HIDDEN}-{OUTPUT} float32, batch {args.batch_size}, SGD lr "
          f"{args.lr}, {args.iters} iterations, {evaluations} evaluations on "
          f"{len(x_train)} train + {len(x_test)} test images")

    runs = [ChainruleRun(data, args.lr, args.seed)]
    if not args.no_torch:
        try:
            runs.append(TorchRun(data, args.lr, args.seed))
        except ImportError:
            print(f"  {NO_TORCH}: timing chainrule only")
    floor, gflop = gemm_floor(args.iters, args.batch_size, evaluations, len(x_train), len(x_test))
    results = run_interleaved(runs, batches, evaluate_at)
    for run, (seconds, accuracy) in zip(runs, results):
        threads = f"   ({run.torch.get_num_threads()} threads)" if run.name == "PyTorch" else ""
        print(f"  {run.name:<10} {seconds:7.2f} s   final test accuracy {accuracy:.4f}{threads}")
    print(f"  GEMM floor {floor:7.2f} s   ({gflop:.0f} GFLOP of needed matrix products at "
          f"{gflop / floor:.0f} GFLOP/s, np.matmul measured here)")
    ours = results[0][0]
    if len(runs) > 1:
        print(f"  ratio chainrule / PyTorch = {ours / results[1][0]:.2f}")
    print(f"  chainrule / floor = {ours / floor:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
