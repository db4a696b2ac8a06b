"""Where a run's files go: its paths checked before any work, and afterwards the history,
curves and gradient-flow report written to the output directory."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from chainrule.train.config import CONVNETS, TrainConfig

__all__ = ["check_paths", "unwritable", "default_out_dir", "write_outputs",
           "grad_flow_recorder", "header"]

PathProblem = tuple[str, "str | None", str]    # (option, its path or None, what is wrong)


def unwritable(path: str | os.PathLike, directory: bool) -> str | None:
    """Why `path` (a directory to fill, or a file to write) cannot be written, or None.
    Creates nothing: it probes the nearest existing directory with a temporary file."""
    path = Path(path)
    if path.exists() and path.is_dir() != directory:
        return "exists and is not a directory" if directory else "is a directory"
    parent = path if directory else path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        return f"cannot write in {parent} ({err.strerror or err})"
    return None


def check_paths(config: TrainConfig, out: str | os.PathLike | None = None
                ) -> PathProblem | None:
    """The first problem with the checkpoint to resume from, the output directory `out`
    or the file to save, found before any data is loaded: (option, path, problem) with
    option one of "resume", "out", "save" and path None when the problem names it."""
    if config.resume is not None:
        if not os.path.isfile(config.resume):
            return ("resume", config.resume,
                    "not a file" if os.path.exists(config.resume) else "no such file")
        from chainrule.train.checkpoints import load_checkpoint
        from chainrule.train.config import CONVNETS
        try:
            if config.model in CONVNETS:     # the network's parameters (W1, b1, ...)
                from chainrule.serialization import load
                load(config.resume)
            else:
                load_checkpoint(config.resume)
        except (OSError, ValueError) as err:
            return ("resume", None, str(err))
    for option, path, directory in (("out", out, True), ("save", config.save, False)):
        problem = None if path is None else unwritable(path, directory)
        if problem is not None:
            return (option, str(path), problem)
    return None


def default_out_dir() -> Path:
    """runs/train-<timestamp>, with a -2, -3 ... suffix if that directory exists."""
    base = Path("runs") / time.strftime("train-%Y%m%d-%H%M%S")
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def write_outputs(history: dict[str, Any], out: str | os.PathLike,
                  flow: Any = None) -> tuple[list[Path], list[str]]:
    """history.json, summary.json, curves.png (when matplotlib is installed) and the
    gradient flow (grad_flow.json/.png) in `out`: (the paths written, notes for the user)."""
    from chainrule.train.history import plot_history, save_history

    saved, notes = [save_history(history, out)], []
    try:
        saved.append(plot_history(history, Path(out) / "curves.png"))
    except ImportError:
        notes.append("note: matplotlib is not installed, so no plot was saved "
                     "(pip install chainrule[plot])")
    if flow is not None:
        paths = flow.save(out, prefix="grad_flow", plot=True)
        saved.extend(p for p in paths.values() if p is not None)
        notes.append(flow.summary())
    return saved, notes


def grad_flow_recorder(iters: int, samples: int = 500) -> tuple[Any, Callable[[int, Any], None]]:
    """A gradient-flow recorder and the on_grads callback that feeds it about `samples`
    times over a run of `iters` iterations (and at the first)."""
    from chainrule.glassbox.flow import GradFlowRecorder

    flow, every = GradFlowRecorder(), max(1, iters // samples)

    def on_grads(done: int, grads: Any) -> None:
        if done % every == 0 or done == 1:
            flow.record(done, grads)
    return flow, on_grads


def header(config: TrainConfig, out: str | os.PathLike) -> str:
    """One line saying what is about to train, on what, how, and where its files go."""
    from chainrule.train.data import TOY_TEST_SIZE, TOY_TRAIN_SIZE
    full = (60000, 10000) if config.dataset == "mnist" else (TOY_TRAIN_SIZE, TOY_TEST_SIZE)
    train_size, test_size = config.train_size or full[0], config.test_size or full[1]
    hidden = "-".join(map(str, config.hidden))
    model = (CONVNETS[config.model] if config.model in CONVNETS
             else f"{'TwoLayerNet' if len(config.hidden) == 1 else 'MultiLayerNet'} "
                  f"(hidden {hidden})" if config.api == "book" else f"an MLP (hidden {hidden})")
    epochs = config.iters * config.batch_size / train_size
    return (f"training {model} on the {config.api} face: {config.dataset} {train_size} train / "
            f"{test_size} test, {config.optimizer} lr {config.lr:g}, batch {config.batch_size}, "
            f"{config.iters} iterations ({epochs:.3g} epochs), {config.dtype} -> {out}")
