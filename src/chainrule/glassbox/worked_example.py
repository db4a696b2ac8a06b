"""The tutorials' worked example, derived in full: one SGD step on a 2-2-1 sigmoid network.

x = [1, 1], y = 0, BCE loss, SGD with lr = 1, and the PyTorch weights the tutorial starts
from. Every number is computed by chainrule's engine in float64 (the network is built
directly from Tensor ops, with BCE's log clamped at -100 as PyTorch's BCELoss) and the
chain rule for each parameter comes from `chainrule.explain`. The report also says where
the tutorial's hand calculation differs from the exact numbers, and why.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule import ops
from chainrule.engine import Tensor, tensor
from chainrule.glassbox.explain import Explanation, explain
from chainrule.glassbox.text import fmt_number, text_table

__all__ = ["WorkedExample", "worked_example", "build_network", "network", "INITIAL", "TUTORIAL", "NAMES"]

X, Y = [[1.0, 1.0]], [[0.0]]
INITIAL = {
    "layer1.weight": [[0.4352, 0.3545], [0.1951, 0.4835]],
    "layer1.bias": [-0.1419, 0.0439],
    "layer2.weight": [[-0.1725, 0.1129]],
    "layer2.bias": [-0.3043],
}

# W_jk is the weight into unit j from input k: PyTorch's layer1.weight read row by row
NAMES = {
    "layer1.weight": ("W", [["W1", "W2"], ["W3", "W4"]]),
    "layer1.bias": ("b", ["b1", "b2"]),
    "layer2.weight": ("W'", [["W5", "W6"]]),
    "layer2.bias": ("b'", ["b3"]),
}
POSITIONS = {  # scalar name -> (tensor, index, edge in the network diagram)
    "W1": ("layer1.weight", (0, 0), "x1 → h1"), "W2": ("layer1.weight", (0, 1), "x2 → h1"),
    "W3": ("layer1.weight", (1, 0), "x1 → h2"), "W4": ("layer1.weight", (1, 1), "x2 → h2"),
    "b1": ("layer1.bias", (0,), "→ h1"), "b2": ("layer1.bias", (1,), "→ h2"),
    "W5": ("layer2.weight", (0, 0), "h1 → out"), "W6": ("layer2.weight", (0, 1), "h2 → out"),
    "b3": ("layer2.bias", (0,), "→ out"),
}

# what the tutorial reports (to 4 places), keyed by the names above
TUTORIAL = {
    "σ3": 0.4154, "L": 0.5368, "∂L/∂σ3": 1.7106,
    "W5": -0.4452, "W6": -0.1667, "b3": -0.7196,
    "W1": 0.4514, "W2": 0.3707, "W3": 0.1848, "W4": 0.4732, "b1": -0.1257, "b2": 0.0336,
}


def build_network(params: dict[str, Tensor], x: Tensor, y: Tensor) -> dict[str, Tensor]:
    """The forward pass as the tutorial's PyTorch code runs it: Linear, Sigmoid, Linear,
    Sigmoid, BCELoss (mean; log clamped at -100). Returns every intermediate tensor."""
    z = ops.linear(x, params["layer1.weight"], params["layer1.bias"])
    h = z.sigmoid()
    z3 = ops.linear(h, params["layer2.weight"], params["layer2.bias"])
    p = z3.sigmoid()
    log_p, log_1mp = p.log().clip(min=-100), (1 - p).log().clip(min=-100)
    loss = (-(y * log_p + (1 - y) * log_1mp)).mean()
    return {"z": z, "σ": h, "z3": z3, "σ3": p, "L": loss}


@dataclass
class WorkedExample:
    """All numbers of the worked example, and its derivation as text (`str()`)."""
    lr: float
    forward: dict[str, float]     # z1 z2 σ1 σ2 z3 σ3 L
    local: dict[str, float]       # the local derivatives the tutorial multiplies
    before: dict[str, float]      # W1..W6, b1..b3
    grads: dict[str, float]       # ∂L/∂W1 ...
    after: dict[str, float]       # after one SGD step
    explanation: Explanation
    decimals: int = 4

    def to_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "forward": self.forward, "local": self.local,
                "before": self.before, "grads": self.grads, "after": self.after,
                "tutorial": TUTORIAL, "explanation": self.explanation.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def _f(self, v: float) -> str:
        return fmt_number(v, self.decimals)

    def __str__(self) -> str:
        return "\n".join(self._parameters() + self._forward() + self._local() + self._chains()
                         + self._update() + self._notes())

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        """The derivation in a notebook: its tables as tables, its chain-rule lines with
        each derivative drawn as a fraction."""
        from chainrule.glassbox.notebook import STYLE, html_pre, html_table, math_block
        head = self._parameters()
        params = [[n, f"{t}[{','.join(map(str, i))}]", edge, self._f(self.before[n])]
                  for n, (t, i, edge) in POSITIONS.items()]
        update = self._update()
        return "\n".join([
            STYLE, f"<p><b>{html.escape(head[0])}</b><br>{html.escape(head[1])}</p>",
            html_table(["name", "in PyTorch", "edge", "value"], params, right=[3],
                       caption=head[3]),
            math_block(self._forward()), math_block(self._local()),
            math_block(self._chains()),
            html_pre(update[0]) + html_pre("\n".join(update[2:])),
            html_pre("\n".join(self._notes()))])

    def _parameters(self) -> list[str]:
        rows = [[n, f"{t}[{','.join(map(str, i))}]", edge, self._f(self.before[n])]
                for n, (t, i, edge) in POSITIONS.items()]
        return ["The tutorials' worked example: one SGD step (lr = "
                f"{self.lr:g}) on a 2-2-1 sigmoid network with BCE loss,",
                "x = [1, 1], y = 0; every number below is computed by chainrule's engine "
                "in float64.", "",
                "Parameters (W_jk is the weight into unit j from input k: PyTorch's "
                "layer1.weight row by row)", "",
                text_table(["name", "in PyTorch", "edge", "value"], rows, right=[3]), ""]

    def _forward(self) -> list[str]:
        f, b, r = self.forward, self.before, self._f
        return [
            "Forward pass", "",
            f"  z1 = W1·x1 + W2·x2 + b1 = {r(b['W1'])} + {r(b['W2'])} + ({r(b['b1'])}) "
            f"= {r(f['z1'])}",
            f"  z2 = W3·x1 + W4·x2 + b2 = {r(b['W3'])} + {r(b['W4'])} + {r(b['b2'])} "
            f"= {r(f['z2'])}",
            f"  σ1 = σ(z1) = 1/(1 + e^−z1) = {r(f['σ1'])}",
            f"  σ2 = σ(z2) = {r(f['σ2'])}",
            f"  z3 = W5·σ1 + W6·σ2 + b3 = ({r(b['W5'])})({r(f['σ1'])}) + "
            f"({r(b['W6'])})({r(f['σ2'])}) + ({r(b['b3'])}) = {r(f['z3'])}",
            f"  σ3 = σ(z3) = {r(f['σ3'])}   ← the network's output",
            f"  L  = −[y·ln σ3 + (1 − y)·ln(1 − σ3)] = −ln(1 − σ3) = {r(f['L'])}"
            f"   (exactly {f['L']:.10f}…)", ""]

    def _local(self) -> list[str]:
        lo, r = self.local, self._f
        return [
            "Local derivatives (each evaluated at the forward values)", "",
            f"  ∂L/∂σ3  = −y/σ3 + (1 − y)/(1 − σ3) = 1/(1 − σ3) = {r(lo['∂L/∂σ3'])}",
            f"  ∂σ3/∂z3 = σ3(1 − σ3) = {r(lo['∂σ3/∂z3'])}",
            f"  ∂z3/∂W5 = σ1 = {r(lo['∂z3/∂W5'])}    ∂z3/∂W6 = σ2 = {r(lo['∂z3/∂W6'])}"
            f"    ∂z3/∂b3 = 1",
            f"  ∂z3/∂σ1 = W5 = {r(lo['∂z3/∂σ1'])}   ∂z3/∂σ2 = W6 = {r(lo['∂z3/∂σ2'])}",
            f"  ∂σ1/∂z1 = σ1(1 − σ1) = {r(lo['∂σ1/∂z1'])}   ∂σ2/∂z2 = σ2(1 − σ2) = "
            f"{r(lo['∂σ2/∂z2'])}",
            "  ∂z1/∂W1 = x1 = 1   ∂z1/∂W2 = x2 = 1   ∂z1/∂b1 = 1   (and likewise for z2)", ""]

    def _chains(self) -> list[str]:
        """One weight of each layer through its whole chain (from explain), then δ named
        once per unit, as hand derivations do, and every gradient as δ × its input."""
        out = ["The chain rule (from chainrule.explain), one weight of each layer in full", ""]
        for w in [w for w in self.explanation.wrt if not w.name.startswith("b")]:
            body = self.explanation._wrt_text(w).splitlines()[1:]
            firsts = [i for i, line in enumerate(body) if line.startswith("  ∂")]
            if firsts:
                out += body[:firsts[1] if len(firsts) > 1 else len(body)]
        lo, f, b, r = self.local, self.forward, self.before, self._f

        def par(v: float) -> str:
            return f"({r(v)})" if r(v).startswith("-") else r(v)

        d3 = lo["∂L/∂σ3"] * lo["∂σ3/∂z3"]
        d1, d2 = d3 * b["W5"] * lo["∂σ1/∂z1"], d3 * b["W6"] * lo["∂σ2/∂z2"]
        out += ["", "Every chain into a unit shares its factors down to the unit's z: name "
                "them once, δ = ∂L/∂z,",
                "and each gradient is the δ of the unit the weight feeds times the input it "
                "multiplies (∂L/∂w = δ · input)", "",
                f"  δ3 = ∂L/∂z3 = ∂L/∂σ3 · ∂σ3/∂z3 = {r(lo['∂L/∂σ3'])} × {r(lo['∂σ3/∂z3'])} "
                f"= {r(d3)}",
                f"  δ1 = ∂L/∂z1 = δ3 · ∂z3/∂σ1 · ∂σ1/∂z1 = {par(d3)} × {par(b['W5'])} × "
                f"{r(lo['∂σ1/∂z1'])} = {r(d1)}",
                f"  δ2 = ∂L/∂z2 = δ3 · ∂z3/∂σ2 · ∂σ2/∂z2 = {par(d3)} × {par(b['W6'])} × "
                f"{r(lo['∂σ2/∂z2'])} = {r(d2)}", ""]
        rows = [("W5", "δ3", d3, "σ1", f["σ1"]), ("W6", "δ3", d3, "σ2", f["σ2"]),
                ("b3", "δ3", d3, "1", 1.0), ("W1", "δ1", d1, "x1", 1.0),
                ("W2", "δ1", d1, "x2", 1.0), ("b1", "δ1", d1, "1", 1.0),
                ("W3", "δ2", d2, "x1", 1.0), ("W4", "δ2", d2, "x2", 1.0),
                ("b2", "δ2", d2, "1", 1.0)]
        out += [f"  ∂L/∂{w} = {d} · {o} = {par(dv)} × {r(ov)} = {r(self.grads[w])}"
                for w, d, dv, o, ov in rows]
        return out + [""]

    def _update(self) -> list[str]:
        rows = []
        for n in POSITIONS:
            tut = TUTORIAL[n]
            verdict = ("matches" if self._f(self.after[n]) == self._f(tut)
                       else "4th decimal off (see note 2)")
            rows.append([n, self._f(self.before[n]), self._f(self.grads[n]),
                         self._f(self.after[n]), self._f(tut), verdict])
        return [f"One SGD step: w ← w − lr · ∂L/∂w  (lr = {self.lr:g})", "",
                text_table(["param", "before", "∂L/∂w", "after", "tutorial", ""], rows,
                           right=[1, 2, 3, 4]), ""]

    def _notes(self) -> list[str]:
        f, lo, r = self.forward, self.local, self._f
        s3 = round(f["σ3"], 4)
        return [
            "Where the tutorial differs, and why", "",
            "  1. Labels. PyTorch's layer1.weight stores the first-layer weights unit by unit "
            "(h1's, then h2's),",
            "     while the tutorial numbers them by the edges of its diagram and mixes the two "
            "orders, so a",
            "     label such as W2 or W3 does not always mean the same weight. Here W1..W4 follow "
            "layer1.weight",
            "     row by row and each is shown with its matrix position and edge: the updated "
            f"{r(self.after['W3'])} is layer1.weight[1,0]",
            f"     (x1→h2, from {r(self.before['W3'])}) and {r(self.after['W2'])} is "
            f"layer1.weight[0,1] (x2→h1, from {r(self.before['W2'])}), whatever their labels.",
            "  2. Rounding. The tutorial rounds each intermediate to 4 places before using "
            "it, so errors",
            f"     reach the 4th decimal: from σ3 ≈ {s3:.4f} it gets ∂L/∂σ3 = 1/(1 − {s3:.4f}) "
            f"= {1 / (1 - s3):.4f},",
            f"     but σ3 = {f['σ3']:.8f}… gives {lo['∂L/∂σ3']:.8f}… = {r(lo['∂L/∂σ3'])}; "
            f"likewise L = −ln(1 − {s3:.4f}) = {-np.log(1 - s3):.4f}",
            f"     where the exact loss is {f['L']:.8f}… = {r(f['L'])}, and the updated W6 and b3 "
            f"are {r(self.after['W6'])} and {r(self.after['b3'])}",
            f"     ({self.after['W6']:.6f}…, {self.after['b3']:.6f}…), not "
            f"{r(TUTORIAL['W6'])} and {r(TUTORIAL['b3'])}.",
            "     The exact numbers are what PyTorch computes for the tutorial's code "
            "(chainrule's tests check them).",
        ]


def network() -> tuple[dict[str, Tensor], dict[str, Tensor], dict[Tensor, Any]]:
    """The worked example's graph in float64: (parameters, tensors incl. x, y and every
    intermediate, names in the tutorial's notation for explain and viz)."""
    params = {k: tensor(np.array(v, dtype=np.float64), requires_grad=True)
              for k, v in INITIAL.items()}
    x = tensor(np.array(X, dtype=np.float64))
    y = tensor(np.array(Y, dtype=np.float64))
    t = build_network(params, x, y)
    t.update(x=x, y=y)
    names = {params[k]: v for k, v in NAMES.items()}
    names.update({t["z"]: ("z", ["z1", "z2"]), t["σ"]: ("σ", ["σ1", "σ2"]), t["z3"]: "z3",
                  t["σ3"]: "σ3", t["L"]: "L", x: ("x", ["x1", "x2"]), y: "y"})
    return params, t, names


def worked_example(lr: float = 1.0, decimals: int = 4) -> WorkedExample:
    """Run the worked example with chainrule's engine (float64) and derive every number."""
    params, t, names = network()
    order = ["layer2.weight", "layer2.bias", "layer1.weight", "layer1.bias"]
    exp = explain(t["L"], wrt=[params[k] for k in order], names=names, decimals=decimals)

    def scalar(a, idx=(0, 0)) -> float:
        return float(np.asarray(a)[idx])

    z, h = t["z"].numpy(), t["σ"].numpy()
    p = scalar(t["σ3"].numpy())
    forward = {"z1": scalar(z), "z2": scalar(z, (0, 1)), "σ1": scalar(h), "σ2": scalar(h, (0, 1)),
               "z3": scalar(t["z3"].numpy()), "σ3": p, "L": float(t["L"].numpy())}
    before, grads, after = {}, {}, {}
    leaf_grads = {n: g for n, _, g in exp.leaves}
    for name, (key, idx, _) in POSITIONS.items():
        before[name] = float(params[key].numpy()[idx])
        grads[name] = float(leaf_grads[NAMES[key][0]][idx])
        after[name] = before[name] - lr * grads[name]
    w = params["layer2.weight"].numpy()
    local = {"∂L/∂σ3": float(exp.step("σ3").upstream.reshape(())),
             "∂σ3/∂z3": p * (1 - p), "∂z3/∂W5": forward["σ1"], "∂z3/∂W6": forward["σ2"],
             "∂z3/∂σ1": float(w[0, 0]), "∂z3/∂σ2": float(w[0, 1]),
             "∂σ1/∂z1": forward["σ1"] * (1 - forward["σ1"]),
             "∂σ2/∂z2": forward["σ2"] * (1 - forward["σ2"])}
    return WorkedExample(lr, forward, local, before, grads, after, exp, decimals)
