"""check_layer's verdicts: one gradient compared with its numerical value (the worst
element, the errors there, a diagnosis of a wrong gradient), and the report collecting
every comparison of a layer."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["GradientResult", "LayerCheckReport", "compare", "diagnose"]


@dataclass
class GradientResult:
    """One gradient's comparison: where it is worst, and whether it passes."""

    name: str
    passed: bool
    shape: tuple | None = None
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    worst_index: tuple | None = None
    analytic: float | None = None   # value at worst_index
    numerical: float | None = None  # value at worst_index
    problem: str | None = None      # why there was nothing to compare, if so
    diagnosis: str | None = None    # a simple relation a wrong gradient has to the right one
    draw: int = 1                   # the draw these numbers come from (the worse of the two)


@dataclass
class LayerCheckReport:
    """Every gradient's result plus layer-level problems; `.ok` is the overall verdict."""

    layer: str
    inputs: list[tuple]
    eps: float
    atol: float
    rtol: float
    results: list[GradientResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    draws: int = 0  # how many independent draws ran

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.results) and all(r.passed for r in self.results)

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict:
        return {"layer": self.layer, "ok": self.ok, "inputs": [list(s) for s in self.inputs],
                "eps": self.eps, "atol": self.atol, "rtol": self.rtol, "draws": self.draws,
                "results": [asdict(r) for r in self.results], "problems": list(self.problems)}

    def __str__(self) -> str:
        shapes = ", ".join(str(s) for s in self.inputs)
        draws = f"{self.draws} independent draw{'' if self.draws == 1 else 's'}"
        lines = [f"check_layer {self.layer}: inputs {shapes}; {draws}, float64, eps={self.eps:g}, "
                 f"pass if |analytic - numerical| <= {self.atol:g} + {self.rtol:g} * |numerical|",
                 f"  {'gradient':<10}{'shape':<14}{'max abs err':>12}{'max rel err':>12}  "
                 f"{'worst at':<12}{'analytic':>13}{'numerical':>13}  verdict"]
        for r in self.results:
            verdict = "ok" if r.passed else "WRONG" if r.draw == 1 else f"WRONG (draw {r.draw})"
            if r.problem is not None:
                lines.append(f"  {r.name:<10}{verdict}: {r.problem}")
                continue
            lines.append(f"  {r.name:<10}{str(r.shape):<14}{r.max_abs_err:>12.2e}"
                         f"{r.max_rel_err:>12.2e}  {str(r.worst_index):<12}"
                         f"{r.analytic:>13.6g}{r.numerical:>13.6g}  {verdict}")
            if r.diagnosis:
                lines.append(f"  hint: {r.diagnosis}")
        lines += [f"  problem: {p}" for p in self.problems]
        bad = [r.name for r in self.results if not r.passed]
        if self.ok:
            lines.append(f"verdict: PASS (all {len(self.results)} gradient(s) agree)")
        else:
            why = [f"wrong: {', '.join(bad)}"] if bad else []
            why += [f"{len(self.problems)} problem(s)"] if self.problems else []
            why += ["no gradients were checked: integer inputs are labels, pass floats to "
                    "differentiate them"] if not self.results and not self.problems else []
            lines.append(f"verdict: FAIL ({'; '.join(why)})")
        return "\n".join(lines)


    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """The report as a table in a notebook: one row per gradient, then the verdict."""
        from chainrule.glassbox.notebook import STYLE, html_pre, html_table
        rows = []
        for r in self.results:
            verdict = "ok" if r.passed else "WRONG"
            if r.problem is not None:
                rows.append([r.name, "", "", "", "", "", "", f"{verdict}: {r.problem}"])
                continue
            rows.append([r.name, str(r.shape), f"{r.max_abs_err:.2e}", f"{r.max_rel_err:.2e}",
                         str(r.worst_index), f"{r.analytic:.6g}", f"{r.numerical:.6g}",
                         verdict + (f" — {r.diagnosis}" if r.diagnosis else "")])
        lines = str(self).splitlines()
        return (STYLE + html_table(["gradient", "shape", "max abs err", "max rel err",
                                    "worst at", "analytic", "numerical", "verdict"], rows,
                                   right=[2, 3, 5, 6], caption=lines[0])
                + html_pre("\n".join(ln for ln in lines if ln.startswith(("  problem",
                                                                            "verdict")))))


def compare(name: str, analytic, numerical: np.ndarray, atol: float, rtol: float,
             batch: int | None = None) -> GradientResult:
    """Element-wise comparison; the worst element is the one furthest outside the tolerance."""
    if analytic is None:
        return GradientResult(name, False, problem=f"backward gave None for {name} (a missing "
                              f"`return`, or a gradient never assigned?)")
    try:
        analytic = np.asarray(analytic, dtype=np.float64)
    except (TypeError, ValueError):
        return GradientResult(name, False,
                              problem=f"{name} is not numeric: {type(analytic).__name__}")
    if analytic.shape != numerical.shape:
        return GradientResult(name, False, shape=analytic.shape, problem=f"{name} has shape "
                              f"{analytic.shape} but should have {numerical.shape}")
    err = np.abs(analytic - numerical)
    err = np.where(np.isnan(err), np.inf, err)
    scale = np.maximum(np.abs(analytic), np.abs(numerical))
    rel = np.divide(err, scale, out=np.zeros_like(err), where=scale > 0)
    excess = err / (atol + rtol * np.abs(numerical))
    worst = np.unravel_index(np.argmax(excess), err.shape) if err.size else ()
    passed = bool(np.all(excess <= 1))
    return GradientResult(
        name, passed, shape=analytic.shape,
        max_abs_err=float(err.max(initial=0.0)), max_rel_err=float(rel.max(initial=0.0)),
        worst_index=tuple(int(i) for i in worst),
        analytic=float(analytic[worst]) if err.size else None,
        numerical=float(numerical[worst]) if err.size else None,
        diagnosis=None if passed else diagnose(name, analytic, numerical, atol, rtol, batch))


def diagnose(name: str, analytic: np.ndarray, numerical: np.ndarray, atol: float, rtol: float,
              batch: int | None) -> str | None:
    """One line naming a sign flip, a transpose or a constant factor between a wrong analytic
    gradient and the numerical one, claimed only when it holds at every element to tolerance."""
    if not (np.all(np.isfinite(analytic)) and np.all(np.isfinite(numerical))):
        return None
    significant = int(np.count_nonzero(np.abs(numerical) > 10 * atol))
    if not significant or not np.any(np.abs(analytic) > 10 * atol):
        return None  # a relation to (almost) zero would say nothing

    def fits(target: np.ndarray, c: float = 1.0) -> bool:
        return bool(np.all(np.abs(analytic - c * target)
                           <= atol * max(1.0, abs(c)) + rtol * np.abs(c * target)))

    if fits(-numerical):
        return f"{name} has the wrong sign: analytic == -numerical"
    if analytic.ndim == 2 and analytic.shape[0] == analytic.shape[1] and fits(numerical.T):
        return f"{name} looks transposed: analytic == numerical.T"
    if significant >= 2:  # with one element any factor fits, which would say nothing
        c = float(np.vdot(numerical, analytic) / np.vdot(numerical, numerical))
        if abs(c - 1) > 10 * rtol and fits(numerical, c):
            shown, hint = nice(c), ""
            if batch and batch > 1:
                hint = {nice(batch): " (the batch size?)", nice(1 / batch): " (1/batch size?)",
                        nice(-batch): " (minus the batch size?)"}.get(shown, "")
            return f"{name} is off by a constant factor {shown}{hint}: " \
                   f"analytic == {shown} * numerical"
    return None


def nice(c: float) -> str:
    """c as a short number: 4.0 for 3.9999999, 0.25 for 1/4.0000001, else 4 significant digits."""
    for candidate in (round(c), 1 / round(1 / c) if 1e-12 < abs(c) < 1 else None):
        if candidate and abs(c - candidate) <= 1e-6 * abs(c):
            return repr(float(round(candidate, 12)))
    return f"{c:.4g}"
