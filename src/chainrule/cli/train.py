"""`chainrule train`: the book's two-layer MNIST network trained right, with curves saved.

Only argparse is imported at module level so `chainrule --help` stays instant; NumPy, the
data and the loop are loaded by `run`.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

HELP = "train the tutorial's 784-100-10 network on MNIST (SGD, float32) and save its curves"


def _number(kind: type, low: float, strict: bool, what: str):
    """An argparse type: `kind(text)`, finite and above `low` (or at least `low`)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    return parse


_positive_int = _number(int, 0, True, "a positive integer")
_non_negative_int = _number(int, 0, False, "a non-negative integer")
_positive_float = _number(float, 0.0, True, "a positive finite number")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help=HELP, description=HELP + ". Train and test accuracy on the full sets "
        "are measured before training and after every epoch; history.json, summary.json and "
        "curves.png go to --out.")
    p.add_argument("--api", choices=["book", "autograd"], default="book",
                   help="which face trains the network: 'book' = TwoLayerNet with hand-written "
                        "backward (default); 'autograd' = an MLP from chainrule.nn + optim")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default="sgd",
                   help="autograd face only: sgd (default), momentum / nesterov (0.9), "
                        "adagrad, rmsprop or adam")
    p.add_argument("--dataset", choices=["mnist", "spiral", "blobs"], default="mnist",
                   help="mnist (default; fetched and cached on first use) or a built-in 2-D "
                        "toy set for quick demos")
    p.add_argument("--hidden", type=_hidden_sizes, default=[100], metavar="N[,N...]",
                   help="hidden size (default 100); the autograd face takes a comma-separated "
                        "list for a deeper MLP, e.g. 256,128")
    p.add_argument("--lr", type=_positive_float, default=None,
                   help="learning rate (default: 0.1 for sgd/momentum/nesterov, 0.01 for "
                        "adagrad/rmsprop, 0.001 for adam, as PyTorch)")
    p.add_argument("--batch-size", type=_positive_int, default=100,
                   help="minibatch size (default 100)")
    p.add_argument("--iters", type=_positive_int, default=10000,
                   help="SGD iterations (default 10000)")
    p.add_argument("--seed", type=_non_negative_int, default=0,
                   help="seed for the initial weights and the batches; the same seed gives "
                        "the same history.json (default 0)")
    p.add_argument("--train-size", type=_positive_int, default=None, metavar="N",
                   help="use only the first N training samples")
    p.add_argument("--test-size", type=_positive_int, default=None, metavar="N",
                   help="use only the first N test samples")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output directory (default runs/train-<timestamp>)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar or per-epoch lines, only the final summary")
    p.add_argument("--save", type=Path, default=None, metavar="FILE",
                   help="write the trained model (safetensors; for --api autograd a checkpoint "
                        "with the optimizer state too, written after every epoch)")
    p.add_argument("--resume", type=Path, default=None, metavar="FILE",
                   help="--api autograd: continue from a checkpoint written by --save; gives "
                        "the same result as an uninterrupted run with the same settings")
    p.add_argument("--grad-report", action="store_true",
                   help="record each layer's gradient norm during training; saves "
                        "grad_flow.json and grad_flow.png in --out")
    p.set_defaults(func=run)


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.1, "nesterov": 0.1, "adagrad": 0.01,
              "rmsprop": 0.01, "adam": 0.001}


def _hidden_sizes(text: str) -> list[int]:
    return [_positive_int(part.strip()) for part in text.split(",")]


def _make_config(args: argparse.Namespace):
    """The TrainConfig (book) or AutogradConfig the options describe; ValueError if they
    don't fit together."""
    from chainrule.training import TrainConfig

    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    common = dict(dataset=args.dataset, lr=lr, batch_size=args.batch_size, iters=args.iters,
                  seed=args.seed, train_size=args.train_size, test_size=args.test_size)
    if args.api == "book":
        for flag, used in (("--optimizer", args.optimizer != "sgd"),
                           ("--resume", args.resume is not None),
                           ("a list of --hidden sizes", len(args.hidden) > 1)):
            if used:
                raise ValueError(f"{flag} needs --api autograd (the book's TwoLayerNet "
                                 f"trains with plain SGD and one hidden layer)")
        return TrainConfig(api="book", hidden=args.hidden[0],
                           save=None if args.save is None else str(args.save), **common)
    from chainrule.nn_training import AutogradConfig
    return AutogradConfig(hidden=args.hidden if len(args.hidden) > 1 else args.hidden[0],
                          optimizer=args.optimizer,
                          checkpoint=None if args.save is None else str(args.save),
                          resume=None if args.resume is None else str(args.resume), **common)


def _unwritable(path: Path, directory: bool) -> str | None:
    """Why `path` (a directory to fill, or a file to write) cannot be written, or None.
    Creates nothing: it probes the nearest existing directory with a temporary file."""
    import tempfile

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


def _check_paths(args: argparse.Namespace, out: Path) -> str | None:
    """The first problem with --resume, --out or --save, found before any work."""
    if args.resume is not None:
        if not args.resume.is_file():
            return f"--resume {args.resume}: " + ("not a file" if args.resume.exists()
                                                  else "no such file")
        from chainrule.nn_training import load_checkpoint
        try:
            load_checkpoint(str(args.resume))
        except (OSError, ValueError) as err:
            return f"--resume: {err}"
    for flag, path, directory in (("--out", out, True), ("--save", args.save, False)):
        problem = None if path is None else _unwritable(path, directory)
        if problem is not None:
            return f"{flag} {path}: {problem}"
    return None


def _write_outputs(history: dict, out: Path, flow) -> list[Path]:
    """history.json, summary.json, curves.png (with matplotlib) and the gradient flow."""
    from chainrule.training import plot_history, save_history

    saved = [save_history(history, out)]
    try:
        saved.append(plot_history(history, Path(out) / "curves.png"))
    except ImportError:
        print("note: matplotlib is not installed, so no plot was saved "
              "(pip install chainrule[plot])")
    if flow is not None:
        paths = flow.save(out, prefix="grad_flow", plot=True)
        saved.extend(p for p in paths.values() if p is not None)
        print(flow.summary())
    return saved


def run(args: argparse.Namespace) -> int:
    from chainrule.datasets import MnistUnavailableError
    from chainrule.training import NonFiniteLossError, format_summary, train

    try:
        config = _make_config(args)
    except ValueError as err:
        print(f"chainrule train: error: {err}", file=sys.stderr)
        return 2
    out = args.out if args.out is not None else _default_out()
    problem = _check_paths(args, out)   # now, not after loading data and training
    if problem is not None:
        print(f"chainrule train: error: {problem}", file=sys.stderr)
        return 2

    flow = None
    if args.grad_report:
        from chainrule.glassbox.flow import GradFlowRecorder
        flow, every = GradFlowRecorder(), max(1, config.iters // 500)

        def on_grads(done: int, grads) -> None:
            if done % every == 0 or done == 1:
                flow.record(done, grads)
    progress = _Progress(config.iters, enabled=not args.quiet)
    try:
        history = train(config, on_iter=progress.step, on_eval=progress.epoch,
                        on_grads=on_grads if flow is not None else None)
    except MnistUnavailableError as err:
        progress.close()
        print(f"chainrule train: {err}", file=sys.stderr)
        return 1
    except NonFiniteLossError as err:   # keep the run so far, then say what to change
        progress.close()
        if err.history is not None:
            done = len(err.history["loss"])
            try:
                saved = _write_outputs(err.history, out, flow)
                print(f"saved the {done} iteration{'s' * (done != 1)} before it stopped: "
                      + ", ".join(str(path) for path in saved))
            except OSError as write_err:
                print(f"chainrule train: error: cannot write to {out}: {write_err}",
                      file=sys.stderr)
        print(f"chainrule train: error: {err.what} became {err.kind} at iteration "
              f"{err.iteration}: try a smaller --lr", file=sys.stderr)
        return 1
    except ValueError as err:
        progress.close()
        print(f"chainrule train: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:              # e.g. the disk filled up while saving (atomically)
        progress.close()
        what = f"could not save {args.save} ({err.strerror or err})" if args.save else err
        print(f"chainrule train: error: {what}", file=sys.stderr)
        return 1
    progress.close()

    try:
        saved = _write_outputs(history, out, flow)
    except OSError as err:
        print(f"chainrule train: error: cannot write to {out}: {err}", file=sys.stderr)
        return 1
    if args.save is not None:
        saved.append(args.save)
    print(format_summary(history))
    print("saved " + ", ".join(str(path) for path in saved))
    return 0


def _default_out() -> Path:
    base = Path("runs") / time.strftime("train-%Y%m%d-%H%M%S")
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


class _Progress:
    """Progress while training: a tqdm bar (or a plain text bar without tqdm) on a terminal;
    one line per evaluation when stdout is not a terminal; nothing when disabled."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total = total
        self.enabled = enabled
        self.tty = enabled and sys.stdout.isatty()
        self.bar = None
        self.pending_line = False   # the text bar has written a line without its newline
        self.text_every = max(1, total // 200)
        if self.tty:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self.bar = tqdm(total=total, unit="it", dynamic_ncols=True, file=sys.stdout)

    def step(self, done: int, loss: float) -> None:
        if not self.tty:
            return
        if self.bar is not None:
            self.bar.update(1)
            if done % 50 == 0 or done == self.total:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        elif done % self.text_every == 0 or done == self.total:
            width = 30
            filled = width * done // self.total
            sys.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                             f"{done}/{self.total}  loss {loss:.4f}")
            sys.stdout.flush()
            self.pending_line = True

    def epoch(self, record: dict) -> None:
        if not self.enabled:
            return
        line = (f"epoch {record['epoch']:6.2f}  iter {record['iter']:6d}  "
                f"train acc {record['train_acc']:.4f}  test acc {record['test_acc']:.4f}")
        if self.bar is not None:
            self.bar.write(line)
        elif self.tty:
            sys.stdout.write("\r" + line.ljust(70) + "\n")
            sys.stdout.flush()
            self.pending_line = False
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.pending_line:
            sys.stdout.write("\n")
            self.pending_line = False
