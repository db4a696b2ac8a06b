"""How chainrule uses the cores: NumPy's BLAS on one thread, and large kernels split over
the cores no other process wants.

Why one BLAS thread. chainrule's training products are the small ones of a small batch
(100 x 784 x 100 for the tutorial's network, 30 x 25 x 576 per image for the book's
convnet). On two cores a second BLAS thread gains at most a fraction of a millisecond per
product on an idle machine (1.2x on 100 x 784 x 100), but OpenBLAS's threads spin-wait for
each other after every call: with one other busy process the book's MNIST loop ran about 3x
slower with two threads than quiet, and with both cores busy about 70x slower, where one
thread lost about 15 % and 2x (issue 13's measurements; benchmarks/RESULTS.md has this
machine's). A laptop with a browser open, a notebook beside other kernels, a shared CI
runner: busy is the normal case, and one thread is immune to it.

Why split large kernels over idle cores. A large kernel (a product of at least SPLIT_PRODUCT
multiply-adds, such as an evaluation on 10,000 images; a convolution, pooling or ReLU over a
batch of images; an optimizer step over a large weight) runs about twice as fast on two idle
cores. `in_parts` cuts it into parts, one per idle core, each computed with one BLAS thread
by this thread or a chainrule worker thread that waits on a queue, never spinning. Before
splitting it counts the runnable tasks of other processes (re-counted at most every
RECOUNT_S): when nobody else wants a core the work is split, otherwise it runs whole here,
so a busy machine is never asked for a core it does not have. Smaller kernels are not split:
waking a thread on an idle core costs tens of microseconds (about 60 on the VM of
RESULTS.md). The kernels compute each index alone, so a split gives the same bits as one
call (tests/test_threads.py and tests/test_conv_kernels.py check it).

When. The policy is applied once, when chainrule's NumPy kernels (`chainrule.numerics`,
which both faces import) are first imported, so a user's own training loop gets it without
calling anything; `import chainrule` alone loads no NumPy and changes nothing. It sets the
thread count of every BLAS library loaded in the process at that moment (through
threadpoolctl), so it also holds for the user's own NumPy calls, as PyTorch's intra-op
setting holds for everything torch runs.

Overrides, strongest first (each also turns the splitting off: the user has chosen):
- `chainrule.set_num_threads(n)` at any time (PyTorch's name); it also keeps the import-time
  policy from running later;
- the environment variable CHAINRULE_NUM_THREADS: a whole number >= 1, or `keep` to leave
  the BLAS library's own setting alone;
- if CHAINRULE_NUM_THREADS is unset but OPENBLAS_NUM_THREADS, OMP_NUM_THREADS,
  MKL_NUM_THREADS or BLIS_NUM_THREADS is set, the user has chosen already: chainrule keeps it.

Without threadpoolctl (it is a dependency, but may be missing in a hand-made environment)
the import-time policy does nothing and says why in `policy_info()`; `set_num_threads`
raises an error that says what to install. This module imports nothing of chainrule.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from typing import Callable, Mapping

__all__ = ["ENV_VAR", "DEFAULT_THREADS", "SPLIT_PRODUCT", "parse_threads", "policy_threads",
           "SPLIT_ELEMENTS", "set_num_threads", "get_num_threads", "apply_policy", "policy_info",
           "in_parts"]

ENV_VAR = "CHAINRULE_NUM_THREADS"
DEFAULT_THREADS = 1
SPLIT_PRODUCT = 2**24   # multiply-adds of one product from which it is split over idle cores
SPLIT_ELEMENTS = 2**20  # elements of one elementwise pass from which it is split
RECOUNT_S = 0.1         # how long a count of the idle cores is trusted
KEEP = "keep"
# variables with which a user already chose the BLAS thread count (OpenBLAS, OpenMP, MKL, BLIS)
BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "BLIS_NUM_THREADS")
NO_THREADPOOLCTL = ("chainrule cannot set NumPy's BLAS threads: threadpoolctl is not "
                    "installed (pip install threadpoolctl)")

_state = {"explicit": False, "applied": False, "threads": None, "reason": "not applied yet"}
# the cores work may be split over (set only by the default policy), and the last count
_parts = {"cores": 1, "idle": 1, "at": float("-inf")}


def parse_threads(value, source: str = "num_threads") -> int:
    """value as a thread count (a whole number >= 1; digits in a string are accepted), or a
    ValueError naming `source` and what it should be."""
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{source} must be a whole number of threads >= 1, got {value!r}"
                         + (f" (or {KEEP!r} to leave NumPy's BLAS threads as they are)"
                            if source == ENV_VAR else ""))
    return value


def policy_threads(environ: Mapping[str, str] | None = None) -> tuple[int | None, str]:
    """(threads to set, or None for none, and why), from the environment as described above."""
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_VAR, "").strip()
    if value.lower() == KEEP:
        return None, f"{ENV_VAR}={KEEP}: the BLAS library's own setting is kept"
    if value:
        return parse_threads(value, ENV_VAR), f"{ENV_VAR}={value}"
    chosen = [name for name in BLAS_ENV_VARS if environ.get(name, "").strip()]
    if chosen:
        return None, f"{chosen[0]} is set: the user's BLAS setting is kept"
    return DEFAULT_THREADS, f"chainrule's default ({DEFAULT_THREADS} thread; {ENV_VAR} " \
                            f"overrides it)"


def _controller():
    """A threadpoolctl controller of the BLAS libraries loaded now (NumPy's included), or None
    when threadpoolctl is missing."""
    import numpy  # noqa: F401  (NumPy loads its BLAS library; only a loaded one can be set)
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController().select(user_api="blas")


def _set(threads: int) -> bool:
    """Set every loaded BLAS library to `threads`; False when threadpoolctl is missing."""
    controller = _controller()
    if controller is None:
        return False
    controller.limit(limits=threads)  # sets the libraries' counts; its undo is never called
    _parts["cores"] = 1                  # a count the user chose: no splitting either
    return True


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _runnable(path: str) -> int:
    """Tasks in state R (running or waiting for a core) among /proc/<path>/task's."""
    count = 0
    for task in os.listdir(f"/proc/{path}/task"):
        with open(f"/proc/{path}/task/{task}/stat") as f:
            count += f.read().rpartition(")")[2].split()[0] == "R"
    return count


def _others_running() -> int:
    """Runnable tasks of other processes at this instant: /proc/loadavg's count less this
    process's own (its BLAS threads included)."""
    with open("/proc/loadavg") as f:
        running = int(f.read().split()[3].split("/")[0])
    return running - _runnable("self")


def _idle_cores() -> int:
    """How many cores no other process wants right now: the cores minus the other processes'
    runnable tasks (the fewer of two looks, so that a task waking for a moment does not
    count), or minus the 1-minute load average where that count is not available; with
    neither (Windows), none: nothing is split where the load cannot be seen."""
    try:
        others = min(_others_running(), _others_running())
    except (OSError, ValueError, IndexError):
        try:
            others = round(os.getloadavg()[0])
        except (OSError, AttributeError):
            others = _parts["cores"]
    return _parts["cores"] - max(others, 0)


def _split_cores() -> int:
    """How many parts to split work into now: 1 unless the default policy holds and more
    than one core is idle (counted at most every RECOUNT_S seconds)."""
    if _parts["cores"] <= 1:
        return 1
    now = time.monotonic()
    if now - _parts["at"] > RECOUNT_S:
        _parts.update(idle=_idle_cores(), at=now)
    return _parts["idle"]


class _Worker:
    """A thread that runs work(lo, hi) when given it and reports back; it waits on a queue,
    never spinning, so an idle worker costs no CPU."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.done: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="chainrule-worker", daemon=True).start()

    def _serve(self) -> None:
        while True:
            work, lo, hi = self.jobs.get()
            try:
                work(lo, hi)
                self.done.put(None)
            except BaseException as error:  # handed to the caller, who raises it
                self.done.put(error)


_workers: list[_Worker] = []
_splitting = threading.Lock()   # one split at a time; a nested or concurrent one runs whole
if hasattr(os, "register_at_fork"):   # a forked child has none of its parent's threads
    os.register_at_fork(after_in_child=_workers.clear)


def in_parts(work: Callable[[int, int], None], n: int) -> None:
    """Run work(lo, hi) over 0 .. n: in equal parts on the idle cores (this thread takes the
    first), or as work(0, n) here when the machine is busy, the user chose the thread count,
    or another split is running. `work` writes its own part of a result and nothing else."""
    parts = min(_split_cores(), n)
    if parts <= 1 or not _splitting.acquire(blocking=False):
        work(0, n)
        return
    try:
        try:
            while len(_workers) < parts - 1:
                _workers.append(_Worker())
        except RuntimeError:   # no thread can start (the interpreter is exiting): run whole
            work(0, n)
            return
        bounds = [n * i // parts for i in range(parts + 1)]
        helpers = _workers[:parts - 1]
        for worker, lo, hi in zip(helpers, bounds[1:-1], bounds[2:]):
            worker.jobs.put((work, lo, hi))
        error = None
        try:
            work(0, bounds[1])
        except BaseException as mine:
            error = mine
        for worker in helpers:             # wait for every part, even after an error
            while True:
                try:
                    result = worker.done.get()
                    break
                except BaseException as interrupted:   # Ctrl-C: the part still finishes
                    error = error or interrupted
            error = error or result
        if error is not None:
            raise error
    finally:
        _splitting.release()


def set_num_threads(n: int) -> None:
    """Let NumPy's BLAS use n threads in this process from now on (as torch.set_num_threads).

    Overrides the import-time policy and CHAINRULE_NUM_THREADS. Raises a ValueError for
    anything but a whole number >= 1, and a RuntimeError when threadpoolctl is missing.
    """
    n = parse_threads(n, "set_num_threads")
    if not _set(n):
        raise RuntimeError(NO_THREADPOOLCTL)
    _state.update(explicit=True, applied=True, threads=n, reason=f"set_num_threads({n})")


def get_num_threads() -> int | None:
    """The thread count of NumPy's BLAS library now (the largest, if several are loaded), or
    None when threadpoolctl is missing or no BLAS library is found."""
    controller = _controller()
    if controller is None or not controller.lib_controllers:
        return None
    return max(lib.num_threads for lib in controller.lib_controllers)


def apply_policy(environ: Mapping[str, str] | None = None) -> int | None:
    """Apply the policy once (chainrule.numerics calls this when first imported); the number
    of threads set, or None when the policy sets none. Later calls, and calls after
    set_num_threads, change nothing."""
    if _state["applied"]:
        return _state["threads"]
    environ = os.environ if environ is None else environ
    threads, reason = policy_threads(environ)
    _state["applied"] = True
    if threads is not None and not _set(threads):
        threads, reason = None, NO_THREADPOOLCTL
    elif threads is not None and not environ.get(ENV_VAR, "").strip() and _cores() > 1:
        _parts["cores"] = _cores()
        reason += f"; large kernels split over up to {_cores()} idle cores"
    _state.update(threads=threads, reason=reason)
    return threads


def policy_info() -> dict:
    """What the policy did: {'threads': n or None, 'reason': text, 'explicit': bool,
    'blas_threads': the BLAS library's count now}."""
    return {"threads": _state["threads"], "reason": _state["reason"],
            "explicit": _state["explicit"], "blas_threads": get_num_threads()}
