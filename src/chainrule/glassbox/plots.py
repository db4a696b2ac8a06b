"""Matplotlib plots for the glass box: gradient flow over training, and per-layer
gradient sizes of the vanishing-gradient experiment. Written with the Agg backend, so they
work without a display."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

__all__ = ["plot_grad_flow", "plot_layer_gradients"]


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def plot_grad_flow(flow: dict[str, Any], path: str | os.PathLike) -> Path:
    """Each layer's gradient norm against the iteration (log scale), from
    `GradFlowRecorder.to_dict()`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    its = flow["iterations"]
    for name in flow["layers"]:
        vals = [math.nan if v is None else v for v in flow["norm"][name]]
        ax.plot(its, vals, label=name, linewidth=1.2)
    if any(v and v > 0 for vals in flow["norm"].values() for v in vals):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("‖∂L/∂param‖ (log scale)")
    ax.set_title("Gradient flow: per-layer gradient norms")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_layer_gradients(result: Any, path: str | os.PathLike) -> Path:
    """Bars of mean |∂L/∂W| per layer (log scale) for a `VanishingResult`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    layers = [lg.layer for lg in result.layers]
    means = [lg.mean_abs for lg in result.layers]
    ax.bar(layers, means, color="#c0392b" if result.activation == "sigmoid" else "#2e86c1")
    ax.set_yscale("log")
    ax.set_xticks(layers)
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("mean |∂L/∂W| (log scale)")
    ax.set_title(f"{result.depth} layers of {result.activation}, {result.init} init, "
                 f"{result.data}")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
