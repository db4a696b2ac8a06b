"""check_layer: a hand-written layer's backward pass against numerical gradients, with a verdict.

The book's protocol, made strict:

    out = layer.forward(*inputs)
    grads = layer.backward(dout)        # dout random, shaped like out (1 for a scalar loss)

and every returned input gradient (dx, or dx, dy for two inputs) and every parameter
gradient (`dW` for `W`, `db` for `b`, any `d<name>` whose `<name>` is an array, and the
second volume's `grads[i]` for `params[i]`) is compared with the central difference of
sum(out * dout), element by element, in float64. The report names each gradient, its worst
element, the analytic and numerical values there, and a verdict; it also reports a backward
that returns None or the wrong shape, raises, modifies its dout, or leaves a parameter
gradient unset. The layer is left exactly as it was.

Each layer is checked on two independent draws and passes only if both pass: the first
with the given inputs and parameters, the second with fresh inputs and perturbed
parameters. Every random array (each input, each parameter perturbation, each dout) comes
from its own stream spawned from one seed, so dout can never equal an input: with dout == x
a backward that uses x where dout belongs, or a transposed dW = dout.T @ x, looks right.
Where a wrong gradient is the right one times a constant, negated or transposed, the report
says so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainrule.glassbox.compare import GradientResult, LayerCheckReport, compare
from chainrule.numerics import numerical_gradient

__all__ = ["check_layer", "LayerCheckReport", "GradientResult"]

# parameters the book's layers always have a gradient for, even before a backward sets it
_KNOWN_PARAMS = ("W", "b", "gamma", "beta")
_DRAWS = 2  # independent draws per check; every one must pass


def _input_names(n: int) -> list[str]:
    return ["dx", "dy"] if n == 2 else ["dx"] if n == 1 else [f"dx{i}" for i in range(n)]


def check_layer(layer, *inputs, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-4,
                seed: int | np.random.SeedSequence = 0) -> LayerCheckReport:
    """Check `layer.backward` against numerical gradients of `layer.forward(*inputs)`.

    Float inputs are differentiated (for a layer returning a scalar loss, only the first:
    the rest are targets); integer arrays are labels and left alone. Runs in float64 on
    copies of the inputs and parameters and restores the layer's attributes afterwards.
    Two independent draws must both pass: the given inputs and parameters, then fresh
    inputs (uniform over each given input's range; targets and labels kept) and parameters
    with a little noise added. `seed` is an int, or the SeedSequence a caller drew the
    inputs from (the check then spawns its streams after the caller's).
    """
    if not (eps > 0 and atol >= 0 and rtol >= 0):
        raise ValueError(f"check_layer: need eps > 0, atol >= 0 and rtol >= 0, got eps={eps}, "
                         f"atol={atol}, rtol={rtol}")
    if not isinstance(seed, np.random.SeedSequence):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"check_layer: seed must be a non-negative int, got {seed!r}")
        seed = np.random.SeedSequence(int(seed))
    try:
        inputs64 = [np.array(x, dtype=np.float64) if isinstance(x, (float, int)) or
                    np.issubdtype(np.asarray(x).dtype, np.floating) else np.array(x)
                    for x in inputs]
    except (TypeError, ValueError) as err:
        raise ValueError(f"check_layer: each input must be a number or an array "
                         f"({type(err).__name__}: {err})") from None
    report = LayerCheckReport(type(layer).__name__, [x.shape for x in inputs64], eps, atol, rtol)
    bad = [i for i, x in enumerate(inputs64)
           if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x))]
    if bad:
        report.problems.append(f"input(s) {bad} hold nan or inf: pass finite numbers")
        return report
    state = dict(vars(layer)) if hasattr(layer, "__dict__") else {}
    found = None
    try:
        with np.errstate(all="ignore"):  # overflow in a forward shows as a wrong gradient
            for draw, stream in enumerate(seed.spawn(_DRAWS), start=1):
                input_stream, param_stream, dout_stream = stream.spawn(3)
                xs = ([x.copy() for x in inputs64] if found is None else
                      _redraw(inputs64, found.targets, input_stream))
                partial = LayerCheckReport(report.layer, report.inputs, eps, atol, rtol)
                found = _run_check(layer, xs, partial, np.random.default_rng(dout_stream),
                                   None if draw == 1 else (found, param_stream))
                _merge(report, partial, draw)
                report.draws = draw
                _restore(layer, state)
                if found is None or not partial.results:
                    break  # nothing could be compared: another draw would only repeat that
    except Exception as err:  # whatever the layer does, the user gets a report
        report.problems.append(f"the check could not run: {type(err).__name__}: {err}")
    finally:
        _restore(layer, state)
    return report


@dataclass
class _Found:
    """What the first draw learnt: the inputs that are targets and the parameters."""

    targets: set[int]
    params: list[str]
    listed: int


def _redraw(inputs: list[np.ndarray], targets: set[int], stream) -> list[np.ndarray]:
    """Fresh float inputs, each from its own stream, uniform over the range the given one spans
    (so a domain such as x > 0 is kept; ±50% around a constant); targets and labels as given."""
    fresh = []
    for i, (x, s) in enumerate(zip(inputs, stream.spawn(len(inputs)))):
        if i in targets or x.size == 0 or not np.issubdtype(x.dtype, np.floating):
            fresh.append(x.copy())
            continue
        lo, hi = float(x.min()), float(x.max())
        if lo == hi:
            lo, hi = lo - (0.5 * abs(lo) or 1.0), hi + (0.5 * abs(hi) or 1.0)
        fresh.append(np.random.default_rng(s).uniform(lo, hi, x.shape))
    return fresh


def _perturb(p: np.ndarray, stream) -> None:
    """Add noise of 10% of p's RMS (0.1 if p is zero) in place, so that a special parameter
    (a symmetric W, a zero b) cannot hide a wrong gradient."""
    finite = np.isfinite(p)
    scale = float(np.sqrt(np.mean(p[finite] ** 2))) if finite.any() else 0.0
    p += np.where(finite, 0.1 * (scale or 1.0) * np.random.default_rng(stream).standard_normal(
        p.shape), 0.0)


def _merge(report: LayerCheckReport, partial: LayerCheckReport, draw: int) -> None:
    """Fold one draw into the report: its new problems, and per gradient the worse result
    (the first failing one, else the larger relative error)."""
    report.problems += [p for p in partial.problems if p not in report.problems]
    seen = {r.name: i for i, r in enumerate(report.results)}
    for r in partial.results:
        r.draw = draw
        if r.name not in seen:
            report.results.append(r)
            continue
        old = report.results[seen[r.name]]
        if not old.passed:  # the given inputs' failure is the one to show
            if not r.passed and old.diagnosis != r.diagnosis:
                old.diagnosis = None  # claimed only if both draws agree on it
        elif not r.passed or (r.max_rel_err or 0.0) > (old.max_rel_err or 0.0):
            report.results[seen[r.name]] = r


def _restore(layer, state: dict) -> None:
    if hasattr(layer, "__dict__"):
        vars(layer).clear()
        vars(layer).update(state)


def _run_check(layer, inputs: list[np.ndarray], report: LayerCheckReport, rng,
               perturb: tuple[_Found, np.random.SeedSequence] | None) -> _Found | None:
    """One draw: forward, backward with a random dout, and every gradient compared.
    `perturb` (the first draw's findings and a stream) adds noise to the parameters first."""
    # float64 copies of every float array attribute; those that survive forward are parameters
    attributes = getattr(layer, "__dict__", {})
    arrays = {name: value.astype(np.float64) for name, value in attributes.items()
              if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)}
    for name, copy in arrays.items():
        setattr(layer, name, copy)
    listed = _use_listed_params(layer)
    if perturb is not None:
        found, stream = perturb
        to_perturb = [arrays[n] for n in found.params if n in arrays]
        to_perturb += [param for param, _ in listed[:found.listed]]
        for p, s in zip(to_perturb, stream.spawn(len(to_perturb))):
            _perturb(p, s)
    saved_inputs = [x.copy() for x in inputs]
    try:
        out = layer.forward(*inputs)
    except Exception as err:
        report.problems.append(f"forward raised {type(err).__name__}: {err}")
        return None
    if out is None:
        report.problems.append("forward returned None (a missing `return out`?)")
        return None
    try:
        finite = np.all(np.isfinite(np.asarray(out, dtype=np.float64)))
    except (TypeError, ValueError):
        report.problems.append(f"forward returned a {type(out).__name__}, not numbers")
        return None
    if not finite:
        report.problems.append("forward gave nan or inf for these inputs: pass inputs (and "
                               "parameters) inside the layer's domain")
        return None
    if any(not np.array_equal(x, s, equal_nan=True) for x, s in zip(inputs, saved_inputs)):
        report.problems.append("forward modified its input in place")
        for x, s in zip(inputs, saved_inputs):
            np.copyto(x, s)
    kept = [name for name, copy in arrays.items() if getattr(layer, name, None) is copy]
    params = [name for name in kept if name in _KNOWN_PARAMS or hasattr(layer, "d" + name)]
    for name in params:  # so a gradient that backward forgets to set cannot look set
        if hasattr(layer, "d" + name):
            setattr(layer, "d" + name, None)

    scalar_loss = np.ndim(out) == 0 and any(np.ndim(x) > 0 for x in inputs)
    differentiable = [i for i, x in enumerate(inputs) if np.issubdtype(x.dtype, np.floating)]
    targets = set(differentiable[1:]) if scalar_loss else set()
    if scalar_loss:
        differentiable = differentiable[:1]  # a loss layer: the other inputs are targets
    if getattr(layer, "input_grad", True) is False:
        differentiable = []  # e.g. Affine(..., input_grad=False): declared to return no dx
    # a loss layer's backward takes dout=1 (the book's ignore it); any other gets random values
    dout = (1.0 if scalar_loss else float(rng.standard_normal()) if np.ndim(out) == 0
            else rng.standard_normal(np.shape(out)))
    dout_before = np.copy(dout)
    try:
        grads = layer.backward(dout)
    except Exception as err:
        report.problems.append(f"backward raised {type(err).__name__}: {err}")
        return None
    if not np.array_equal(dout, dout_before, equal_nan=True):
        report.problems.append("backward modified the dout it was given (the caller may still "
                               "need it): compute a new array instead of changing dout in place")
    listed_grads = [_copy(g) for g in getattr(layer, "grads", [])] if listed else []
    for i, g in enumerate(getattr(layer, "grads", [])[:len(listed)]):
        if g is not listed[i][1]:
            report.problems.append(f"backward replaced grads[{i}] instead of writing into it "
                                   f"(grads[{i}][...] = ...): an optimizer holding the old "
                                   f"array never sees the new gradient")
    params += [name for name in kept if name not in params and hasattr(layer, "d" + name)]
    param_grads = {name: _copy(getattr(layer, "d" + name, None)) for name in params}
    if grads is None:
        grads = [None] * len(differentiable)
    grads = [_copy(g) for g in grads] if isinstance(grads, (tuple, list)) else [_copy(grads)]
    if scalar_loss:
        grads = grads[:1]
    if differentiable and len(grads) != len(differentiable):
        report.problems.append(f"backward returned {len(grads)} gradient(s) for "
                               f"{len(differentiable)} differentiable input(s)")

    def objective(_):
        return float(np.sum(np.asarray(layer.forward(*inputs), dtype=np.float64) * dout_before))

    names = _input_names(len(inputs))
    for position, i in enumerate(differentiable):
        analytic = grads[position] if position < len(grads) else None
        report.results.append(_numerical_result(names[i], analytic, objective, inputs[i], report))
    for name in params:
        if param_grads[name] is None:
            report.results.append(GradientResult("d" + name, False, problem=f"backward left "
                                                 f"d{name} unset (None): assign self.d{name}"))
        else:
            report.results.append(_numerical_result("d" + name, param_grads[name], objective,
                                                    getattr(layer, name), report))
    for i, ((param, _), grad) in enumerate(zip(listed, listed_grads)):
        if isinstance(grad, np.ndarray) and np.isnan(grad).all():
            report.results.append(GradientResult(f"grads[{i}]", False, problem=f"backward left "
                                                 f"grads[{i}] unset: write grads[{i}][...] = ..."))
        else:
            report.results.append(_numerical_result(f"grads[{i}]", grad, objective, param, report))
    return _Found(targets, params, len(listed))


def _use_listed_params(layer) -> list[tuple[np.ndarray, np.ndarray]]:
    """The book's volume 2 convention, self.params = [W, b] with backward writing into
    self.grads[i][...]: installs float64 copies, and NaN-filled grads that show if left unset."""
    params, grads = getattr(layer, "params", None), getattr(layer, "grads", None)
    if not (isinstance(params, list) and isinstance(grads, list) and len(params) == len(grads)
            and all(isinstance(a, np.ndarray) for a in params + grads)):
        return []
    layer.params = [p.astype(np.float64) for p in params]
    layer.grads = [np.full(p.shape, np.nan) for p in layer.params]
    return list(zip(layer.params, layer.grads))


def _numerical_result(name, analytic, objective, target: np.ndarray, report) -> GradientResult:
    try:
        numerical = numerical_gradient(objective, target, eps=report.eps)
    except Exception as err:
        return GradientResult(name, False, problem=f"forward raised during numerical "
                              f"differentiation: {type(err).__name__}: {err}")
    first = report.inputs[0] if report.inputs else ()
    return compare(name, analytic, numerical.astype(np.float64), report.atol, report.rtol,
                    batch=first[0] if len(first) else None)


def _copy(value):
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value
