"""The book's batch_norm_test: a 6-layer ReLU network (100 units x 5) trained by SGD on a
small MNIST subset with and without batch normalization, for 16 weight scales from 1 down to
1e-4; training accuracy per epoch on a 4x4 grid."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from chainrule.book.multi_layer_net_extend import MultiLayerNetExtend
from chainrule.book.optimizer import SGD

from .common import ExperimentResult, load_data, new_figure, save_figure, write_result

BOOK_EPOCHS = 20
DEFAULT_EPOCHS = 20


def weight_scales(n: int = 16) -> np.ndarray:
    """The book's scales: np.logspace(0, -4, num=16)."""
    return np.logspace(0, -4, num=n)


def train_pair(x, t, scale, *, epochs, batch_size, lr, hidden, seed):
    """Train a batch-norm and a plain network on the same batches; each one's training
    accuracy once per epoch (the book's loop: record after the epoch's first update)."""
    nets = {name: MultiLayerNetExtend(x.shape[1], list(hidden), 10, weight_init_std=scale,
                                      use_batchnorm=(name == "batchnorm"), seed=seed,
                                      dtype=np.float32)
            for name in ("batchnorm", "plain")}
    opts = {name: SGD(lr=lr) for name in nets}
    acc = {name: [] for name in nets}
    rng = np.random.default_rng(seed + 1)
    iter_per_epoch = max(len(x) // batch_size, 1)
    i = 0
    while len(acc["plain"]) < epochs:
        mask = rng.choice(len(x), batch_size)
        for name, net in nets.items():
            with np.errstate(over="ignore", invalid="ignore"):  # large scales blow up (the
                opts[name].update(net.params, net.gradient(x[mask], t[mask]))  # lesson)
        if i % iter_per_epoch == 0:
            for name, net in nets.items():
                with np.errstate(over="ignore", invalid="ignore"):
                    acc[name].append(float(net.accuracy(x, t)))
        i += 1
    return acc


def run(out=None, *, epochs: int | None = None, full: bool = False, data="mnist",
        train_size: int = 1000, batch_size: int = 100, lr: float = 0.01,
        hidden=(100, 100, 100, 100, 100), scales: int = 16, seed: int = 0,
        log=None) -> ExperimentResult:
    epochs = epochs or (BOOK_EPOCHS if full else DEFAULT_EPOCHS)
    (x, t), _ = load_data(data, n_train=train_size, n_test=1, seed=seed)
    batch_size = min(batch_size, len(x))
    ws = weight_scales(scales)
    runs, start = [], time.perf_counter()
    for k, w in enumerate(ws):
        acc = train_pair(x, t, w, epochs=epochs, batch_size=batch_size, lr=lr, hidden=hidden,
                         seed=seed + k)
        runs.append(acc)
        if log:
            log(f"{k + 1:2d}/{len(ws)} W scale {w:.3g}: batch norm {acc['batchnorm'][-1]:.3f}, "
                f"plain {acc['plain'][-1]:.3f}")
    mean_bn = [float(np.mean(r["batchnorm"])) for r in runs]
    mean_plain = [float(np.mean(r["plain"])) for r in runs]
    faster = [b > p for b, p in zip(mean_bn, mean_plain)]
    numbers = dict(epochs=epochs, train_size=len(x), batch_size=batch_size, lr=lr,
                   hidden=list(hidden), weight_scales=ws.tolist(),
                   final_acc_batchnorm=[r["batchnorm"][-1] for r in runs],
                   final_acc_plain=[r["plain"][-1] for r in runs],
                   mean_acc_batchnorm=mean_bn, mean_acc_plain=mean_plain,
                   batchnorm_faster=sum(faster), seconds=time.perf_counter() - start,
                   curves=runs)
    lines = [f"batchnorm: {len(hidden) + 1}-layer ReLU network ({len(hidden)} x {hidden[0]}), "
             f"SGD lr {lr}, batch {batch_size}, {epochs} epochs on {len(x)} training images, "
             f"with and without batch normalization, for {len(ws)} weight scales "
             f"logspace(0, -4).",
             "The figure shows training accuracy per epoch for each scale (solid: batch norm, "
             "dashed: without).", "",
             f"{'W scale':>9} {'BN final':>8} {'plain final':>11} {'BN mean':>8} "
             f"{'plain mean':>10}"]
    for w, r, b, p in zip(ws, runs, mean_bn, mean_plain):
        lines.append(f"{w:>9.3g} {r['batchnorm'][-1]:>8.3f} {r['plain'][-1]:>11.3f} "
                     f"{b:>8.3f} {p:>10.3f}")
    lines += ["", f"Batch norm has the higher mean accuracy over the epochs (learns faster) at "
              f"{sum(faster)} of {len(ws)} scales; averaged over all scales its final training "
              f"accuracy is {np.mean(numbers['final_acc_batchnorm']):.3f} against "
              f"{np.mean(numbers['final_acc_plain']):.3f} without."]
    result = ExperimentResult("batchnorm", numbers, "\n".join(lines))
    return write_result(result, out, lambda d: plot(ws, runs, d / "batchnorm.png"))


def plot(ws, runs, path) -> Path:
    cols = 4
    rows = -(-len(ws) // cols)
    fig = new_figure((10, 2.3 * rows + 0.6))
    for k, (w, acc) in enumerate(zip(ws, runs)):
        ax = fig.add_subplot(rows, cols, k + 1)
        x = np.arange(len(acc["plain"]))
        ax.plot(x, acc["batchnorm"], label="Batch Normalization", markevery=2)
        ax.plot(x, acc["plain"], linestyle="--", label="Normal(without BatchNorm)",
                markevery=2)
        ax.set_title(f"W:{w:.3g}", fontsize=9)
        ax.set_ylim(0, 1.0)
        ax.tick_params(labelsize=7)
        if k % cols:
            ax.set_yticks([])
        else:
            ax.set_ylabel("accuracy", fontsize=8)
        if k < len(ws) - cols:
            ax.set_xticks([])
        else:
            ax.set_xlabel("epochs", fontsize=8)
        if k == len(ws) - 1:
            ax.legend(loc="lower right", fontsize=7)
    return save_figure(fig, path)
