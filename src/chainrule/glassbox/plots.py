"""Matplotlib plots for the glass box: gradient flow over training, and per-layer
gradient sizes of the vanishing-gradient experiment. Written with the Agg backend, so they
work without a display."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

__all__ = ["plot_grad_flow", "plot_layer_gradients", "moving_average"]


def moving_average(values: list[float], window: int) -> list[float]:
    """The mean of each value and the (up to) window − 1 before it, skipping NaN gaps."""
    out, recent = [], []
    for v in values:
        recent.append(v)
        if len(recent) > window:
            recent.pop(0)
        finite = [x for x in recent if not math.isnan(x)]
        out.append(sum(finite) / len(finite) if finite else math.nan)
    return out


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def plot_grad_flow(flow: dict[str, Any], path: str | os.PathLike) -> Path:
    """Each layer's gradient norm against the iteration (log scale), from
    `GradFlowRecorder.to_dict()`: the raw values as faint lines, a moving average over
    them in the same colour, so the trend shows through the batch-to-batch noise."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    its = flow["iterations"]
    window = max(1, len(its) // 25)
    for k, name in enumerate(flow["layers"]):
        vals = [math.nan if v is None else v for v in flow["norm"][name]]
        color = f"C{k % 10}"
        ax.plot(its, vals, color=color, linewidth=0.6, alpha=0.25)
        ax.plot(its, moving_average(vals, window), color=color, linewidth=1.6, label=name)
    if any(v and v > 0 for vals in flow["norm"].values() for v in vals):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("‖∂L/∂param‖ (log scale)")
    ax.set_title(f"Gradient flow: per-layer gradient norms (faint: each iteration; bold: "
                 f"mean of {window})" if window > 1 else
                 "Gradient flow: per-layer gradient norms")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_layer_gradients(results: Any, path: str | os.PathLike) -> Path:
    """Each layer's mean |∂L/∂W| divided by the last layer's, one line per
    `VanishingResult` (one or several activations), on one log axis that spans at least
    six powers of ten, so a run that keeps its gradient (relu) looks flat and one that
    starves its early layers (sigmoid) falls away, whichever is drawn alone."""
    from chainrule.glassbox.flow import MIN_DECADES
    results = results if isinstance(results, (list, tuple)) else [results]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colors = {"sigmoid": "#c0392b", "tanh": "#d68910", "relu": "#2e86c1"}
    lowest = 1.0
    for r in results:
        layers = [lg.layer for lg in r.layers]
        ratios = [v if v > 0 else math.nan for v in r.ratios]
        finite = [v for v in ratios if math.isfinite(v)]
        lowest = min([lowest] + finite)
        ax.plot(layers, ratios, marker="o", color=colors.get(r.activation),
                label=f"{r.activation} ({r.init} init): layer 1 gets {r.ratios[0]:.1e} × "
                      f"layer {r.depth}'s")
    decades = max(MIN_DECADES, math.ceil(-math.log10(lowest)) + 1)
    ax.set_yscale("log")
    ax.set_ylim(10.0 ** -decades, 10.0)
    ax.axhline(1.0, color="#888888", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(1, max(r.depth for r in results) + 1))
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("mean |∂L/∂W| ÷ the last layer's (log scale)")
    first = results[0]
    ax.set_title(f"Vanishing gradients: {first.depth} layers, width {first.width}, "
                 f"{first.data}")
    ax.grid(True, axis="y", which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
