"""Stopping a run whose loss (or, before a save, a parameter) became nan or ±inf, with
the history so far kept so that it can still be saved."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.train.history import finish_history

__all__ = ["NonFiniteLossError", "stop_if_not_finite", "worst_value"]


class NonFiniteLossError(ValueError):
    """Training stopped because the loss (or, checked before a save, a parameter) became
    nan or ±inf. `iteration` counts from 1; `history` is the run so far (its losses all
    finite), finished with "final" and "stopped" so that it can still be saved."""

    def __init__(self, iteration: int, value: float, history: dict[str, Any] | None = None,
                 what: str = "loss") -> None:
        self.iteration, self.value, self.history, self.what = iteration, value, history, what
        self.kind = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        super().__init__(f"{what} became {self.kind} at iteration {iteration}: try a smaller "
                         f"learning rate")


def stop_if_not_finite(value: float, done: int, history: dict[str, Any], start: float,
                       what: str = "loss") -> None:
    """Raise NonFiniteLossError when `value` (of iteration `done`) is nan or ±inf, after
    finishing the history so far."""
    if math.isfinite(value):
        return
    err = NonFiniteLossError(done, value, history, what)
    history["stopped"] = {"iteration": done, "reason": f"{what} became {err.kind}"}
    finish_history(history, start)
    raise err


def worst_value(arrays) -> float:
    """nan if any array holds a nan, else ±inf if one holds an infinity, else 0.0."""
    worst = 0.0
    for a in arrays:
        if not np.isfinite(a).all():
            if np.isnan(a).any():
                return math.nan
            worst = math.inf if np.isposinf(a).any() else -math.inf
    return worst
