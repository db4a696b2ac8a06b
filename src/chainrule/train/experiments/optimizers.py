"""The book's optimizer_compare_mnist: SGD, Momentum, AdaGrad and Adam train the same
5-layer ReLU network (100 units x 4) on the same mini-batches; their loss curves, smoothed."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from chainrule.book.models import MultiLayerNet
from chainrule.book.optimizer import SGD, AdaGrad, Adam, Momentum
from chainrule.book.util import smooth_curve

from .common import ExperimentResult, load_data, loss_curve, plot_loss_curves, write_result

# the book's choices: name -> (class, learning rate)
OPTIMIZERS = {"SGD": (SGD, 0.01), "Momentum": (Momentum, 0.01), "AdaGrad": (AdaGrad, 0.01),
              "Adam": (Adam, 0.001)}
BOOK_ITERS = 2000
DEFAULT_ITERS = 500
MARKERS = {"SGD": "o", "Momentum": "x", "AdaGrad": "s", "Adam": "D"}


def final_loss(losses, tail: float = 0.1) -> float:
    """The mean loss over the last `tail` of the run (at least 1 iteration)."""
    losses = np.asarray(losses, float)
    k = max(1, int(round(len(losses) * tail)))
    return float(losses[-k:].mean())


def run(out=None, *, iters: int | None = None, full: bool = False, data="mnist",
        batch_size: int = 128, hidden=(100, 100, 100, 100), seed: int = 0,
        optimizers=tuple(OPTIMIZERS), train_size: int | None = None,
        log=None) -> ExperimentResult:
    iters = iters or (BOOK_ITERS if full else DEFAULT_ITERS)
    (x_train, t_train), (x_test, t_test) = load_data(data, n_train=train_size, seed=seed)
    batch_size = min(batch_size, len(x_train))
    losses, test_acc, seconds = {}, {}, {}
    for name in optimizers:
        cls, lr = OPTIMIZERS[name]
        start = time.perf_counter()
        net = MultiLayerNet(x_train.shape[1], list(hidden), 10, activation="relu",
                            weight_init_std="he", seed=seed, dtype=np.float32)
        curve = loss_curve(net, cls(lr=lr), x_train, t_train, iters, batch_size, seed)
        losses[name] = curve
        test_acc[name] = float(net.accuracy(x_test, t_test))
        seconds[name] = time.perf_counter() - start
        if log:
            log(f"{name}: final loss {final_loss(curve):.4f}, test acc {test_acc[name]:.4f}")

    finals = {n: final_loss(c) for n, c in losses.items()}
    ranked = sorted(finals, key=finals.get)
    numbers = dict(iters=iters, batch_size=batch_size, train_size=len(x_train),
                   hidden=list(hidden), lr={n: OPTIMIZERS[n][1] for n in optimizers},
                   final_loss=finals, first_loss={n: c[0] for n, c in losses.items()},
                   test_acc=test_acc, seconds=seconds, losses=losses)
    lines = [f"optimizers: {len(hidden) + 1}-layer ReLU network ({' x '.join(map(str, hidden))}"
             f" hidden units, He init) on {len(x_train)} training images, batch {batch_size}, "
             f"{iters} iterations, the same mini-batches for each optimizer.",
             "The figure shows each optimizer's training loss per iteration (smoothed).",
             "", f"{'optimizer':<10} {'lr':>6} {'first loss':>10} {'final loss':>10} "
             f"{'test acc':>8}"]
    for n in optimizers:
        lines.append(f"{n:<10} {OPTIMIZERS[n][1]:>6g} {losses[n][0]:>10.4f} {finals[n]:>10.4f} "
                     f"{test_acc[n]:>8.4f}")
    lines += ["", "final loss = mean over the last 10% of iterations. Ranked: "
              + " < ".join(ranked) + "."]
    if "SGD" in finals:
        others = [n for n in ("AdaGrad", "Adam") if n in finals]
        if others:
            lead = ("As in the book, " if all(finals[n] < finals["SGD"] for n in others)
                    else "Unlike the book, ")
            lines.append(lead + " and ".join(
                f"{n} ends at {finals[n] / finals['SGD']:.1%} of SGD's loss" for n in others)
                + ".")
    result = ExperimentResult("optimizers", numbers, "\n".join(lines))
    return write_result(result, out, lambda d: plot(losses, d / "optimizers.png"))


def plot(losses: dict, path) -> Path:
    top = max(1.0, min(float(np.max(smooth_curve(c) if len(c) >= 6 else c))
                       for c in losses.values()))
    return plot_loss_curves(losses, MARKERS, top,
                            "Optimizers on MNIST: training loss (smoothed)", path)
