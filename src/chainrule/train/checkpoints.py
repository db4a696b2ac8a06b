"""Autograd-face checkpoints: one safetensors file holding model and optimizer arrays as
tensors and the iteration, optimizer scalars, generator states, config and history as
JSON metadata, so that a resumed run equals the uninterrupted one bit for bit."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import nn
from chainrule.nn import optim
from chainrule.random import get_rng
from chainrule.serialization import load, load_metadata, save
from chainrule.train.config import ConfigError, TrainConfig, parse_hidden

__all__ = ["CHECKPOINT_FORMAT", "RESUME_FIELDS", "save_checkpoint", "load_checkpoint",
           "resume_from"]

CHECKPOINT_FORMAT = "chainrule-autograd-checkpoint-1"
# config fields that must agree between a checkpoint and the run resuming it
RESUME_FIELDS = ("dataset", "hidden", "lr", "batch_size", "seed", "train_size", "test_size",
                 "dtype", "optimizer")


def save_checkpoint(path: str, model: nn.Module, optimizer: optim.Optimizer, iteration: int,
                    rng: np.random.Generator, history: dict[str, Any]) -> None:
    """Model + optimizer + iteration + generator states + history in one safetensors file
    (written atomically, with each tensor's SHA-256)."""
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
                state.setdefault(int(idx), {})[name] = np.asarray(value)
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


_JSON_NAMES = {dict: "object", list: "array", str: "string", int: "integer"}


def _check_type(path: str, name: str, value: Any, kind: type) -> None:
    if not isinstance(value, kind):
        raise ValueError(f"{path}: checkpoint field {name!r} must be a JSON "
                         f"{_JSON_NAMES[kind]}, got {type(value).__name__} (the file is damaged)")


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


def _same(key: str, saved: Any, ours: Any) -> bool:
    if key == "hidden":     # one size is recorded as a number, several as a list
        try:
            return parse_hidden(saved) == parse_hidden(ours)
        except ConfigError:
            return False
    return saved == ours


def resume_from(config: TrainConfig, model: nn.Module, optimizer: optim.Optimizer,
                rng: np.random.Generator, fresh_history: dict[str, Any]) -> tuple[int, dict]:
    """Load `config.resume` into the model, optimizer and generators and return (iteration,
    history so far); check it belongs to this run (same data, network, optimizer and
    seed) before changing anything."""
    ck = load_checkpoint(config.resume)
    saved_cfg = ck["history"]["config"]
    ours = config.to_dict()
    for key in RESUME_FIELDS:
        if not _same(key, saved_cfg.get(key), ours.get(key)):
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
