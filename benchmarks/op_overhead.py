"""Per-op overhead of the autograd engine against PyTorch, in one process.

Times a 10,000-op chain on one-element tensors (alternating `* c` and `+ c`, the
smallest possible ops, so what is measured is the engine's own per-op cost) and a
1,000,000-node chain, forward plus backward, and prints microseconds per op and the
chainrule / PyTorch ratio.

    python benchmarks/op_overhead.py [--ops N] [--deep N] [--repeats N] [--no-torch]
"""
from __future__ import annotations

import argparse
import gc
import time

from common import NO_TORCH, import_torch


def _chain(lib, n: int) -> float:
    """Seconds for forward+backward through an n-op chain (the best of the repeats)."""
    x = lib.tensor([0.5], requires_grad=True)
    start = time.perf_counter()
    y = x
    for i in range(n):
        y = y * 1.0001 if i % 2 else y + 0.001
    y.sum().backward()
    return time.perf_counter() - start


def best_of_interleaved(fns: list, repeats: int) -> list[float]:
    """Best time of each function, running them in turn so load affects all alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            gc.collect()
            best[i] = min(best[i], fn())
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000, help="length of the short chain")
    parser.add_argument("--deep", type=int, default=1_000_000, help="length of the deep chain")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-torch", action="store_true", help="time chainrule only")
    args = parser.parse_args(argv)

    import chainrule as cr
    torch = None if args.no_torch else import_torch()
    if torch is None and not args.no_torch:
        print(f"{NO_TORCH}: timing chainrule only")

    libs = [cr] + ([torch] if torch is not None else [])
    times = best_of_interleaved([lambda lib=lib: _chain(lib, args.ops) for lib in libs],
                                args.repeats)
    cr_t = times[0]
    print(f"{args.ops}-op chain, forward+backward, one-element tensors:")
    print(f"  chainrule {cr_t / args.ops * 1e6:7.2f} us/op")
    if torch is not None:
        th_t = times[1]
        print(f"  PyTorch   {th_t / args.ops * 1e6:7.2f} us/op")
        print(f"  ratio chainrule/PyTorch = {cr_t / th_t:.2f}")
    deep = _chain(cr, args.deep)
    print(f"{args.deep}-node chain, forward+backward: chainrule {deep:.2f} s "
          f"({deep / args.deep * 1e6:.2f} us/node)")
    if torch is not None:
        deep_t = _chain(torch, args.deep)
        print(f"                                    PyTorch   {deep_t:.2f} s "
              f"(ratio {deep / deep_t:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
