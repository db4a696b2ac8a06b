"""`chainrule train`: the options parsed into a TrainConfig, handed to chainrule.train.

The choices, defaults and checks of every option are TrainConfig's; this module only
reads text, reports errors and chooses exit codes. Only argparse and the config (no
NumPy) are imported at module level, so `chainrule --help` stays instant.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chainrule.train.config import (APIS, DATASETS, DEFAULT_LR, MODELS, OPTIMIZERS,
                                    ConfigError, TrainConfig, from_text)

HELP = "train the tutorial's 784-100-10 network on MNIST (SGD, float32) and save its curves"
DEFAULT = TrainConfig()
# the options that are TrainConfig fields (the others say where and how to report)
CONFIG_OPTIONS = ("api", "optimizer", "dataset", "hidden", "lr", "batch_size", "iters", "seed",
                  "train_size", "test_size", "save", "resume", "model", "epochs")


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _number(field: str):
    """An argparse type: the number the text names (TrainConfig checks its range)."""
    def parse(text: str):
        try:
            return from_text(field, text)
        except ConfigError as err:
            raise argparse.ArgumentTypeError(err.explain(_flag)) from None
    return parse


def _lr_defaults() -> str:
    by_lr: dict[float, list[str]] = {}
    for name, lr in DEFAULT_LR.items():
        by_lr.setdefault(lr, []).append(name)
    return ", ".join(f"{lr} for {'/'.join(names)}" for lr, names in by_lr.items())


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help=HELP, description=HELP + ". Train and test accuracy on the full sets "
        "are measured before training and after every epoch; history.json, summary.json and "
        "curves.png go to --out.",
        epilog="examples:\n"
               "  chainrule train                                   # the book's TwoLayerNet\n"
               "  chainrule train --api autograd --optimizer adam --hidden 256,128\n"
               "  chainrule train --model convnet --epochs 5 --out runs/convnet")
    # defaults stay None here: an option not given takes TrainConfig's default
    p.add_argument("--api", choices=APIS,
                   help=f"which face trains the network: 'book' = TwoLayerNet with hand-written "
                        f"backward (MultiLayerNet for several --hidden sizes); 'autograd' = an "
                        f"MLP from chainrule.nn + optim (default {DEFAULT.api})")
    p.add_argument("--model", choices=MODELS,
                   help=f"mlp, or the book's convnet (SimpleConvNet: conv 30x5x5 - relu - pool - "
                        f"affine 100 - relu - affine 10) or deepconvnet (DeepConvNet), trained "
                        f"on MNIST images with the book's optimizers (default {DEFAULT.model})")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help=f"autograd face or a convnet --model: sgd, momentum / nesterov (0.9), "
                        f"adagrad, rmsprop or adam (default {DEFAULT.optimizer}; adam for the "
                        f"convnets)")
    p.add_argument("--dataset", choices=DATASETS,
                   help=f"mnist (fetched and cached on first use) or a built-in 2-D toy set for "
                        f"quick demos (default {DEFAULT.dataset})")
    p.add_argument("--hidden", metavar="N[,N...]",
                   help=f"hidden layer size, or a comma-separated list for a deeper network, "
                        f"e.g. 256,128 (default {','.join(map(str, DEFAULT.hidden))})")
    p.add_argument("--lr", type=_number("lr"),
                   help=f"learning rate (default: {_lr_defaults()}, as PyTorch)")
    p.add_argument("--batch-size", type=_number("batch_size"),
                   help=f"minibatch size (default {DEFAULT.batch_size})")
    p.add_argument("--iters", type=_number("iters"),
                   help=f"training iterations (default {DEFAULT.iters}, or as many as "
                        f"--epochs needs); 0 with a convnet --model and --resume only "
                        f"evaluates the loaded parameters")
    p.add_argument("--epochs", type=_number("epochs"), metavar="N",
                   help="train for N passes over the training set (instead of --iters)")
    p.add_argument("--seed", type=_number("seed"),
                   help=f"seed for the initial weights and the batches; the same seed gives "
                        f"the same history.json (default {DEFAULT.seed})")
    p.add_argument("--train-size", type=_number("train_size"), metavar="N",
                   help="use only the first N training samples")
    p.add_argument("--test-size", type=_number("test_size"), metavar="N",
                   help="use only the first N test samples")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output directory (default runs/train-<timestamp>)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar or per-epoch lines, only the final summary")
    p.add_argument("--save", type=Path, metavar="FILE",
                   help="write the trained model (safetensors; for --api autograd a checkpoint "
                        "with the optimizer state too, written after every epoch)")
    p.add_argument("--resume", type=Path, metavar="FILE",
                   help="--api autograd: continue from a checkpoint written by --save; gives "
                        "the same result as an uninterrupted run with the same settings. "
                        "A convnet --model: start from parameters saved by --save or "
                        "converted from the book's params.pkl by `chainrule convert`")
    p.add_argument("--grad-report", action="store_true",
                   help="record each layer's gradient norm during training; saves "
                        "grad_flow.json and grad_flow.png in --out")
    p.set_defaults(func=lambda args: run(args, p))


def make_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of the options given (the others keep TrainConfig's defaults)."""
    given = {name: getattr(args, name) for name in CONFIG_OPTIONS}
    return TrainConfig(**{name: value for name, value in given.items() if value is not None})


def run(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> int:
    import chainrule.train as training
    from chainrule.datasets import MnistUnavailableError

    try:
        config = make_config(args)
    except ConfigError as err:
        message = f"argument {_flag(err.field)}: {err.explain(_flag)}"
        if parser is not None:
            parser.error(message)           # usage, the message, exit 2
        print(f"chainrule train: error: {message}", file=sys.stderr)
        return 2
    out = args.out if args.out is not None else training.default_out_dir()
    problem = training.check_paths(config, out)    # now, not after loading data and training
    if problem is not None:
        option, path, what = problem
        where = _flag(option) if path is None else f"{_flag(option)} {path}"
        print(f"chainrule train: error: {where}: {what}", file=sys.stderr)
        return 2

    flow, on_grads = training.grad_flow_recorder(config.iters) if args.grad_report \
        else (None, None)
    progress = training.Progress(config.iters, enabled=not args.quiet)
    if not args.quiet:
        print(training.header(config, out), flush=True)
    try:
        history = training.train(config, on_iter=progress.step, on_eval=progress.epoch,
                                 on_grads=on_grads)
    except MnistUnavailableError as err:
        progress.close()
        print(f"chainrule train: {err}", file=sys.stderr)
        return 1
    except training.NonFiniteLossError as err:   # keep the run so far, then say what to change
        progress.close()
        if err.history is not None:
            done = len(err.history["loss"])
            try:
                saved = _write_outputs(training, err.history, out, flow)
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
        saved = _write_outputs(training, history, out, flow)
    except OSError as err:
        print(f"chainrule train: error: cannot write to {out}: {err}", file=sys.stderr)
        return 1
    if args.save is not None:
        saved.append(args.save)
    print(training.format_summary(history))
    print("saved " + ", ".join(str(path) for path in saved))
    return 0


def _write_outputs(training, history: dict, out: Path, flow) -> list[Path]:
    saved, notes = training.write_outputs(history, out, flow)
    for note in notes:
        print(note)
    return saved
