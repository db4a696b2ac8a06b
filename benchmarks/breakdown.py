"""Where chainrule's time goes in one training iteration, and the GEMM floor: measured in
this one process (in-process figures, chainrule only, its default threading policy).

    python benchmarks/breakdown.py --workload seed-book [--iters 300]

For the book face each layer's forward and backward is timed by wrapping it, plus the batch
gather and the parameter update; for the autograd face the phases of the user's loop
(batch gather, forward, loss, backward, optimizer step, zero_grad). The GEMM floor is the
time of the iteration's matrix products alone, as np.matmul at the same shapes in this
process; "chainrule / floor" says how far the iteration is from that physical limit.
Times are this process's CPU time by default (`--clock cpu`: the work done, which a shared
machine's other processes do not inflate as they do wall time; a kernel that chainrule
split over two idle cores counts both parts); `--clock wall` gives elapsed time, which is
what the split shortens. The floor is one core's: a split product's is about half of it.
"""
from __future__ import annotations

import argparse
import collections
import time

import numpy as np

from common import HIDDEN, INPUT, OUTPUT, workload

WORKLOADS = ("seed-book", "seed-autograd", "convnet-book", "convnet-autograd")
BATCH = 100
# (M, K, N) of each matrix product of one training iteration (float32, one BLAS thread)
PRODUCTS = {
    "seed": [(BATCH, INPUT, HIDDEN), (BATCH, HIDDEN, OUTPUT),        # forward
             (HIDDEN, BATCH, OUTPUT), (BATCH, OUTPUT, HIDDEN),       # dW2, dx of layer 2
             (INPUT, BATCH, HIDDEN)],                                # dW1 (no dx: data)
    "convnet": [(BATCH * 576, 25, 30), (30, BATCH * 576, 25), (BATCH * 576, 30, 25),  # conv
                (BATCH, 4320, 100), (4320, BATCH, 100), (BATCH, 100, 4320),       # affine 1
                (BATCH, 100, 10), (100, BATCH, 10), (BATCH, 10, 100)],            # affine 2
}


def gemm_seconds(m: int, k: int, n: int, repeats: int = 20) -> float:
    """Median seconds of one float32 (m, k) @ (k, n) np.matmul here."""
    rng = np.random.default_rng(0)
    a, b = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
    out = np.empty((m, n), np.float32)
    times = []
    for _ in range(repeats + 2):
        start = clock()
        np.matmul(a, b, out=out)
        times.append(clock() - start)
    return float(np.median(times[2:]))


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]


class Timer:
    """Accumulates seconds per label; `wrap` times every call of an object's method."""

    def __init__(self):
        self.seconds = collections.defaultdict(float)

    def wrap(self, obj, method: str, label: str) -> None:
        fn = getattr(obj, method)

        def timed(*args, **kwargs):
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += clock() - start
        setattr(obj, method, timed)

    def __call__(self, label: str, fn, *args):
        start = clock()
        result = fn(*args)
        self.seconds[label] += clock() - start
        return result


def book_step(name: str, timer: Timer, x, t):
    """A timed step of the book face: per layer, gather and update."""
    if name == "seed-book":
        from chainrule.models import TwoLayerNet
        net = TwoLayerNet(INPUT, HIDDEN, OUTPUT, dtype=np.float32, seed=0)

        def update(grads):
            for key in ("W1", "b1", "W2", "b2"):
                net.params[key] -= 0.1 * grads[key]
    else:
        from chainrule.book.optimizer import Adam
        from chainrule.book.simple_convnet import SimpleConvNet
        net, adam = SimpleConvNet(dtype=np.float32, seed=0), Adam(lr=0.001)
        x = x.reshape(-1, 1, 28, 28)

        def update(grads):
            adam.update(net.params, grads)
    last = getattr(net, "lastLayer", None) or net.last_layer
    for key, layer in [*net.layers.items(), ("SoftmaxWithLoss", last)]:
        timer.wrap(layer, "forward", f"{key} forward")
        timer.wrap(layer, "backward", f"{key} backward")

    def step(idx):
        xb, tb = timer("batch gather", lambda: (x[idx], t[idx]))
        grads = net.gradient(xb, tb)
        timer("parameter update", update, grads)
    return step


def autograd_step(name: str, timer: Timer, x, t):
    """A timed step of the autograd face, phase by phase, written as a PyTorch user does."""
    import chainrule as cr
    from chainrule import nn, optim
    cr.manual_seed(0)
    if name == "seed-autograd":
        model = nn.Sequential(nn.Linear(INPUT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUTPUT))
        opt = optim.SGD(model.parameters(), lr=0.1)
    else:
        model = nn.Sequential(nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(4320, 100), nn.ReLU(), nn.Linear(100, 10))
        opt = optim.Adam(model.parameters(), lr=0.001)
        x = x.reshape(-1, 1, 28, 28)
    loss_fn, X, T = nn.CrossEntropyLoss(), cr.tensor(x), cr.tensor(t)

    def step(idx):
        timer("zero_grad", opt.zero_grad)
        xb, tb = timer("batch gather", lambda: (X[idx], T[idx]))
        out = timer("forward", model, xb)
        loss = timer("loss", loss_fn, out, tb)
        timer("backward (graph walk + VJPs)", loss.backward)
        timer("optimizer step", opt.step)
    return step


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=WORKLOADS, required=True)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--clock", choices=list(CLOCKS), default="cpu")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    (x, t), _ = workload(1, 1, 0)[0]
    batches = np.random.default_rng(1).integers(0, len(x), (args.iters + 10, BATCH))
    timer = Timer()
    make = book_step if args.workload.endswith("book") else autograd_step
    step = make(args.workload, timer, x, t)
    for idx in batches[:10]:
        step(idx)
    timer.seconds.clear()
    start = clock()
    for idx in batches[10:]:
        step(idx)
    total = (clock() - start) / args.iters
    products = PRODUCTS[args.workload.split("-")[0]]
    floor = sum(gemm_seconds(*shape) for shape in products)
    gflop = sum(2 * m * k * n for m, k, n in products) / 1e9
    from chainrule.threads import get_num_threads
    print(f"{args.workload}: {args.iters} iterations in one process (in-process figures, "
          f"{args.clock} time), {get_num_threads()} BLAS thread(s)")
    print(f"  {'part':32s} {'us/iter':>9s} {'share':>6s}")
    for label, seconds in sorted(timer.seconds.items(), key=lambda kv: -kv[1]):
        us = seconds / args.iters * 1e6
        print(f"  {label:32s} {us:9.1f} {us / (total * 1e6):6.1%}")
    rest = total - sum(timer.seconds.values()) / args.iters
    print(f"  {'(the rest: loop, calls, dicts)':32s} {rest * 1e6:9.1f} {rest / total:6.1%}")
    print(f"  {'iteration':32s} {total * 1e6:9.1f}")
    print(f"  GEMM floor {floor * 1e6:.1f} us/iter ({len(products)} products, {gflop * 1e3:.0f} "
          f"MFLOP at {gflop / floor:.0f} GFLOP/s); chainrule / floor = {total / floor:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
