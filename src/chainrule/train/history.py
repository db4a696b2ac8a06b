"""A run's history (losses, evaluations, config) and its files: history.json, summary.json
and the curves, written so that one seed gives one history.json."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.atomic import atomic_open
from chainrule.train.config import TrainConfig

__all__ = ["new_history", "finish_history", "save_history", "plot_history", "format_summary"]


def new_history(config: TrainConfig, x_train: np.ndarray, x_test: np.ndarray, classes: int,
                iter_per_epoch: float) -> dict[str, Any]:
    """An empty history for a run of `config` on this data."""
    return {
        "api": config.api,
        "config": config.to_dict(),
        "data": {"name": config.dataset, "train_size": int(x_train.shape[0]),
                 "test_size": int(x_test.shape[0]), "input_size": int(x_train.shape[1]),
                 "classes": classes},
        "iters": config.iters,
        "iter_per_epoch": iter_per_epoch,
        "loss": [],          # batch loss at every iteration, before that iteration's update
        "eval_iters": [],    # iterations done at each evaluation
        "epochs": [],        # the same, in epochs
        "train_acc": [],
        "test_acc": [],
    }


def finish_history(history: dict[str, Any], start: float) -> None:
    """Add the wall-clock seconds since `start` and the last evaluation as "final"."""
    history["seconds"] = time.perf_counter() - start
    history["final"] = {"train_acc": history["train_acc"][-1],
                        "test_acc": history["test_acc"][-1]}


def save_history(history: dict[str, Any], out_dir: str | os.PathLike) -> Path:
    """Write history.json (everything but wall-clock time, so a seed gives the same file)
    and summary.json (final accuracies and seconds). Returns the path of history.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    deterministic = {key: value for key, value in history.items() if key != "seconds"}
    summary = {"api": history["api"], "config": history["config"], **history["final"],
               "epochs": history["epochs"][-1], "seconds": history.get("seconds")}
    _write_json(out / "summary.json", summary)
    path = out / "history.json"
    _write_json(path, deterministic)
    return path


def _write_json(path: Path, obj: Any) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def plot_history(history: dict[str, Any], path: str | os.PathLike) -> Path:
    """Save the loss curve and the train/test accuracy curves as a PNG.

    Uses matplotlib's object API (no pyplot, no global backend change); raises
    ImportError when matplotlib is not installed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)

    loss = np.asarray(history["loss"], dtype=np.float64)
    steps = np.arange(1, len(loss) + 1)
    ax_loss.plot(steps, loss, color="tab:blue", alpha=0.3, linewidth=0.6, label="batch loss")
    window = max(1, min(len(loss) // 20, int(round(history["iter_per_epoch"]))))
    if window > 1:
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax_loss.plot(steps[window - 1:], smooth, color="tab:blue",
                     label=f"mean of {window} iterations")
    ax_loss.set(title="training loss", xlabel="iteration", ylabel="cross-entropy")
    ax_loss.legend()

    ax_acc.plot(history["epochs"], history["train_acc"], marker="o", markersize=3, label="train")
    ax_acc.plot(history["epochs"], history["test_acc"], marker="s", markersize=3,
                linestyle="--", label="test")
    ax_acc.set(title="accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.0))
    ax_acc.legend(loc="lower right")

    cfg = history["config"]
    hidden = cfg["hidden"]
    hidden = ",".join(map(str, hidden)) if isinstance(hidden, list) else hidden
    fig.suptitle(f"{cfg['api']} {history['data']['name']}: hidden {hidden}, "
                 f"batch {cfg['batch_size']}, lr {cfg['lr']}, {cfg['iters']} iterations, "
                 f"seed {cfg['seed']} - final test accuracy {history['final']['test_acc']:.4f}")
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def format_summary(history: dict[str, Any]) -> str:
    """A short human summary of a finished run."""
    final = history["final"]
    return (f"final train accuracy {final['train_acc']:.4f}, "
            f"test accuracy {final['test_acc']:.4f} "
            f"({history['iters']} iterations = {history['epochs'][-1]:.2f} epochs "
            f"in {history['seconds']:.1f} s)")
