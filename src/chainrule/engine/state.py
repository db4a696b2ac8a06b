"""Per-thread engine state (grad mode, forward-mode level) and quiet NumPy errors."""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np


class _EngineState(threading.local):
    """Per-thread engine state, as in PyTorch: whether ops record the graph, and how many
    forward-mode (jvp) evaluations are live (tangents only propagate while this is > 0).
    `plain` says both are at their defaults, so `apply` reads one attribute per op."""

    def __init__(self):
        self._grad, self._fwd, self.plain = True, 0, True

    @property
    def grad_enabled(self) -> bool:
        return self._grad

    @grad_enabled.setter
    def grad_enabled(self, on: bool) -> None:
        self._grad = on
        self.plain = on and not self._fwd

    @property
    def fwd_level(self) -> int:
        return self._fwd

    @fwd_level.setter
    def fwd_level(self, level: int) -> None:
        self._fwd = level
        self.plain = self._grad and not level


_state = _EngineState()


def _quiet_numpy() -> tuple:
    """A cheap `np.errstate(all="ignore")`, so ops give IEEE results (inf, nan) quietly, as
    PyTorch does: `(enter, QUIET, exit)`, used as `token = enter(QUIET) ... exit(token)`.
    Setting NumPy's error-state context variable directly costs a tenth of entering
    np.errstate on every op; with another NumPy, np.errstate itself is the fallback."""
    try:
        from numpy._core._ufunc_config import _extobj_contextvar as var
        with np.errstate(all="ignore"):
            quiet = var.get()
        return var.set, quiet, var.reset
    except (ImportError, AttributeError):
        def enter(quiet):
            ctx = np.errstate(all="ignore")
            ctx.__enter__()
            return ctx
        return enter, None, (lambda ctx: ctx.__exit__(None, None, None))


_quiet_enter, _QUIET, _quiet_exit = _quiet_numpy()


def is_grad_enabled() -> bool:
    return _state.grad_enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off, for the
    current thread only (as in PyTorch)."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        if type(self) is set_grad_enabled:  # as PyTorch: set_grad_enabled(False) alone
            self.prev = _state.grad_enabled  # sets the mode (the with-block restores it)
            _state.grad_enabled = self.mode

    def __enter__(self):
        state = _state
        before = self.prev if type(self) is set_grad_enabled else state.grad_enabled
        state.__dict__.setdefault("saved_modes", []).append(before)
        state.grad_enabled = self.mode

    def __exit__(self, *exc):
        state = _state
        state.grad_enabled = state.saved_modes.pop()

    def __call__(self, fn: Callable) -> Callable:
        import functools
        if type(self) is set_grad_enabled:  # a decorator leaves the mode as it was
            _state.grad_enabled = self.prev

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """`with no_grad():` computes values without recording a graph."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """`with enable_grad():` records the graph again inside a no_grad block."""

    def __init__(self):
        super().__init__(True)


class forward_mode:
    """One more live forward-mode level (entered by `jvp`): tangents of this level
    propagate while it lasts. `with forward_mode() as level:` gives its number (1 for the
    outermost); levels nest, as jvp of jvp needs."""

    def __enter__(self) -> int:
        _state.fwd_level += 1
        return _state.fwd_level

    def __exit__(self, *exc):
        _state.fwd_level -= 1
