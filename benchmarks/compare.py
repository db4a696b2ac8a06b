"""What a user gets: chainrule against PyTorch CPU, each run in its own fresh process with
default settings, runs alternating, medians and the ratio of medians; optionally while
other processes keep cores busy.

    python benchmarks/compare.py --workload seed-book --rounds 5
    python benchmarks/compare.py --workload convnet-book --load 1 --rounds 5

Workloads (float32 MNIST, batch 100, the same batches for both libraries):
  seed-book         the tutorial's loop on the book face: TwoLayerNet 784-100-10,
                    `params[k] -= lr * grad[k]`, SGD 0.1, 3000 iterations, accuracy on all
                    60000 + 10000 images every 600 iterations (5 evaluations); PyTorch runs
                    the same loop as a PyTorch user writes it (below)
  seed-autograd     the same loop written PyTorch-style on chainrule's autograd face:
                    nn.Sequential(Linear, ReLU, Linear), X[idx] batches, CrossEntropyLoss,
                    optim.SGD, zero_grad / backward / step; PyTorch runs the same code
  convnet-book      the book's SimpleConvNet (conv 30x5x5 - ReLU - max-pool 2 - affine 100 -
                    ReLU - affine 10), Adam lr 0.001: `net.gradient` + the book's Adam;
                    PyTorch: the same network in nn.Sequential with torch.optim.Adam
  convnet-autograd  the same network on chainrule's nn (Conv2d, MaxPool2d, ...) and optim.Adam

Per run it reports the in-process time of the training loop (evaluations included; for
the convnets, seconds per iteration after 5 warm-up iterations), the whole process's
wall time (interpreter start, imports, loading MNIST, training) and the CPU time it used
(all its threads, user + system: threads that spin-wait for a busy core show up here),
both measured by this driver, and the process's peak resident memory (its libraries
included), as the process itself reports it.
`--load N` starts N busy-loop processes first (each keeps one core busy) and stops them
at the end. chainrule's process runs with its own threading policy (`--chainrule-threads`
sets CHAINRULE_NUM_THREADS for it); PyTorch's process is never changed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from functools import partial

import numpy as np

from common import HIDDEN, INPUT, OUTPUT, epoch_starts, import_torch, workload

WORKLOADS = ("seed-book", "seed-autograd", "convnet-book", "convnet-autograd")
DEFAULT_ITERS = {"seed": 3000, "convnet": 60}
WARMUP = 5
EVAL_BATCH = 10_000


# ---- the loops, as a user writes them -----------------------------------------------------
def seed_book(data, batches, evaluate_at, lr=0.1) -> float:
    from chainrule.models import TwoLayerNet

    (x_train, t_train), (x_test, t_test) = data
    net = TwoLayerNet(INPUT, HIDDEN, OUTPUT, dtype=np.float32, seed=0)
    for i, idx in enumerate(batches):
        grad = net.gradient(x_train[idx], t_train[idx])
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= lr * grad[key]
        if i in evaluate_at:
            net.accuracy(x_train, t_train)
            acc = net.accuracy(x_test, t_test)
    return acc


def seed_pytorch_style(torch, data, batches, evaluate_at, lr=0.1) -> float:
    """The seed loop as a PyTorch user writes it; `torch` is PyTorch, or chainrule imported
    in its place: one code for both, which is what "drop-in" promises."""
    nn = torch.nn
    (x_train, t_train), (x_test, t_test) = [(torch.from_numpy(x), torch.from_numpy(t))
                                            for x, t in data]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(INPUT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUTPUT))
    optimizer, loss_fn = torch.optim.SGD(model.parameters(), lr=lr), nn.CrossEntropyLoss()

    def accuracy(x, t):
        with torch.no_grad():
            return sum(int((model(x[i:i + EVAL_BATCH]).argmax(1) == t[i:i + EVAL_BATCH])
                           .sum()) for i in range(0, len(x), EVAL_BATCH)) / len(x)

    for i, idx in enumerate(torch.from_numpy(batches)):
        optimizer.zero_grad()
        loss_fn(model(x_train[idx]), t_train[idx]).backward()
        optimizer.step()
        if i in evaluate_at:
            accuracy(x_train, t_train)
            acc = accuracy(x_test, t_test)
    return acc


def convnet_book(images, labels, batches):
    from chainrule.book.optimizer import Adam
    from chainrule.book.simple_convnet import SimpleConvNet

    net, opt = SimpleConvNet(dtype=np.float32, seed=0), Adam(lr=0.001)

    def step(idx):
        opt.update(net.params, net.gradient(images[idx], labels[idx]))
    return step


def convnet_autograd(images, labels, batches):
    import chainrule as cr
    from chainrule import nn, optim

    cr.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10))
    opt, loss_fn = optim.Adam(net.parameters(), lr=0.001), nn.CrossEntropyLoss()
    X, T = cr.tensor(images), cr.tensor(labels)

    def step(idx):
        opt.zero_grad()
        loss_fn(net(X[idx]), T[idx]).backward()
        opt.step()
    return step


def convnet_torch(images, labels, batches):
    torch = import_torch()
    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10))
    opt, loss_fn = torch.optim.Adam(net.parameters(), lr=0.001), nn.CrossEntropyLoss()
    X, T = torch.from_numpy(images), torch.from_numpy(labels)

    def step(idx):
        idx = torch.from_numpy(idx)
        opt.zero_grad()
        loss_fn(net(X[idx]), T[idx]).backward()
        opt.step()
    return step


def run_one(name: str, lib: str, iters: int, seed: int) -> dict:
    """One library's run of one workload in this process: its in-process figures."""
    kind = name.split("-")[0]
    data, batches = workload(iters + (WARMUP if kind == "convnet" else 0), 100, seed)
    if kind == "seed":
        (x_train, _), _ = data
        evaluate_at = set(epoch_starts(iters, len(x_train), 100))
        if lib == "chainrule" and name == "seed-book":
            loop = seed_book
        else:
            import chainrule
            loop = partial(seed_pytorch_style, import_torch() if lib == "torch" else chainrule)
        start = time.perf_counter()
        acc = loop(data, batches, evaluate_at)
        result = {"train_s": time.perf_counter() - start, "test_accuracy": acc}
    else:
        (x_train, t_train), _ = data
        make = convnet_torch if lib == "torch" else {"convnet-book": convnet_book,
                                                     "convnet-autograd": convnet_autograd}[name]
        step = make(x_train.reshape(-1, 1, 28, 28), t_train, batches)
        for idx in batches[:WARMUP]:   # first-call allocations, thread pools
            step(idx)
        start = time.perf_counter()
        for idx in batches[WARMUP:]:
            step(idx)
        result = {"train_s": (time.perf_counter() - start) / iters}
    if lib == "chainrule":
        from chainrule.threads import policy_info
        result["threads"] = policy_info()
    else:
        result["threads"] = {"torch": import_torch().get_num_threads()}
    return result


# ---- the driver ---------------------------------------------------------------------------
def busy_processes(count: int) -> list[subprocess.Popen]:
    """`count` processes that each keep one core busy until stopped."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def child(workload_name: str, lib: str, iters: int, seed: int, threads: str | None) -> dict:
    """Run one library in a fresh process; its figures plus the process's wall time."""
    env = {k: v for k, v in os.environ.items() if k != "CHAINRULE_NUM_THREADS"}
    if threads is not None and lib == "chainrule":
        env["CHAINRULE_NUM_THREADS"] = threads
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--run", lib, "--workload", workload_name,
                          "--iters", str(iters), "--seed", str(seed)],
                         capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    now = resource.getrusage(resource.RUSAGE_CHILDREN)  # the busy processes are not reaped yet
    cpu = now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime
    if out.returncode != 0:
        raise SystemExit(f"{lib} run failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"], result["cpu_s"] = wall, cpu
    return result


def summary(runs: dict, unit: str) -> list[str]:
    """Each library's runs, their median, and the ratio of the medians."""
    lines = []
    for key, label in (("train_s", f"in-process {unit}"), ("process_s", "whole process s"),
                       ("cpu_s", "process CPU s"), ("peak_mib", "peak resident MiB")):
        med = {lib: statistics.median(r[key] for r in rs) for lib, rs in runs.items()}
        for lib, rs in runs.items():
            lines.append(f"  {lib:9s} {label:22s} " + ", ".join(f"{r[key]:.4f}" for r in rs)
                         + f"   median {med[lib]:.4f}")
        if len(med) == 2:
            lines.append(f"  ratio chainrule / PyTorch ({label}, medians) = "
                         f"{med['chainrule'] / med['torch']:.3f}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=WORKLOADS, required=True)
    parser.add_argument("--rounds", type=int, default=5, help="alternating runs per library")
    parser.add_argument("--iters", type=int, help="iterations (seed: 3000; convnet: 60 timed)")
    parser.add_argument("--load", type=int, default=0, help="busy-loop processes to run beside")
    parser.add_argument("--libs", default="chainrule,torch", help="chainrule,torch or one")
    parser.add_argument("--chainrule-threads", help="CHAINRULE_NUM_THREADS for chainrule's runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write every run's figures to this file")
    parser.add_argument("--run", choices=["chainrule", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    iters = args.iters or DEFAULT_ITERS[args.workload.split("-")[0]]
    if args.run:
        result = run_one(args.workload, args.run, iters, args.seed)
        # the whole process's peak resident memory (Linux reports KiB): libraries included
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return 0
    libs = args.libs.split(",")
    if "torch" in libs and import_torch() is None:
        raise SystemExit("PyTorch is not installed (pip install torch==2.13.0)")
    print(f"{args.workload}: {iters} iterations, {args.rounds} rounds alternating, "
          f"{args.load} busy process(es) beside, {os.cpu_count()} cores"
          + (f", CHAINRULE_NUM_THREADS={args.chainrule_threads}" if args.chainrule_threads
             else ""))
    runs = {lib: [] for lib in libs}
    before = os.getloadavg()[0]
    # a terminated driver still stops its busy processes (SystemExit runs the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    load = busy_processes(args.load)
    try:
        time.sleep(0.5 if load else 0)
        for r in range(args.rounds):
            for lib in (libs if r % 2 == 0 else libs[::-1]):
                runs[lib].append(child(args.workload, lib, iters, args.seed,
                                       args.chainrule_threads))
    finally:
        for proc in load:
            proc.kill()
            proc.wait()
    unit = "s" if args.workload.startswith("seed") else "s/iter"
    print(f"  load average (1 min) before {before:.2f}, at the end {os.getloadavg()[0]:.2f} "
          f"(the busy processes included)")
    print("\n".join(summary(runs, unit)))
    for lib, rs in runs.items():
        info = rs[0]["threads"]
        threads = (f"{info['blas_threads']} BLAS thread(s): {info['reason']}"
                   if lib == "chainrule" else f"{info['torch']} intra-op threads (its default)")
        print(f"  {lib:9s} {threads}"
              + (f"   test accuracy {rs[0]['test_accuracy']:.4f}" if "test_accuracy" in rs[0]
                 else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"workload": args.workload, "iters": iters, "load": args.load,
                       "loadavg": [before, os.getloadavg()[0]],
                       "chainrule_threads": args.chainrule_threads, "runs": runs}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
