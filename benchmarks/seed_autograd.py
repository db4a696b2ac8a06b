"""The tutorial's MNIST run on chainrule's nn/optim against the same code in PyTorch CPU,
in one process: time, final accuracy and peak memory of each.

784-100-10 MLP (Linear, ReLU, Linear) in float32, batch 100, SGD lr 0.1, 10000 iterations,
CrossEntropyLoss on class indices, and at every epoch start (the tutorial's
`i % iter_per_epoch == 0`) the accuracy on all 60000 train and 10000 test images under
no_grad in batches of 10000. Both runs start from the same weights and see the same
batches, and both libraries get the same number of BLAS/intra-op threads (--threads,
default 1: at these matrix sizes more threads do not pay, and on a shared machine
oversubscribed BLAS threads make both runs many times slower and the timing noise).

Memory: the peak resident-set growth of each run, read from /proc/self/status (VmHWM,
reset through /proc/self/clear_refs before each run; freed heap handed back to the OS
with malloc_trim in between) — the same measure for NumPy's and torch's allocators,
which tracemalloc cannot give (it does not see torch's). chainrule runs first, so any
memory the first run leaves mapped favours PyTorch, not chainrule; both are warmed up
first (a few iterations and one evaluation), so loading torch's kernels and code pages is
not counted as its memory. `--tracemalloc`
additionally reports the NumPy-allocation peak of a short chainrule run.

    python benchmarks/seed_autograd.py [--iters N] [--threads T] [--no-torch]
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import time

import numpy as np

from common import HIDDEN, INPUT, NO_TORCH, OUTPUT, epoch_starts, import_torch, workload

EVAL_BATCH = 10_000


# ---- threads and memory -------------------------------------------------------------------
def set_numpy_blas_threads(n: int) -> bool:
    """Set OpenBLAS's thread count in this process (what threadpoolctl does), if NumPy
    is linked to an OpenBLAS we can find in /proc/self/maps. True if it worked."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower()}
    except OSError:
        return False
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(ctypes.c_int(n))
                return True
    return False


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def _reset_peak() -> int:
    """Release freed heap to the OS, reset the peak RSS, return the current RSS in KiB."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_kb("VmRSS")


class PeakRSS:
    """Context manager: `.mib` = peak resident memory above the level at entry."""

    def __enter__(self):
        try:
            self.base = _reset_peak()
        except OSError:
            self.base = None
        return self

    def __exit__(self, *exc):
        self.mib = float("nan") if self.base is None else \
            (_status_kb("VmHWM") - self.base) / 1024


# ---- the two runs -------------------------------------------------------------------------
def _evaluate_at(iters: int, train_size: int, batch: int) -> set[int]:
    return set(epoch_starts(iters, train_size, batch))


def run_chainrule(data, batches, lr: float, start: dict) -> tuple[float, float, float]:
    """(seconds, final train accuracy, final test accuracy) of the nn/optim loop."""
    from chainrule import nn, optim
    from chainrule.engine import as_tensor, no_grad

    (x_train, t_train), (x_test, t_test) = data
    model = nn.Sequential(nn.Linear(INPUT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUTPUT))
    model.load_state_dict(start)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    def accuracy(x, t):
        correct = 0
        with no_grad():
            for i in range(0, len(x), EVAL_BATCH):
                correct += int((model(as_tensor(x[i:i + EVAL_BATCH])).numpy().argmax(axis=1)
                                == t[i:i + EVAL_BATCH]).sum())
        return correct / len(x)

    evaluate = _evaluate_at(len(batches), len(x_train), batches.shape[1])
    begin = time.perf_counter()
    for i, batch in enumerate(batches):
        loss = loss_fn(model(as_tensor(x_train[batch])), t_train[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i in evaluate:
            accuracy(x_train, t_train)
            accuracy(x_test, t_test)
    seconds = time.perf_counter() - begin
    return seconds, accuracy(x_train, t_train), accuracy(x_test, t_test)


def run_torch(data, batches, lr: float, start: dict) -> tuple[float, float, float]:
    """The same loop written as usual in PyTorch."""
    import torch

    (x_train, t_train), (x_test, t_test) = [
        (torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))) for x, t in data]
    model = torch.nn.Sequential(torch.nn.Linear(INPUT, HIDDEN), torch.nn.ReLU(),
                                torch.nn.Linear(HIDDEN, OUTPUT))
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in start.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = torch.from_numpy(batches)

    def accuracy(x, t):
        correct = 0
        with torch.no_grad():
            for i in range(0, len(x), EVAL_BATCH):
                correct += int((model(x[i:i + EVAL_BATCH]).argmax(dim=1)
                                == t[i:i + EVAL_BATCH]).sum())
        return correct / len(x)

    evaluate = _evaluate_at(len(batches), len(x_train), batches.shape[1])
    begin = time.perf_counter()
    for i, batch in enumerate(batches):
        optimizer.zero_grad()
        loss_fn(model(x_train[batch]), t_train[batch]).backward()
        optimizer.step()
        if i in evaluate:
            accuracy(x_train, t_train)
            accuracy(x_test, t_test)
    seconds = time.perf_counter() - begin
    return seconds, accuracy(x_train, t_train), accuracy(x_test, t_test)


def tracemalloc_peak(data, batches, lr: float, start: dict, iters: int = 200) -> float:
    """MiB: peak of NumPy's traced allocations in a short chainrule run with one evaluation."""
    import tracemalloc
    short = batches[:iters]
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    run_chainrule(data, short, lr, start)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2 ** 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10_000, help="SGD iterations (10000)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS / intra-op threads for both libraries (default 1)")
    parser.add_argument("--no-torch", action="store_true", help="time chainrule only")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also report the NumPy-allocation peak of a short chainrule run")
    args = parser.parse_args(argv)

    import chainrule as cr
    from chainrule import nn

    blas_ok = set_numpy_blas_threads(args.threads)
    data, batches = workload(args.iters, args.batch_size, args.seed)
    (x_train, _), (x_test, _) = data
    cr.manual_seed(args.seed)
    start = {k: v.numpy().copy() for k, v in nn.Sequential(
        nn.Linear(INPUT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUTPUT)).state_dict().items()}
    n_eval = len(_evaluate_at(args.iters, len(x_train), args.batch_size))
    print(f"MLP {INPUT}-{HIDDEN}-{OUTPUT} float32 via nn/optim, batch {args.batch_size}, SGD lr "
          f"{args.lr}, {args.iters} iterations, {n_eval} evaluations on {len(x_train)} train + "
          f"{len(x_test)} test images; {args.threads} thread(s) each"
          + ("" if blas_ok else " (NumPy's BLAS thread count could not be set)"))

    torch = None if args.no_torch else import_torch()
    if torch is None and not args.no_torch:
        print(f"  {NO_TORCH}: skipped")
    elif torch is not None:
        torch.set_num_threads(args.threads)
        run_torch(data, batches[:3], args.lr, start)        # warm-up: load kernels
    run_chainrule(data, batches[:3], args.lr, start)

    with PeakRSS() as mem:
        ours, ours_train, ours_test = run_chainrule(data, batches, args.lr, start)
    ours_mem = mem.mib
    print(f"  chainrule  {ours:7.2f} s   accuracy train {ours_train:.4f} test {ours_test:.4f}   "
          f"peak memory +{ours_mem:.1f} MiB")
    if torch is not None:
        with PeakRSS() as mem:
            theirs, th_train, th_test = run_torch(data, batches, args.lr, start)
        print(f"  PyTorch    {theirs:7.2f} s   accuracy train {th_train:.4f} test "
              f"{th_test:.4f}   peak memory +{mem.mib:.1f} MiB")
        print(f"  ratio chainrule/PyTorch: time {ours / theirs:.2f}, "
              f"peak memory {ours_mem / mem.mib:.2f}" if mem.mib > 0 else
              f"  ratio chainrule/PyTorch: time {ours / theirs:.2f}")
    if args.tracemalloc:
        print(f"  chainrule NumPy allocations (tracemalloc, {min(200, args.iters)} iterations "
              f"+ evaluation): peak {tracemalloc_peak(data, batches, args.lr, start):.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
