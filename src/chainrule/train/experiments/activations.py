"""The book's weight_init_activation_histogram: 1000 random inputs through 5 layers of 100
units; histograms of each layer's activations for several weight scales. With sigmoid, std 1
pushes them to 0 and 1, std 0.01 piles them at 0.5, Xavier spreads them; with ReLU, std 0.01
collapses them toward 0 and He keeps them alike in every layer."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from chainrule.book.functions import relu, sigmoid

from .common import ExperimentResult, new_figure, save_figure, write_result

# label -> (activation, weight std as a function of the fan-in n)
CONFIGS = {
    "sigmoid, std=1": ("sigmoid", lambda n: 1.0),
    "sigmoid, std=0.01": ("sigmoid", lambda n: 0.01),
    "sigmoid, Xavier": ("sigmoid", lambda n: np.sqrt(1.0 / n)),
    "relu, std=0.01": ("relu", lambda n: 0.01),
    "relu, Xavier": ("relu", lambda n: np.sqrt(1.0 / n)),
    "relu, He": ("relu", lambda n: np.sqrt(2.0 / n)),
}
ACTIVATIONS = {"sigmoid": sigmoid, "relu": relu}


def forward(x, activation, std_of_fan_in, layers, rng):
    """The activations of each hidden layer, the book's loop: a = act(a @ W), W ~ N(0, std²)."""
    acts = []
    a = x
    for _ in range(layers):
        n = a.shape[1]
        w = rng.standard_normal((n, n)) * std_of_fan_in(n)
        a = ACTIVATIONS[activation](a @ w)
        acts.append(a)
    return acts


def layer_stats(a: np.ndarray, activation: str) -> dict:
    flat = a.ravel()
    stats = {"mean": float(flat.mean()), "std": float(flat.std())}
    if activation == "sigmoid":
        stats["saturated"] = float(np.mean((flat < 0.01) | (flat > 0.99)))
        stats["near_half"] = float(np.mean(np.abs(flat - 0.5) < 0.05))
    else:
        stats["zero"] = float(np.mean(flat == 0))
    return stats


def run(out=None, *, samples: int = 1000, nodes: int = 100, layers: int = 5, seed: int = 0,
        configs=tuple(CONFIGS), full: bool = False, log=None) -> ExperimentResult:
    hists, stats = {}, {}
    for label in configs:
        activation, std = CONFIGS[label]
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((samples, nodes))
        acts = forward(x, activation, std, layers, rng)
        hists[label] = acts
        stats[label] = [layer_stats(a, activation) for a in acts]
        if log:
            log(f"{label}: last layer mean {stats[label][-1]['mean']:.3g}, "
                f"std {stats[label][-1]['std']:.3g}")
    numbers = dict(samples=samples, nodes=nodes, layers=layers, stats=stats)
    lines = [f"activations: {samples} random inputs (N(0, 1)) through {layers} layers of "
             f"{nodes} units, weights N(0, std²), no bias.",
             "The figure shows a histogram of each hidden layer's activations (columns) for each "
             "activation and weight scale (rows), over (0, 1) with 30 bins as in the book.", ""]
    for label in configs:
        activation = CONFIGS[label][0]
        extra = "saturated(<.01|>.99)" if activation == "sigmoid" else "exactly 0"
        lines.append(f"{label}: per layer mean / std / {extra}")
        lines.append("   " + "  ".join(
            f"L{i + 1} {s['mean']:.3g}/{s['std']:.3g}/"
            f"{s['saturated' if activation == 'sigmoid' else 'zero']:.2f}"
            for i, s in enumerate(stats[label])))
    findings = []
    if "sigmoid, std=1" in stats:
        findings.append(f"sigmoid with std 1: {stats['sigmoid, std=1'][-1]['saturated']:.0%} "
                        "of the last layer's activations are saturated at 0 or 1 (gradients "
                        "vanish).")
    if "sigmoid, std=0.01" in stats:
        s = stats["sigmoid, std=0.01"][-1]
        findings.append(f"sigmoid with std 0.01: activations pile at 0.5 (last layer mean "
                        f"{s['mean']:.3f}, std {s['std']:.2g}): every unit says the same.")
    if "sigmoid, Xavier" in stats:
        s = stats["sigmoid, Xavier"][-1]
        findings.append(f"sigmoid with Xavier: spread out (last layer std {s['std']:.3f}, "
                        f"{s['saturated']:.0%} saturated).")
    if "relu, std=0.01" in stats:
        s = stats["relu, std=0.01"]
        findings.append(f"relu with std 0.01: activations collapse toward 0 (mean "
                        f"{s[0]['mean']:.2g} in layer 1, {s[-1]['mean']:.2g} in layer "
                        f"{layers}).")
    if "relu, He" in stats:
        s = stats["relu, He"]
        findings.append(f"relu with He: the same spread in every layer (mean {s[0]['mean']:.3f} "
                        f"in layer 1, {s[-1]['mean']:.3f} in layer {layers}).")
    lines += [""] + findings
    result = ExperimentResult("activations", numbers, "\n".join(lines))
    return write_result(result, out, lambda d: plot(hists, d / "activations.png"))


def plot(hists: dict, path) -> Path:
    rows = len(hists)
    cols = max(len(a) for a in hists.values())
    fig = new_figure((2.3 * cols, 1.9 * rows))
    for r, (label, acts) in enumerate(hists.items()):
        for c, a in enumerate(acts):
            ax = fig.add_subplot(rows, cols, r * cols + c + 1)
            ax.hist(a.ravel(), 30, range=(0, 1))
            ax.set_title(f"{c + 1}-layer" if r == 0 else "", fontsize=9)
            ax.tick_params(labelsize=6)
            if label.startswith("relu"):
                ax.set_ylim(0, 7000)  # as the book's figure: the zeros' bar runs off the top
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
            else:
                ax.set_yticks([])
    return save_figure(fig, path)
