"""The book's SimpleConvNet training step, chainrule's book face vs PyTorch CPU, each in its
own process with default threads, runs alternating:

    python benchmarks/convnet_epoch.py --rounds 3 --iters 60

Network: conv 30x5x5 (stride 1, pad 0) - ReLU - max-pool 2 - affine 100 - ReLU - affine 10,
softmax cross-entropy, Adam lr 0.001, batch 100, float32 MNIST. Prints seconds per
iteration for each run, the medians, the ratio of medians and the implied seconds per
epoch (600 iterations). `--lib chainrule|torch` times one library once (what the driver
runs in each subprocess).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np

from common import NO_TORCH, import_torch, workload

PER_EPOCH = 600


def time_chainrule(x, t, batches) -> float:
    from chainrule.book.optimizer import Adam
    from chainrule.book.simple_convnet import SimpleConvNet

    net = SimpleConvNet(dtype=np.float32, seed=0)
    opt = Adam(lr=0.001)
    images = x.reshape(-1, 1, 28, 28)
    start = time.perf_counter()
    for idx in batches:
        grads = net.gradient(images[idx], t[idx])
        opt.update(net.params, grads)
    return (time.perf_counter() - start) / len(batches)


def time_torch(x, t, batches) -> float:
    torch = import_torch()
    if torch is None:
        raise SystemExit(NO_TORCH)
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.from_numpy(x.reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(t.astype(np.int64))
    start = time.perf_counter()
    for idx in batches:
        idx = torch.from_numpy(idx)
        opt.zero_grad()
        loss_fn(net(images[idx]), labels[idx]).backward()
        opt.step()
    return (time.perf_counter() - start) / len(batches)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", choices=["chainrule", "torch"], help="time one library once")
    parser.add_argument("--iters", type=int, default=60, help="timed iterations per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per library")
    args = parser.parse_args(argv)
    if args.lib:
        (x, t), _ = workload(1, 1, 0)[0]
        batches = np.random.default_rng(1).integers(0, len(x), (args.iters + 5, 100))
        timer = time_chainrule if args.lib == "chainrule" else time_torch
        timer(x, t, batches[:5])  # warm-up: first-call allocations, thread pools
        print(f"{timer(x, t, batches[5:]):.6f}")
        return 0
    seconds = {"chainrule": [], "torch": []}
    for _ in range(args.rounds):
        for lib in seconds:
            out = subprocess.run([sys.executable, __file__, "--lib", lib, "--iters",
                                  str(args.iters)], capture_output=True, text=True, check=True)
            seconds[lib].append(float(out.stdout.split()[-1]))
    for lib, runs in seconds.items():
        med = statistics.median(runs)
        print(f"{lib:10s} s/iter {', '.join(f'{s:.4f}' for s in runs)}   median {med:.4f}"
              f"   = {med * PER_EPOCH:.1f} s per epoch")
    ratio = statistics.median(seconds["chainrule"]) / statistics.median(seconds["torch"])
    print(f"ratio chainrule / PyTorch (medians) = {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
