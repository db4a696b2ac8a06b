"""The training loop behind `chainrule train`: the book's MNIST experiment, done right.

`train(config)` runs the loop chosen by `config.api` (see `TRAINERS`; "book" is the
tutorial's TwoLayerNet + SGD) and returns a history dict. Every entry of the history
except ``seconds`` is a pure function of the config, so one seed gives one history.
`save_history` and `plot_history` write it out; the CLI adds the progress bar.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from chainrule.atomic import atomic_open

__all__ = ["TrainConfig", "train", "train_book", "load_data", "save_history",
           "plot_history", "format_summary", "NonFiniteLossError", "TRAINERS", "DATASETS"]

DATASETS = ("mnist", "spiral", "blobs")
# the toy sets' default sizes (MNIST's are its own: 60000 / 10000)
TOY_TRAIN_SIZE, TOY_TEST_SIZE = 1000, 500

Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
OnIter = Callable[[int, float], None]          # (iterations done, batch loss)
OnEval = Callable[[dict[str, float]], None]    # {"iter", "epoch", "train_acc", "test_acc"}
OnGrads = Callable[[int, Any], None]           # (iterations done, {name: grad} or named params)


@dataclass
class TrainConfig:
    """What to train and how; the defaults are the tutorial's experiment (784-100-10,
    batch 100, SGD lr 0.1, 10000 iterations), run in float32."""
    api: str = "book"
    dataset: str = "mnist"
    hidden: int = 100
    lr: float = 0.1
    batch_size: int = 100
    iters: int = 10000
    seed: int = 0
    train_size: int | None = None     # None: the whole training set
    test_size: int | None = None      # None: the whole test set
    weight_init_std: float = 0.01
    dtype: str = "float32"
    save: str | None = None           # write the trained parameters here (safetensors)

    def __post_init__(self) -> None:
        def positive_int(name: str, value: Any, allow_none: bool = False) -> None:
            if value is None and allow_none:
                return
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")

        def positive_float(name: str, value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
                    or not math.isfinite(value) or value <= 0:
                raise ValueError(f"TrainConfig.{name} must be a positive finite number, "
                                 f"got {value!r}")

        if self.api not in TRAINERS:
            raise ValueError(f"TrainConfig.api must be one of {sorted(TRAINERS)}, got {self.api!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"TrainConfig.dataset must be one of {list(DATASETS)}, "
                             f"got {self.dataset!r}")
        for name in ("hidden", "batch_size", "iters"):
            positive_int(name, getattr(self, name))
        for name in ("train_size", "test_size"):
            positive_int(name, getattr(self, name), allow_none=True)
        positive_float("lr", self.lr)
        positive_float("weight_init_std", self.weight_init_std)
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) \
                or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be a non-negative integer, got {self.seed!r}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"TrainConfig.dtype must be 'float32' or 'float64', got {self.dtype!r}")


class NonFiniteLossError(ValueError):
    """Training stopped because the loss (or, checked before a save, a parameter) became
    nan or ±inf. `iteration` counts from 1; `history` is the run so far (its losses all
    finite), finished with "final" and "stopped" so that it can still be saved."""

    def __init__(self, iteration: int, value: float, history: dict[str, Any] | None = None,
                 what: str = "loss") -> None:
        self.iteration, self.value, self.history, self.what = iteration, value, history, what
        self.kind = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        super().__init__(f"{what} became {self.kind} at iteration {iteration}: try a smaller "
                         f"learning rate")


def stop_if_not_finite(value: float, done: int, history: dict[str, Any], start: float,
                       what: str = "loss") -> None:
    """Raise NonFiniteLossError when `value` (of iteration `done`) is nan or ±inf, after
    finishing the history so far."""
    if math.isfinite(value):
        return
    err = NonFiniteLossError(done, value, history, what)
    history["stopped"] = {"iteration": done, "reason": f"{what} became {err.kind}"}
    finish_history(history, start)
    raise err


def worst_value(arrays) -> float:
    """nan if any array holds a nan, else ±inf if one holds an infinity, else 0.0."""
    worst = 0.0
    for a in arrays:
        if not np.isfinite(a).all():
            if np.isnan(a).any():
                return math.nan
            worst = math.inf if np.isposinf(a).any() else -math.inf
    return worst


def finish_history(history: dict[str, Any], start: float) -> None:
    """Add the wall-clock seconds and the last evaluation as "final"."""
    history["seconds"] = time.perf_counter() - start
    history["final"] = {"train_acc": history["train_acc"][-1],
                        "test_acc": history["test_acc"][-1]}


# ----------------------------------------------------------------------------- data

def load_data(config: TrainConfig) -> Data:
    """The data set named by the config, cut to train_size/test_size (the first samples),
    images flattened, x in the config's dtype and integer labels."""
    if config.dataset == "mnist":
        from chainrule.datasets import load_mnist
        (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True)
    else:
        from chainrule.datasets import load_toy
        (x_train, t_train), (x_test, t_test) = load_toy(
            config.dataset, train_size=config.train_size or TOY_TRAIN_SIZE,
            test_size=config.test_size or TOY_TEST_SIZE, seed=config.seed)
    x_train, t_train = _subset("train", x_train, t_train, config.train_size)
    x_test, t_test = _subset("test", x_test, t_test, config.test_size)
    dtype = np.dtype(config.dtype)
    return ((x_train.astype(dtype, copy=False), t_train),
            (x_test.astype(dtype, copy=False), t_test))


def _subset(split: str, x: np.ndarray, t: np.ndarray, size: int | None):
    if size is None:
        return x, t
    if size > len(x):
        raise ValueError(f"--{split}-size {size} is larger than the {len(x)} {split} samples "
                         f"available")
    return x[:size], t[:size]


# ----------------------------------------------------------------------------- training

def train(config: TrainConfig, data: Data | None = None, *, on_iter: OnIter | None = None,
          on_eval: OnEval | None = None, on_grads: OnGrads | None = None) -> dict[str, Any]:
    """Run the trainer chosen by `config.api` and return its history."""
    return TRAINERS[config.api](config, data, on_iter=on_iter, on_eval=on_eval,
                                on_grads=on_grads)


def train_book(config: TrainConfig, data: Data | None = None, *, on_iter: OnIter | None = None,
               on_eval: OnEval | None = None, on_grads: OnGrads | None = None) -> dict[str, Any]:
    """The tutorial's loop with the book's TwoLayerNet: minibatches drawn with replacement,
    plain SGD updating the parameters in place, and train/test accuracy on the full sets
    before training, after every epoch and at the end.

    Everything stays in `config.dtype`: a gradient of another dtype (a silent upcast
    somewhere in backward) is an error, not something the update quietly casts away. A
    loss that becomes nan or inf stops the run with NonFiniteLossError (nothing is saved).
    """
    from chainrule.models import TwoLayerNet

    (x_train, t_train), (x_test, t_test) = data if data is not None else load_data(config)
    dtype = np.dtype(config.dtype)
    _check_data(x_train, t_train, x_test, t_test, dtype)
    classes = int(max(t_train.max(), t_test.max())) + 1
    rng = np.random.default_rng(config.seed)
    network = TwoLayerNet(input_size=x_train.shape[1], hidden_size=config.hidden,
                          output_size=classes, weight_init_std=config.weight_init_std,
                          dtype=dtype, rng=rng)

    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / config.batch_size, 1)
    history = _new_history(config, x_train, x_test, classes, iter_per_epoch)

    evaluate = make_evaluator(network.accuracy, history, (x_train, t_train, x_test, t_test),
                              on_eval)
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked: loss
        evaluate(0)
        for i in range(config.iters):
            batch_mask = rng.choice(train_size, config.batch_size)
            x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]

            done = i + 1
            loss = float(network.loss(x_batch, t_batch))
            stop_if_not_finite(loss, done, history, start)
            grads = network.gradient(x_batch, t_batch)
            if on_grads is not None:
                on_grads(done, grads)
            for key, param in network.params.items():
                if grads[key].dtype != param.dtype:
                    raise TypeError(f"gradient of {key} is {grads[key].dtype} but the parameter "
                                    f"is {param.dtype}: something in backward upcast it")
                param -= config.lr * grads[key]      # in place: the layers hold these arrays

            history["loss"].append(loss)
            if on_iter is not None:
                on_iter(done, loss)
            if math.floor(done / iter_per_epoch) > math.floor(i / iter_per_epoch) \
                    or done == config.iters:
                evaluate(done)
    finish_history(history, start)
    history["param_dtypes"] = {key: str(p.dtype) for key, p in network.params.items()}
    if config.save is not None:     # never a model of nan or inf
        stop_if_not_finite(worst_value(network.params.values()), config.iters, history, start,
                           what="a parameter")
        from chainrule.serialization import save
        Path(config.save).parent.mkdir(parents=True, exist_ok=True)
        save(dict(network.params), config.save)
    return history


def _train_autograd(*args, **kwargs) -> dict[str, Any]:
    """The autograd face's loop (chainrule.nn_training), imported only when used."""
    from chainrule.nn_training import train_autograd
    return train_autograd(*args, **kwargs)


TRAINERS: dict[str, Callable[..., dict[str, Any]]] = {"book": train_book,
                                                      "autograd": _train_autograd}


def make_evaluator(accuracy: Callable[[np.ndarray, np.ndarray], float],
                   history: dict[str, Any], data: tuple, on_eval: OnEval | None
                   ) -> Callable[[int], None]:
    """`evaluate(done)`: train and test accuracy on the full sets, appended to the history
    and passed to on_eval."""
    x_train, t_train, x_test, t_test = data

    def evaluate(done: int) -> None:
        record = {"iter": done, "epoch": done / history["iter_per_epoch"],
                  "train_acc": accuracy(x_train, t_train),
                  "test_acc": accuracy(x_test, t_test)}
        for key, column in (("iter", "eval_iters"), ("epoch", "epochs"),
                            ("train_acc", "train_acc"), ("test_acc", "test_acc")):
            history[column].append(record[key])
        if on_eval is not None:
            on_eval(record)
    return evaluate


def _check_data(x_train, t_train, x_test, t_test, dtype: np.dtype) -> None:
    for name, x, t in (("train", x_train, t_train), ("test", x_test, t_test)):
        if x.ndim != 2 or x.dtype != dtype:
            raise TypeError(f"{name} inputs must be a 2-d {dtype} array, got {x.dtype} {x.shape}")
        if t.ndim != 1 or len(t) != len(x) or not np.issubdtype(t.dtype, np.integer):
            raise TypeError(f"{name} labels must be {len(x)} integer class indices, "
                            f"got {t.dtype} {t.shape}")


def _new_history(config: TrainConfig, x_train, x_test, classes: int,
                 iter_per_epoch: float) -> dict[str, Any]:
    return {
        "api": config.api,
        "config": asdict(config),
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


# ----------------------------------------------------------------------------- outputs

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
    fig.suptitle(f"{cfg['api']} {history['data']['name']}: hidden {cfg['hidden']}, "
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
