"""The chain rule along every path: ∂L/∂wrt written as a sum over the paths from the
output to `wrt` of the products of local derivatives, element by element while the
Jacobians are small, else as each tensor-level path's contribution."""
from __future__ import annotations

import numpy as np

from chainrule.engine import Tensor
from chainrule.glassbox.graph import GraphNames
from chainrule.glassbox.local import jacobian, vjp
from chainrule.glassbox.report import Chain, PathSum, WrtReport

__all__ = ["wrt_report", "MAX_CHAINS", "MAX_PATHS", "MAX_JACOBIAN"]

MAX_CHAINS = 48          # element-level chains listed before falling back to path sums
MAX_PATHS = 32           # tensor-level paths listed in the aggregated form
MAX_JACOBIAN = 4096      # entries of a local Jacobian built for element-level chains


class _TooMany(Exception):
    pass


def _on_paths(output: Tensor, target: Tensor, nodes: list[Tensor]) -> list[Tensor]:
    """The nodes lying on some path from output down to target, consumers first."""
    reaches = {id(target)}
    for t in nodes:  # inputs come before their consumers
        if any(id(p) in reaches for p in t.inputs if p.requires_grad):
            reaches.add(id(t))
    return [t for t in reversed(nodes) if id(t) in reaches]


def wrt_report(output: Tensor, target: Tensor, nodes: list[Tensor], namer: GraphNames,
               gradient: np.ndarray) -> WrtReport:
    """∂output/∂target as chains (or path sums) over every path; `gradient` is its total."""
    report = WrtReport(namer(target), namer(output), gradient)
    if target is output:  # ∂L/∂L = 1: no path to write out
        return report
    on_path = _on_paths(output, target, nodes)
    if id(output) not in {id(t) for t in on_path}:
        report.note = "  (the output does not depend on it: the gradient is zero)"
        return report
    # stop at user-named nodes when there are any, so a chain reads like the tutorials
    # (∂L/∂σ3 · ∂σ3/∂z3 · …); otherwise write the chain through every node
    interior = [t for t in on_path if t is not output and t is not target]
    named = {id(t) for t in interior if id(t) in namer.user_named}
    stops = {id(output), id(target)} | (named if named else {id(t) for t in interior})
    with np.errstate(all="ignore"):  # nan and inf as IEEE gives them, quietly
        try:
            _element_chains(output, target, on_path, stops, namer, report)
        except _TooMany:
            report.chains, report.element_names = {}, {}
            _path_sums(output, target, on_path, stops, namer, report)
    return report


def _element_chains(output, target, on_path, stops, namer, report) -> None:
    """Chains element by element: each factor is one entry of a (collapsed) Jacobian."""
    if any(t.numel() * p.numel() > MAX_JACOBIAN for t in on_path for p in t.inputs):
        raise _TooMany
    on_ids = {id(t) for t in on_path}
    jac: dict[tuple[int, int], np.ndarray] = {}
    for t in on_path:
        for i, p in enumerate(t.inputs):
            if id(p) in on_ids and p.requires_grad:
                key = (id(t), id(p))
                j = jacobian(t, i)
                jac[key] = j if key not in jac else jac[key] + j
    # segment Jacobians: from each stop A to the stops reachable through non-stops only
    segments: dict[int, list[tuple[Tensor, np.ndarray]]] = {}
    by_id = {id(t): t for t in on_path}
    for pos, a in enumerate(on_path):
        if id(a) not in stops or a is target:
            continue
        acc = {id(a): np.eye(a.numel())}
        for n in on_path[pos:]:
            if id(n) not in acc or (n is not a and id(n) in stops):
                continue
            for p in {id(p): p for p in n.inputs}.values():
                key = (id(n), id(p))
                if key in jac:
                    contrib = acc[id(n)] @ jac[key]
                    acc[id(p)] = contrib if id(p) not in acc else acc[id(p)] + contrib
        segments[id(a)] = [(by_id[b], m) for b, m in acc.items() if b in stops and b != id(a)]

    chains: dict[int, list[Chain]] = {}
    count = 0
    stack = [(output, k, [namer.element(output, k)], []) for k in range(output.numel())]
    while stack:
        a, i, labels, factors = stack.pop()
        for b, m in segments.get(id(a), []):
            for j in np.flatnonzero(m[i]):
                lab, fac = labels + [namer.element(b, j)], factors + [float(m[i, j])]
                if b is target:
                    count += 1
                    if count > MAX_CHAINS:
                        raise _TooMany
                    chains.setdefault(int(j), []).append(Chain(lab, fac))
                else:
                    stack.append((b, int(j), lab, fac))
    if target.numel() > MAX_CHAINS:
        raise _TooMany
    report.chains = {j: chains[j][::-1] for j in sorted(chains)}
    report.element_names = {j: namer.element(target, j) for j in range(target.numel())}
    report.n_paths = count


def _path_sums(output, target, on_path, stops, namer, report) -> None:
    """Aggregated form: each tensor-level path's contribution (a chain of VJPs)."""
    on_ids = {id(t) for t in on_path}
    seed = np.ones(output.shape)
    merged: dict[tuple[str, ...], np.ndarray] = {}
    count = 0
    stack = [(output, seed, [output])]
    while stack:
        t, g, trail = stack.pop()
        for i, p in enumerate(t.inputs):
            if id(p) not in on_ids or not p.requires_grad:
                continue
            gp = vjp(t, i, g)
            if p is target:
                count += 1
                if count > MAX_PATHS:
                    report.paths, report.n_paths = [], count
                    report.note = (f"  (more than {MAX_PATHS} paths: only the total is shown)")
                    return
                key = tuple(namer(n) for n in trail + [p] if id(n) in stops)
                merged[key] = merged[key] + gp if key in merged else gp
            else:
                stack.append((p, gp, trail + [p]))
    report.paths = [PathSum(list(k), v) for k, v in merged.items()]
    report.n_paths = count
