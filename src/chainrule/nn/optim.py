"""Optimizers with PyTorch's update formulas: SGD (momentum, dampening, Nesterov, weight
decay), Adagrad, RMSprop (momentum, centered), Adam (AMSGrad) and AdamW.

Every `step()` first checks all hyperparameters and gradients (shape, finiteness of the
learning rate), then updates each parameter's array in place (NumPy `out=`/in-place ops,
so float32 stays float32 and the model's layers keep their arrays; large ones in parts on
idle cores, numerics.elementwise). A gradient array is never modified: the engine may
share one array between several tensors' `.grad`. Parameters whose `.grad` is None are
skipped, as in PyTorch.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Iterable

import numpy as np

from chainrule import numerics
from chainrule.engine import Tensor, enable_grad

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW"]


class Optimizer:
    """Holds parameter groups (dicts of params + hyperparameters) and per-parameter state.

    Subclasses define `defaults`, `_check_group` (raise on a bad hyperparameter) and
    `_update(p, g, state, group)`, which changes `p.numpy()` in place."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict[int, dict] = {}   # keyed by id(param); see state_dict for indices
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (others from defaults)."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{type(self).__name__}: a parameter group is a dict with a "
                            f"'params' entry, got {type(group).__name__}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: can only optimize Tensors, but "
                                f"parameter {i} is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor "
                                 f"(parameter {i})")
            if p.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: parameter {i} has dtype {p.dtype}; "
                                f"only floating-point tensors can be optimized")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: some parameters appear in more than "
                                 f"one parameter group (parameter {i})")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown hyperparameter(s) "
                            f"{sorted(unknown)}; expected some of {sorted(self.defaults)}")
        full = {**self.defaults, **group, "params": params}
        self._check_group(full)
        self.param_groups.append(full)

    # ---- the public loop API ------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None if set_to_none or p.grad is None else Tensor(np.zeros_like(p.numpy()))

    def step(self, closure: Any = None) -> Any:
        """One update of every parameter that has a gradient (after `closure()`, if given).
        Validates everything first: a failing step leaves parameters and state unchanged."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        work = []
        for gi, group in enumerate(self.param_groups):
            self._check_group(group)
            for pi, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                g = p.grad.numpy() if isinstance(p.grad, Tensor) else np.asarray(p.grad)
                if g.shape != p.numpy().shape:
                    raise ValueError(f"{type(self).__name__}.step: the gradient of parameter "
                                     f"{pi} in group {gi} has shape {g.shape} but the "
                                     f"parameter has shape {p.numpy().shape}")
                if g.dtype != p.numpy().dtype:
                    if g.dtype.kind not in "biuf":
                        raise TypeError(f"{type(self).__name__}.step: gradient of parameter "
                                        f"{pi} has dtype {g.dtype}")
                    g = g.astype(p.numpy().dtype)
                work.append((p, g, group))
        for p, g, group in work:
            state = self.state.get(id(p))
            if state is None:
                state = self.state[id(p)] = {}
            self._update(p.numpy(), g, state, group)
            p._version += 1  # an in-place change: a graph that saved p can no longer use it
        return loss

    def _check_group(self, group: dict) -> None:
        _check_number(self, "lr", group["lr"], low=0.0)

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    # ---- state dicts ----------------------------------------------------------------------
    def _indexed_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """{"state": {index: {name: array or number}}, "param_groups": [{hyper..., "params":
        [indices]}]} as in PyTorch; parameters are numbered in group order. Arrays are copies."""
        index = {id(p): i for i, p in enumerate(self._indexed_params())}
        state = {}
        for p in self._indexed_params():
            s = self.state.get(id(p))
            if s:
                state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                       for k, v in s.items()}
        groups = []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            g["params"] = [index[id(p)] for p in group["params"]]
            groups.append(g)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and per-parameter state. Checked first (group count and
        sizes, state array shapes); a mismatch raises ValueError and changes nothing."""
        name = type(self).__name__
        try:
            groups, saved_state = state_dict["param_groups"], state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups'") from None
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has {len(groups)} "
                             f"parameter groups, the optimizer has {len(self.param_groups)}")
        by_index = {}
        for gi, (saved, group) in enumerate(zip(groups, self.param_groups)):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), (list, tuple)):
                raise ValueError(f"{name}.load_state_dict: parameter group {gi} of the loaded "
                                 f"state dict has no 'params' list")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: group {gi} of the loaded state dict "
                                 f"has {len(saved['params'])} parameters, the optimizer's has "
                                 f"{len(group['params'])}")
            for idx, p in zip(saved["params"], group["params"]):
                by_index[int(idx)] = p
        new_state = {}
        for idx, s in saved_state.items():
            p = by_index.get(int(idx))
            if p is None:
                raise ValueError(f"{name}.load_state_dict: state for parameter {idx}, which "
                                 f"no group lists")
            fresh = {}
            for key, value in s.items():
                if isinstance(value, Tensor):
                    value = value.numpy()
                if isinstance(value, np.ndarray) and value.ndim > 0:
                    if value.shape != p.numpy().shape:
                        raise ValueError(f"{name}.load_state_dict: state '{key}' of parameter "
                                         f"{idx} has shape {value.shape}, the parameter has "
                                         f"shape {p.numpy().shape}")
                    value = value.astype(p.numpy().dtype, copy=True)
                elif isinstance(value, np.ndarray):
                    value = value.item()
                fresh[key] = value
            new_state[id(p)] = fresh
        new_groups = []
        for saved, group in zip(groups, self.param_groups):
            hyper = copy.deepcopy({k: v for k, v in saved.items() if k != "params"})
            g = {**self.defaults, **hyper, "params": group["params"]}
            if "betas" in g:
                g["betas"] = tuple(g["betas"])
            self._check_group(g)
            new_groups.append(g)
        self.param_groups = new_groups
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


def _check_number(opt: Optimizer, key: str, value: Any, low: float | None = None,
                  high: float | None = None, strict_high: bool = False) -> None:
    name = type(opt).__name__
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{name}: {key} must be a finite number, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name}: invalid {key} value: {value} (must be >= {low})")
    if high is not None and (value >= high if strict_high else value > high):
        raise ValueError(f"{name}: invalid {key} value: {value} (must be "
                         f"{'<' if strict_high else '<='} {high})")


def _decayed(g: np.ndarray, p: np.ndarray, weight_decay: float) -> np.ndarray:
    """grad + weight_decay * param (L2 penalty), as a new array (grads are never modified)."""
    return g + weight_decay * p if weight_decay else g


class SGD(Optimizer):
    """p -= lr * d, where d is the gradient (+ weight_decay * p), or with momentum the
    buffer b = momentum * b + (1 - dampening) * d (b = d at the first step), and
    d + momentum * b for Nesterov — PyTorch's formulation."""

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        _check_number(self, "momentum", group["momentum"], low=0.0)
        _check_number(self, "dampening", group["dampening"])
        _check_number(self, "weight_decay", group["weight_decay"], low=0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

    def _update(self, p, g, state, group):
        lr, momentum = float(group["lr"]), float(group["momentum"])
        d = _decayed(g, p, float(group["weight_decay"]))
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(d, copy=True)
            else:
                buf *= momentum
                buf += (1 - float(group["dampening"])) * d
            d = d + momentum * buf if group["nesterov"] else buf
        p -= lr * d


class Adagrad(Optimizer):
    """sum += g^2; p -= clr * g / (sqrt(sum) + eps), clr = lr / (1 + (step - 1) * lr_decay)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps))

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _check_number(self, key, group[key], low=0.0)

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p, float(group["initial_accumulator_value"]))
        state["step"] += 1
        g = _decayed(g, p, float(group["weight_decay"]))
        clr = float(group["lr"]) / (1 + (state["step"] - 1) * float(group["lr_decay"]))
        s = state["sum"]
        s += g * g
        std = np.sqrt(s)
        std += float(group["eps"])
        p -= clr * (g / std)


class Adadelta(Optimizer):
    """v = rho v + (1 - rho) g^2; d = sqrt(u + eps) / sqrt(v + eps) * g;
    u = rho u + (1 - rho) d^2; p -= lr * d (PyTorch's formulation, lr=1.0 by default)."""

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        _check_number(self, "rho", group["rho"], low=0.0, high=1.0)
        for key in ("eps", "weight_decay"):
            _check_number(self, key, group[key], low=0.0)

    def _update(self, p, g, state, group):
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p), acc_delta=np.zeros_like(p))
        state["step"] += 1
        rho, eps = float(group["rho"]), float(group["eps"])
        g = _decayed(g, p, float(group["weight_decay"]))
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * delta * delta
        p -= float(group["lr"]) * delta


__path__: list = []  # importable as a package: `from chainrule.optim.lr_scheduler import StepLR`


def __getattr__(name: str) -> Any:
    if name == "lr_scheduler":  # chainrule.optim.lr_scheduler, as torch.optim.lr_scheduler
        return __import__("chainrule.nn.lr_scheduler", fromlist=["StepLR"])
    raise AttributeError(f"module 'chainrule.optim' has no attribute {name!r} (if it is a "
                         f"PyTorch optimizer, chainrule does not support it yet)")


class RMSprop(Optimizer):
    """v = alpha * v + (1 - alpha) g^2; p -= lr * g / (sqrt(v - mean_g^2 if centered) + eps),
    through a momentum buffer when momentum > 0 (PyTorch's formulation)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        _check_number(self, "alpha", group["alpha"], low=0.0)
        for key in ("eps", "weight_decay", "momentum"):
            _check_number(self, key, group[key], low=0.0)

    def _update(self, p, g, state, group):
        alpha, momentum = float(group["alpha"]), float(group["momentum"])
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p))
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        g = _decayed(g, p, float(group["weight_decay"]))
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * (g * g)
        if group["centered"]:
            m = state["grad_avg"]
            m += (1 - alpha) * (g - m)            # lerp towards g
            avg = np.sqrt(v - m * m)
        else:
            avg = np.sqrt(v)
        avg += float(group["eps"])
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            p -= float(group["lr"]) * buf
        else:
            p -= float(group["lr"]) * (g / avg)


class Adam(Optimizer):
    """m = lerp(m, g, 1 - beta1), v = beta2 v + (1 - beta2) g^2,
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps); AMSGrad uses the
    running max of v. Weight decay is an L2 term added to g (AdamW decouples it)."""

    decoupled = False

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{type(self).__name__}: betas must be a pair, got {betas!r}")
        for i, b in enumerate(betas):
            _check_number(self, f"beta parameter at index {i}", b, low=0.0, high=1.0,
                          strict_high=True)
        _check_number(self, "eps", group["eps"], low=0.0)
        _check_number(self, "weight_decay", group["weight_decay"], low=0.0)

    def _update(self, p, g, state, group):
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        if wd:
            if self.decoupled:
                p *= 1 - lr * wd
            else:
                g = g + wd * p
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)

        def update(p, g, m, v, vmax):   # elementwise: numerics.elementwise may split it
            m += (1 - beta1) * (g - m)
            v *= beta2
            v += (1 - beta2) * (g * g)
            if vmax is not None:
                np.maximum(vmax, v, out=vmax)
                v = vmax
            denom = np.sqrt(v)
            denom /= bias_correction2_sqrt
            p -= (lr / bias_correction1) * (m / np.add(denom, eps, out=denom))
        numerics.elementwise(update, [p, g, state["exp_avg"], state["exp_avg_sq"],
                                      state.get("max_exp_avg_sq")], passes=8)


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
