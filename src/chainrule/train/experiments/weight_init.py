"""The book's weight_init_compare: the same 5-layer ReLU network trained by SGD from
weights of std 0.01, Xavier (sqrt(1/n)) and He (sqrt(2/n)); std 0.01 does not learn."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from chainrule.book.models import MultiLayerNet
from chainrule.book.optimizer import SGD

from .common import ExperimentResult, load_data, loss_curve, plot_loss_curves, write_result
from .optimizers import final_loss

# label -> the weight_init_std MultiLayerNet takes
INITS = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}
MARKERS = {"std=0.01": "o", "Xavier": "s", "He": "D"}
BOOK_ITERS = 2000
DEFAULT_ITERS = 500


def run(out=None, *, iters: int | None = None, full: bool = False, data="mnist",
        batch_size: int = 128, hidden=(100, 100, 100, 100), lr: float = 0.01, seed: int = 0,
        train_size: int | None = None, log=None) -> ExperimentResult:
    iters = iters or (BOOK_ITERS if full else DEFAULT_ITERS)
    (x_train, t_train), (x_test, t_test) = load_data(data, n_train=train_size, seed=seed)
    batch_size = min(batch_size, len(x_train))
    losses, test_acc, seconds = {}, {}, {}
    for label, std in INITS.items():
        start = time.perf_counter()
        net = MultiLayerNet(x_train.shape[1], list(hidden), 10, activation="relu",
                            weight_init_std=std, seed=seed, dtype=np.float32)
        curve = loss_curve(net, SGD(lr=lr), x_train, t_train, iters, batch_size, seed)
        losses[label] = curve
        test_acc[label] = float(net.accuracy(x_test, t_test))
        seconds[label] = time.perf_counter() - start
        if log:
            log(f"{label}: final loss {final_loss(curve):.4f}, test acc {test_acc[label]:.4f}")

    finals = {n: final_loss(c) for n, c in losses.items()}
    numbers = dict(iters=iters, batch_size=batch_size, lr=lr, train_size=len(x_train),
                   hidden=list(hidden), final_loss=finals,
                   first_loss={n: c[0] for n, c in losses.items()}, test_acc=test_acc,
                   seconds=seconds, losses=losses)
    small = finals["std=0.01"]
    lines = [f"weight-init: {len(hidden) + 1}-layer ReLU network, SGD lr {lr}, batch "
             f"{batch_size}, {iters} iterations on {len(x_train)} training images, the same "
             "mini-batches for each initialization.",
             "The figure shows the training loss per iteration (smoothed) for weights drawn "
             "with std 0.01, Xavier std sqrt(1/n) and He std sqrt(2/n).", "",
             f"{'init':<9} {'first loss':>10} {'final loss':>10} {'test acc':>8}"]
    for n in INITS:
        lines.append(f"{n:<9} {losses[n][0]:>10.4f} {finals[n]:>10.4f} {test_acc[n]:>8.4f}")
    lines += ["", f"std=0.01 stays near ln(10) = {np.log(10):.3f} (loss {small:.3f}): the "
              "activations and gradients shrink layer after layer, so it "
              + ("does not learn" if small > 2.0 else "learns only slowly")
              + f"; He ends at {finals['He']:.3f}, Xavier at {finals['Xavier']:.3f}."]
    result = ExperimentResult("weight-init", numbers, "\n".join(lines))
    return write_result(result, out, lambda d: plot(losses, d / "weight_init.png"))


def plot(losses: dict, path) -> Path:
    return plot_loss_curves(losses, MARKERS, 2.5,
                            "Weight initialization (ReLU, SGD): training loss (smoothed)", path)
