"""Gradient flow: per-layer gradient sizes while training, and the vanishing-gradient experiment.

`GradFlowRecorder` records each layer's gradient norm and mean |grad| per iteration, from
either face (the book's `net.gradient()` dict keyed W1, b1, …, or named Tensors with
`.grad`), and saves them as JSON and a PNG plot. `vanishing()` builds a deep MLP from
Tensor ops, runs one forward/backward on a batch, and returns each layer's weight-gradient
size, which makes visible how sigmoid starves the layers near the input.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from chainrule.atomic import atomic_open
from chainrule.glassbox.text import fmt_number, text_table

__all__ = ["GradFlowRecorder", "grad_arrays", "vanishing", "VanishingResult", "LayerGrad",
           "ACTIVATIONS", "INITS"]


def _array(g: Any) -> np.ndarray | None:
    if g is None:
        return None
    return np.asarray(getattr(g, "data", g), dtype=np.float64)


def grad_arrays(source: Any) -> dict[str, np.ndarray | None]:
    """{name: gradient array} from a grads dict (values arrays or Tensors), a Module with
    `named_parameters()`, or (name, Tensor) pairs (their `.grad` is read)."""
    if hasattr(source, "named_parameters"):
        source = list(source.named_parameters())
    if isinstance(source, Mapping):
        return {str(k): _array(v) for k, v in source.items()}
    return {str(n): _array(getattr(t, "grad", t)) for n, t in source}


class GradFlowRecorder:
    """Per-layer gradient norms over training, saved as JSON + PNG.

        rec = GradFlowRecorder(["W1", "b1", "W2", "b2"])   # or None: names of the first record
        rec.record(it, net.gradient(x, t))                  # book face: a grads dict
        rec.record(it, model.named_parameters())            # autograd face: reads .grad
        rec.save(out_dir)                                   # grad_flow.json, grad_flow.png
    """

    def __init__(self, layer_names: Iterable[str] | None = None):
        self.layer_names = list(layer_names) if layer_names is not None else None
        self.iterations: list[int] = []
        self.norm: dict[str, list[float]] = {}
        self.mean_abs: dict[str, list[float]] = {}

    def record(self, iteration: int, grads: Any) -> dict[str, float]:
        """Record one iteration's gradients; returns {name: norm}. A missing gradient
        (None) is recorded as NaN, so a layer that got no gradient shows up as a gap."""
        arrays = grad_arrays(grads)
        if self.layer_names is None:
            self.layer_names = list(arrays)
        unknown = [n for n in arrays if n not in self.layer_names]
        if unknown:
            raise KeyError(f"GradFlowRecorder.record: unknown layer(s) {unknown}; the "
                           f"recorder tracks {self.layer_names}")
        self.iterations.append(int(iteration))
        norms = {}
        for name in self.layer_names:
            g = arrays.get(name)
            nrm = float(np.linalg.norm(g)) if g is not None else math.nan
            mab = float(np.abs(g).mean()) if g is not None and g.size else math.nan
            self.norm.setdefault(name, []).append(nrm)
            self.mean_abs.setdefault(name, []).append(mab)
            norms[name] = nrm
        return norms

    def __len__(self) -> int:
        return len(self.iterations)

    def __repr__(self) -> str:
        return (f"GradFlowRecorder({len(self)} iterations of {len(self.layer_names or [])} "
                f"layers)\n{self.summary()}")

    def _repr_html_(self) -> str:
        from chainrule.glassbox.notebook import STYLE, html_table
        rows = [ln.split() for ln in self.summary().splitlines()[2:]]
        return STYLE + html_table(["layer", "first ‖grad‖", "last ‖grad‖", "mean ‖grad‖"], rows,
                                  right=[1, 2, 3], caption=f"Gradient flow over {len(self)} "
                                                           f"iterations")

    def to_dict(self) -> dict[str, Any]:
        def clean(vals):
            return [None if math.isnan(v) else v for v in vals]
        return {"layers": list(self.layer_names or []), "iterations": list(self.iterations),
                "norm": {k: clean(v) for k, v in self.norm.items()},
                "mean_abs": {k: clean(v) for k, v in self.mean_abs.items()}}

    def summary(self, decimals: int = 4) -> str:
        """A table of each layer's first, last and mean gradient norm."""
        rows = []
        for name in self.layer_names or []:
            vals = np.array(self.norm.get(name, []), dtype=float)
            if vals.size:
                mean = np.nanmean(vals) if np.isfinite(vals).any() else math.nan
                rows.append([name] + [fmt_number(v, decimals) for v in (vals[0], vals[-1], mean)])
        return text_table(["layer", "first ‖grad‖", "last ‖grad‖", "mean ‖grad‖"], rows,
                          right=[1, 2, 3])

    def save(self, out_dir: str | os.PathLike, prefix: str = "grad_flow",
             plot: bool = True) -> dict[str, Path]:
        """Write `<prefix>.json` and (plot=True, matplotlib present) `<prefix>.png`."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / f"{prefix}.json"}
        with atomic_open(paths["json"], "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)
        if plot and self.iterations:
            from chainrule.glassbox.plots import plot_grad_flow
            paths["png"] = plot_grad_flow(self.to_dict(), out / f"{prefix}.png")
        return paths


# ---- the vanishing-gradient experiment ---------------------------------------------------

ACTIVATIONS = ("sigmoid", "tanh", "relu")
# std of N(0, std²) for a weight matrix with n inputs; the default per activation is the
# one recommended for it (Xavier for sigmoid/tanh, He for ReLU), so what vanishes is due to
# the activation itself, not a careless scale
INITS = {"xavier": lambda n: 1 / math.sqrt(n), "he": lambda n: math.sqrt(2 / n),
         "normal": lambda n: 1.0, "small": lambda n: 0.01}
DEFAULT_INIT = {"sigmoid": "xavier", "tanh": "xavier", "relu": "he"}
MIN_DECADES = 6  # the text bars and the plot span at least this many powers of ten
# one sentence per activation: why its gradient shrinks, or does not
WHY = {
    "sigmoid": "σ'(z) ≤ 0.25: on the way back each sigmoid layer multiplies the gradient by "
               "σ'(z) (and the weights), and the factors compound.",
    "tanh": "tanh'(z) ≤ 1, and 1 only at z = 0: near zero a tanh layer passes the gradient "
            "almost whole, so it shrinks far more slowly than through sigmoids; saturated "
            "units (|z| large) pass almost nothing.",
    "relu": "ReLU'(z) is 1 where a unit is on and 0 where it is off: with He init the "
            "gradient keeps its size from layer to layer, only the off units pass nothing.",
}


@dataclass
class LayerGrad:
    layer: int
    shape: tuple[int, int]
    mean_abs: float      # mean |∂L/∂W|
    norm: float          # ‖∂L/∂W‖
    act_mean: float      # mean activation coming out of the layer
    saturated: float     # fraction of units with local derivative < 1% of its maximum


@dataclass
class VanishingResult:
    depth: int
    activation: str
    init: str
    width: int
    data: str
    batch_size: int
    loss: float
    layers: list[LayerGrad] = field(default_factory=list)
    note: str = ""

    @property
    def ratios(self) -> list[float]:
        """Each layer's mean |∂L/∂W| divided by the last layer's."""
        last = self.layers[-1].mean_abs
        return [lg.mean_abs / last if last else math.nan for lg in self.layers]

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("depth", "activation", "init", "width", "data",
                                           "batch_size", "loss", "note")}
        d["layers"] = [vars(lg) | {"shape": list(lg.shape), "ratio_to_last": r}
                       for lg, r in zip(self.layers, self.ratios)]
        return d

    def __str__(self) -> str:
        ratios = self.ratios
        logs = [math.log10(r) if r > 0 else -math.inf for r in ratios]
        lowest = min([v for v in logs if math.isfinite(v)] + [-1.0])
        span = max(-math.floor(lowest), MIN_DECADES)  # a fixed scale: runs compare
        rows = []
        for lg, r, lr in zip(self.layers, ratios, logs):
            bar = "█" * max(1, round(40 * (lr + span) / span)) if math.isfinite(lr) else ""
            rows.append([str(lg.layer), "×".join(map(str, lg.shape)), f"{lg.mean_abs:.3e}",
                         f"{lg.norm:.3e}", f"{r:.2e}", f"{lg.saturated:.0%}", bar])
        head = (f"Vanishing gradients: {self.depth} layers of {self.activation} "
                f"(width {self.width}, {self.init} init), one batch of {self.batch_size} "
                f"{self.data} examples, loss {self.loss:.4f}")
        lines = [head]
        if self.note:
            lines.append(self.note)
        decades = f"{span} decade{'s' if span > 1 else ''}"
        lines += ["", text_table(["layer", "W shape", "mean |∂L/∂W|", "‖∂L/∂W‖", "÷ last",
                                  "flat units", f"÷ last on a log scale ({decades})"], rows,
                                 right=[2, 3, 4, 5]), "",
                  "flat units: share of the layer's outputs whose activation has a local "
                  "derivative under 1% of its maximum (saturated σ/tanh, or ReLU off)."]
        first = ratios[0]
        lines.append(f"Layer 1 (next to the input) gets {first:.2e} × the gradient of layer "
                     f"{self.depth}" + (f": {-math.log10(first):.1f} orders of magnitude less."
                                        if 0 < first < 1 else "."))
        lines.append(WHY[self.activation])
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        from chainrule.glassbox.notebook import STYLE, html_pre, html_table
        rows = [[str(lg.layer), "×".join(map(str, lg.shape)), f"{lg.mean_abs:.3e}",
                 f"{lg.norm:.3e}", f"{r:.2e}", f"{lg.saturated:.0%}"]
                for lg, r in zip(self.layers, self.ratios)]
        text = str(self).splitlines()
        return STYLE + html_table(["layer", "W shape", "mean |∂L/∂W|", "‖∂L/∂W‖", "÷ last",
                                   "flat units"], rows, right=[2, 3, 4, 5], caption=text[0]) \
            + html_pre("\n".join(text[-3:]))


def _load_batch(data: str, batch_size: int, seed: int, download: bool):
    """A batch (x float64, t int64) and the data set's name; MNIST falls back to the toy set."""
    note = ""
    if data == "mnist":
        try:
            from chainrule.datasets import load_mnist
            (x, t), _ = load_mnist(normalize=True, flatten=True, download=download)
            idx = np.random.default_rng(seed).choice(len(x), size=batch_size, replace=False)
            return x[idx].astype(np.float64), t[idx], "MNIST", note
        except Exception as err:  # no cache and no network: the demo still runs
            note = (f"(MNIST could not be loaded — {type(err).__name__}: "
                    f"{str(err).splitlines()[0][:120]} — so the built-in spiral set is used)")
    elif data != "toy":
        raise ValueError(f"vanishing: data must be 'mnist' or 'toy', got {data!r}")
    from chainrule.datasets import make_spiral
    x, t = make_spiral(n_samples=max(batch_size, 3), seed=seed)
    return x[:batch_size].astype(np.float64), t[:batch_size], "spiral (toy)", note


def vanishing(depth: int = 10, activation: str = "sigmoid", width: int = 100,
              data: str = "mnist", seed: int = 0, batch_size: int = 100,
              init: str | float | None = None, download: bool = True) -> VanishingResult:
    """One forward/backward of a `depth`-layer MLP (depth-1 hidden layers of `width` units
    with `activation`, then a linear layer to the classes and softmax cross-entropy), in
    float64 with zero biases and weights N(0, std²): `init` "xavier" (std 1/√n_in, the
    default for sigmoid/tanh), "he" (√(2/n_in), the default for relu), "normal" (1),
    "small" (0.01) or a number. Returns each layer's weight-gradient size."""
    from chainrule import ops
    from chainrule.engine import tensor

    if activation not in ACTIVATIONS:
        raise ValueError(f"vanishing: activation must be one of {ACTIVATIONS}, got {activation!r}")
    if not isinstance(depth, int) or depth < 2:
        raise ValueError(f"vanishing: depth must be an integer >= 2, got {depth!r}")
    if width < 1 or batch_size < 1:
        raise ValueError(f"vanishing: width and batch_size must be >= 1, got {width}, {batch_size}")
    init = DEFAULT_INIT[activation] if init is None else init
    if isinstance(init, str):
        if init not in INITS:
            raise ValueError(f"vanishing: init must be one of {sorted(INITS)} or a number, "
                             f"got {init!r}")
        std_of, init_name = INITS[init], init
    else:
        std_of, init_name = (lambda n, s=float(init): s), f"N(0, {float(init):g}²)"

    x, t, data_name, note = _load_batch(data, batch_size, seed, download)
    classes = int(t.max()) + 1
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1]] + [width] * (depth - 1) + [max(classes, 2)]
    weights = [tensor(rng.standard_normal((n_out, n_in)) * std_of(n_in), requires_grad=True)
               for n_in, n_out in zip(sizes, sizes[1:])]
    biases = [tensor(np.zeros(n_out), requires_grad=True) for n_out in sizes[1:]]

    h = tensor(x)
    acts, slope = [], None
    for k, (w, b) in enumerate(zip(weights, biases)):
        z = ops.linear(h, w, b)
        if k == depth - 1:
            h = z
            break
        h = getattr(z, activation)()
        acts.append(h.numpy())
        slope = h.node.primitive.notation.slope  # the local derivative ÷ its maximum
    loss = ops.softmax_cross_entropy(h, t)
    loss.backward()

    layers = []
    for k, w in enumerate(weights):
        g = w.grad.numpy()
        if k < depth - 1:
            a = acts[k]
            local = slope(a)  # from the activation's output
            act_mean, saturated = float(a.mean()), float((local < 0.01).mean())
        else:
            act_mean, saturated = math.nan, 0.0
        layers.append(LayerGrad(k + 1, tuple(w.shape), float(np.abs(g).mean()),
                                float(np.linalg.norm(g)), act_mean, saturated))
    return VanishingResult(depth, activation, init_name, width, data_name, len(x),
                           float(loss.numpy()), layers, note)
