"""The training loop on the autograd face: the tutorial's MNIST experiment with
`chainrule.nn` + `chainrule.optim` (what `chainrule train --api autograd` runs).

It mirrors `chainrule.training.train_book` — the same data, minibatches drawn with
replacement from a generator seeded by `config.seed`, accuracy on the full sets before
training, after every epoch and at the end, the same history dict — with an MLP of
`nn.Linear` + `nn.ReLU` layers (784 -> hidden... -> 10, PyTorch's default init),
CrossEntropyLoss on class indices and a choice of optimizer, float32 end to end.

Checkpoints (`config.checkpoint`) are one safetensors file: model and optimizer arrays as
tensors, and the iteration, optimizer scalars, generator states, config and history so
far as JSON in the metadata. Resuming (`config.resume`) continues exactly where the run
stopped: the result equals an uninterrupted run with the same seed, bit for bit.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from chainrule import nn, optim
from chainrule.engine import as_tensor, no_grad
from chainrule.serialization import load, load_metadata, save
from chainrule.training import (TRAINERS, Data, OnEval, OnIter, TrainConfig, _check_data,
                                _new_history, finish_history, load_data, make_evaluator,
                                stop_if_not_finite, worst_value)

__all__ = ["AutogradConfig", "train_autograd", "build_mlp", "make_optimizer", "accuracy",
           "save_checkpoint", "load_checkpoint", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
CHECKPOINT_FORMAT = "chainrule-autograd-checkpoint-1"
# config fields that must agree between a checkpoint and the run resuming it
_RESUME_FIELDS = ("dataset", "hidden", "lr", "batch_size", "seed", "train_size", "test_size",
                  "dtype", "optimizer")


@dataclass
class AutogradConfig(TrainConfig):
    """TrainConfig plus the autograd face's options: `hidden` may be a list (a deeper MLP),
    `optimizer` one of OPTIMIZERS (momentum 0.9 for momentum/nesterov), and checkpointing:
    write `checkpoint` every `checkpoint_every` iterations (None: after every epoch) and at
    the end; `resume` continues from a checkpoint file."""
    api: str = "autograd"
    hidden: Any = 100
    optimizer: str = "sgd"
    checkpoint: str | None = None
    checkpoint_every: int | None = None
    resume: str | None = None

    def __post_init__(self) -> None:
        sizes = list(self.hidden) if isinstance(self.hidden, (list, tuple)) else [self.hidden]
        if not sizes:
            raise ValueError("AutogradConfig.hidden must name at least one hidden size")
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
                raise ValueError(f"AutogradConfig.hidden sizes must be positive integers, "
                                 f"got {self.hidden!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"AutogradConfig.optimizer must be one of {list(OPTIMIZERS)}, "
                             f"got {self.optimizer!r}")
        every = self.checkpoint_every
        if every is not None and (isinstance(every, bool) or not isinstance(every, int)
                                  or every < 1):
            raise ValueError(f"AutogradConfig.checkpoint_every must be a positive integer or "
                             f"None, got {every!r}")
        hidden = self.hidden
        self.hidden = int(sizes[0])            # the shared checks expect one int
        try:
            super().__post_init__()
        finally:
            self.hidden = [int(s) for s in sizes] if isinstance(hidden, (list, tuple)) \
                else int(hidden)

    @property
    def hidden_sizes(self) -> list[int]:
        return list(self.hidden) if isinstance(self.hidden, list) else [self.hidden]


def build_mlp(input_size: int, hidden: list[int], classes: int,
              dtype: Any = np.float32) -> nn.Sequential:
    """Linear -> ReLU -> ... -> Linear, PyTorch's default initialisation."""
    layers: list[nn.Module] = []
    sizes = [input_size, *hidden]
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out, dtype=dtype), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], classes, dtype=dtype))
    return nn.Sequential(*layers)


def make_optimizer(name: str, params: Any, lr: float) -> optim.Optimizer:
    """The optimizer a config names; "momentum"/"nesterov" are SGD with momentum 0.9."""
    if name == "sgd":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "nesterov":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose from {list(OPTIMIZERS)}")


def accuracy(model: nn.Module, x: np.ndarray, t: np.ndarray, batch: int = 10000) -> float:
    """Fraction of rows whose largest logit is the label, in big batches without a graph."""
    was_training = model.training
    model.eval()
    correct = 0
    with no_grad():
        for i in range(0, len(x), batch):
            logits = model(as_tensor(x[i:i + batch])).data
            correct += int((logits.argmax(axis=1) == t[i:i + batch]).sum())
    model.train(was_training)
    return correct / len(x)


# ----------------------------------------------------------------------------- checkpoints

def save_checkpoint(path: str, model: nn.Module, optimizer: optim.Optimizer, iteration: int,
                    rng: np.random.Generator, history: dict[str, Any]) -> None:
    """Model + optimizer + iteration + generator states + history in one safetensors file
    (written atomically, with each tensor's SHA-256)."""
    from chainrule.random import get_rng
    tensors: dict[str, Any] = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_state = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in opt_state["state"].items():
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                tensors[f"optimizer.state.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    history = {k: v for k, v in history.items() if k != "seconds"}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "iteration": str(iteration),
        "optimizer": json.dumps({"type": type(optimizer).__name__,
                                 "param_groups": opt_state["param_groups"],
                                 "scalars": scalars}),
        "rng": json.dumps(rng.bit_generator.state),
        "global_rng": json.dumps(get_rng().bit_generator.state),
        "history": json.dumps(history),
    }
    save(tensors, path, metadata=metadata)


def load_checkpoint(path: str) -> dict[str, Any]:
    """{"model": state dict, "optimizer": {"type", "state_dict"}, "iteration", "rng",
    "global_rng", "history"} from a file written by save_checkpoint.

    The tensors are checked against their recorded SHA-256 (checkpoints written before
    the record existed load unchecked); a damaged metadata field is a ValueError naming
    the file and the field."""
    meta = load_metadata(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a chainrule autograd training checkpoint "
                         f"(format {meta.get('format')!r})")
    iteration = _field(path, meta, "iteration", int)
    if isinstance(iteration, bool) or iteration < 0:
        raise ValueError(f"{path}: checkpoint field 'iteration' must be a non-negative "
                         f"integer, got {meta['iteration']!r}")
    opt_meta = _field(path, meta, "optimizer", dict)
    for key, kind in (("type", str), ("param_groups", list), ("scalars", dict)):
        _check_type(path, f"optimizer.{key}", opt_meta.get(key), kind)
    history = _field(path, meta, "history", dict)
    _check_type(path, "history.config", history.get("config"), dict)
    for key in ("loss", "eval_iters", "epochs", "train_acc", "test_acc"):
        _check_type(path, f"history.{key}", history.get(key), list)
    rngs = {name: _generator_state(path, meta, name) for name in ("rng", "global_rng")}
    tensors = load(path)
    model_sd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    state: dict[int, dict[str, Any]] = {}
    try:
        for idx, scalars in opt_meta["scalars"].items():
            state.setdefault(int(idx), {}).update(scalars)
        for key, value in tensors.items():
            if key.startswith("optimizer.state."):
                idx, name = key[len("optimizer.state."):].split(".", 1)
                state.setdefault(int(idx), {})[name] = value.data
        for group in opt_meta["param_groups"]:
            if "betas" in group:
                group["betas"] = tuple(group["betas"])
    except (TypeError, ValueError, AttributeError):
        raise ValueError(f"{path}: checkpoint field 'optimizer' does not describe an "
                         f"optimizer state (the file is damaged)") from None
    return {"model": model_sd, "iteration": iteration,
            "optimizer": {"type": opt_meta["type"],
                          "state_dict": {"state": state, "param_groups": opt_meta["param_groups"]}},
            "rng": rngs["rng"], "global_rng": rngs["global_rng"], "history": history}


def _check_type(path: str, name: str, value: Any, kind: type) -> None:
    if not isinstance(value, kind):
        raise ValueError(f"{path}: checkpoint field {name!r} must be a JSON "
                         f"{_JSON_NAMES[kind]}, got {type(value).__name__} (the file is damaged)")


_JSON_NAMES = {dict: "object", list: "array", str: "string", int: "integer"}


def _field(path: str, meta: dict[str, str], name: str, kind: type) -> Any:
    """One metadata field, parsed as JSON and of the given type."""
    if name not in meta:
        raise ValueError(f"{path}: checkpoint has no {name!r} field (the file is damaged)")
    try:
        value = json.loads(meta[name])
    except (ValueError, RecursionError):
        raise ValueError(f"{path}: checkpoint field {name!r} is not valid JSON "
                         f"(the file is damaged)") from None
    _check_type(path, name, value, kind)
    return value


def _generator_state(path: str, meta: dict[str, str], name: str) -> dict[str, Any]:
    """A random generator state from the metadata, tried on a scratch generator first."""
    state = _field(path, meta, name, dict)
    try:
        np.random.default_rng().bit_generator.state = state
    except (TypeError, ValueError, KeyError):
        raise ValueError(f"{path}: checkpoint field {name!r} is not a random generator "
                         f"state (the file is damaged)") from None
    return state


# ----------------------------------------------------------------------------- training

def train_autograd(config: TrainConfig, data: Data | None = None, *,
                   on_iter: OnIter | None = None, on_eval: OnEval | None = None,
                   on_grads: Callable[[int, Any], None] | None = None) -> dict[str, Any]:
    """Train the MLP the config describes and return the history (as train_book does).

    A plain TrainConfig is accepted too (plain SGD, one hidden layer, no checkpoints). A
    loss that becomes nan or inf stops the run with NonFiniteLossError; the last checkpoint
    written stays as it was."""
    from chainrule.random import manual_seed

    if not isinstance(config, AutogradConfig):
        config = AutogradConfig(**{**asdict(config), "api": "autograd"})
    (x_train, t_train), (x_test, t_test) = data if data is not None else load_data(config)
    dtype = np.dtype(config.dtype)
    _check_data(x_train, t_train, x_test, t_test, dtype)
    classes = int(max(t_train.max(), t_test.max())) + 1

    manual_seed(config.seed)                       # the initial weights
    model = build_mlp(x_train.shape[1], config.hidden_sizes, classes, dtype)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(config.seed)       # the minibatches

    train_size = x_train.shape[0]
    iter_per_epoch = max(train_size / config.batch_size, 1)
    history = _new_history(config, x_train, x_test, classes, iter_per_epoch)
    start_iter = 0
    if config.resume is not None:
        start_iter, history = _resume(config, model, optimizer, rng, history)

    evaluate = make_evaluator(lambda x, t: accuracy(model, x, t), history,
                              (x_train, t_train, x_test, t_test), on_eval)

    params = list(model.parameters())
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # checked: loss
        if start_iter == 0:
            evaluate(0)
        for i in range(start_iter, config.iters):
            done = i + 1
            batch_mask = rng.choice(train_size, config.batch_size)
            loss = loss_fn(model(as_tensor(x_train[batch_mask])), t_train[batch_mask])
            value = float(loss.data)
            stop_if_not_finite(value, done, history, start)
            optimizer.zero_grad()
            loss.backward()
            if on_grads is not None:
                on_grads(done, model.named_parameters())
            if i == start_iter:
                for p in params:
                    if p.grad.dtype != p.dtype:
                        raise TypeError(f"a gradient is {p.grad.dtype} but its parameter is "
                                        f"{p.dtype}: something in backward upcast it")
            optimizer.step()

            history["loss"].append(value)
            if on_iter is not None:
                on_iter(done, value)
            epoch_end = math.floor(done / iter_per_epoch) > math.floor(i / iter_per_epoch)
            if epoch_end:
                evaluate(done)
            if config.checkpoint is not None and (
                    done == config.iters or (epoch_end if config.checkpoint_every is None
                                             else done % config.checkpoint_every == 0)):
                # never overwrite a good checkpoint with parameters of nan or inf
                stop_if_not_finite(worst_value(p.numpy() for p in params), done, history,
                                   start, what="a parameter")
                save_checkpoint(config.checkpoint, model, optimizer, done, rng, history)
        if not history["eval_iters"] or history["eval_iters"][-1] != config.iters:
            evaluate(config.iters)
    finish_history(history, start)     # seconds of this session (after a resume)
    history["param_dtypes"] = {name: str(p.dtype) for name, p in model.named_parameters()}
    return history


def _resume(config: AutogradConfig, model: nn.Module, optimizer: optim.Optimizer,
            rng: np.random.Generator, fresh_history: dict[str, Any]) -> tuple[int, dict]:
    """Load a checkpoint into the model, optimizer and generators; check it belongs to
    this run (same data, network, optimizer and seed) before changing anything."""
    from chainrule.random import get_rng

    ck = load_checkpoint(config.resume)
    saved_cfg = ck["history"]["config"]
    ours = asdict(config)
    for key in _RESUME_FIELDS:
        if saved_cfg.get(key) != ours.get(key):
            raise ValueError(f"cannot resume from {config.resume}: it was trained with "
                             f"{key}={saved_cfg.get(key)!r}, this run has {key}={ours.get(key)!r}")
    if ck["iteration"] > config.iters:
        raise ValueError(f"cannot resume from {config.resume}: it is at iteration "
                         f"{ck['iteration']}, beyond iters={config.iters}")
    if ck["optimizer"]["type"] != type(optimizer).__name__:
        raise ValueError(f"cannot resume from {config.resume}: it holds {ck['optimizer']['type']} "
                         f"state, this run uses {type(optimizer).__name__}")
    model.load_state_dict(ck["model"])
    optimizer.load_state_dict(ck["optimizer"]["state_dict"])
    rng.bit_generator.state = ck["rng"]
    get_rng().bit_generator.state = ck["global_rng"]
    history = ck["history"]
    history["config"] = fresh_history["config"]
    history["iters"] = fresh_history["iters"]
    return ck["iteration"], history


TRAINERS.setdefault("autograd", train_autograd)
