"""What every chapter-6 experiment shares: its data, its result, its figure canvas and the
files it leaves behind (a PNG, summary.txt and results.json in one directory)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["ExperimentResult", "PlotUnavailableError", "new_figure", "save_figure",
           "load_data", "synthetic_mnist", "write_result", "default_out_dir"]

DATA_CHOICES = ("mnist", "synthetic")


class PlotUnavailableError(ImportError):
    """matplotlib (the optional extra `plot`) is not installed."""


@dataclass
class ExperimentResult:
    """An experiment's measured numbers, the text that reads them, and its files."""
    name: str
    numbers: dict[str, Any]
    summary: str
    figure: Path | None = None
    files: list[Path] = field(default_factory=list)

    def __str__(self) -> str:
        return self.summary


def default_out_dir(name: str) -> Path:
    return Path("runs") / f"experiment-{name}"


def new_figure(figsize: tuple[float, float]):
    """A matplotlib Figure drawn by the Agg canvas: no display, no global backend change."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailableError(
            "the experiments draw their figures with matplotlib, which is not installed: "
            "pip install 'chainrule[plot]' (or pip install matplotlib)") from None
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def synthetic_mnist(n_train: int = 1000, n_test: int = 500, seed: int = 0):
    """An MNIST-shaped stand-in (784 features in [0, 1], 10 classes) that needs no download:
    each class is a random sparse 'stroke' pattern, each sample that pattern with pixels
    dropped and noise added. Learnable, but not in one step."""
    rng = np.random.default_rng(seed + 7919)
    protos = (rng.random((10, 784)) < 0.15).astype(np.float32)

    def draw(n):
        t = rng.integers(0, 10, n)
        keep = rng.random((n, 784)) < 0.7
        x = protos[t] * keep + 0.3 * rng.random((n, 784), dtype=np.float32)
        return np.clip(x, 0, 1).astype(np.float32), t

    return draw(n_train), draw(n_test)


def load_data(data, n_train: int | None = None, n_test: int | None = None, seed: int = 0):
    """((x_train, t_train), (x_test, t_test)) with flattened, normalized images and class
    labels, cut to n_train / n_test. `data` is 'mnist', 'synthetic' or such a tuple."""
    if isinstance(data, str):
        if data == "mnist":
            from chainrule.datasets import load_mnist
            data = load_mnist(normalize=True, flatten=True, one_hot_label=False)
        elif data == "synthetic":
            data = synthetic_mnist(n_train or 1000, n_test or 500, seed)
        else:
            raise ValueError(f"data must be one of {', '.join(DATA_CHOICES)} or "
                             f"((x_train, t_train), (x_test, t_test)), got {data!r}")
    (x_train, t_train), (x_test, t_test) = data
    x_train, x_test = np.asarray(x_train), np.asarray(x_test)
    x_train = x_train.reshape(len(x_train), -1)
    x_test = x_test.reshape(len(x_test), -1)
    t_train, t_test = np.asarray(t_train), np.asarray(t_test)
    if t_train.ndim == 2:
        t_train, t_test = t_train.argmax(1), t_test.argmax(1)
    if n_train is not None:
        x_train, t_train = x_train[:n_train], t_train[:n_train]
    if n_test is not None:
        x_test, t_test = x_test[:n_test], t_test[:n_test]
    return (x_train, t_train), (x_test, t_test)


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_result(result: ExperimentResult, out: str | os.PathLike | None,
                 draw: Callable[[Path], Path]) -> ExperimentResult:
    """With an output directory: the figure `draw(out)` writes there, then summary.txt and
    results.json beside it, all recorded in result.files. Without one: nothing is written."""
    if out is None:
        return result
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result.figure = draw(out)
    result.files.append(result.figure)
    summary = out / "summary.txt"
    summary.write_text(result.summary + "\n", encoding="utf-8")
    numbers = out / "results.json"
    numbers.write_text(json.dumps({"experiment": result.name, **_plain(result.numbers)},
                                  indent=1) + "\n", encoding="utf-8")
    result.files += [summary, numbers]
    return result


def loss_curve(net, opt, x_train, t_train, iters: int, batch_size: int, seed: int) -> list:
    """Train `net` with the book's optimizer `opt` on mini-batches drawn from `seed` (the same
    batches for every network of a comparison); the training loss at each iteration."""
    rng = np.random.default_rng(seed + 1)
    curve = []
    for _ in range(iters):
        mask = rng.choice(len(x_train), batch_size)
        x, t = x_train[mask], t_train[mask]
        opt.update(net.params, net.gradient(x, t))
        curve.append(float(net.loss(x, t)))
    return curve


def plot_loss_curves(losses: dict, markers: dict, top: float, title: str, path) -> Path:
    """The book's loss-per-iteration figure: each curve smoothed (smooth_curve), marked."""
    from chainrule.book.util import smooth_curve
    fig = new_figure((7, 4.8))
    ax = fig.add_subplot()
    for name, curve in losses.items():
        y = smooth_curve(curve) if len(curve) >= 6 else np.asarray(curve)
        ax.plot(np.arange(len(curve)), y, marker=markers.get(name),
                markevery=max(1, len(curve) // 20), label=name)
    ax.set_xlabel("iterations")
    ax.set_ylabel("loss")
    ax.set_ylim(0, top)
    ax.set_title(title)
    ax.legend()
    return save_figure(fig, path)
