"""`chainrule.cuda`, `chainrule.backends` and `chainrule.accelerator` as PyTorch programs
probe them: chainrule computes on the CPU with NumPy, so no accelerator is ever available,
the probes answer so, seeding a GPU does nothing (as in PyTorch without one), and asking
for a GPU is a clear error (see chainrule.engine.devices)."""
from __future__ import annotations

import sys
import types
from typing import Any

from chainrule.engine.devices import DeviceError, check_device


def _no_gpu(name: str):
    def refuse(*args: Any, **kwargs: Any) -> Any:
        check_device("cuda", name)
    refuse.__name__ = name.rsplit(".", 1)[-1]
    return refuse


def _false(*args: Any, **kwargs: Any) -> bool:
    """No accelerator: chainrule computes on the CPU."""
    return False


def _zero(*args: Any, **kwargs: Any) -> int:
    return 0


def _nothing(*args: Any, **kwargs: Any) -> None:
    """Nothing to do without a GPU (PyTorch also ignores this when there is none)."""


def _module(name: str, doc: str, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType(f"chainrule.{name}", doc)
    mod.__dict__.update(attrs)
    sys.modules.setdefault(f"chainrule.{name}", mod)
    return mod


cuda = _module(
    "cuda", "No CUDA: chainrule computes on the CPU with NumPy.",
    is_available=_false, device_count=_zero, manual_seed=_nothing, manual_seed_all=_nothing,
    empty_cache=_nothing, is_initialized=_false, current_device=_no_gpu("cuda.current_device"),
    synchronize=_no_gpu("cuda.synchronize"), get_device_name=_no_gpu("cuda.get_device_name"),
    set_device=_no_gpu("cuda.set_device"))

mps = _module("backends.mps", "No MPS: chainrule computes on the CPU with NumPy.",
              is_available=_false, is_built=_false)
cudnn = _module("backends.cudnn", "No cuDNN; its switches are accepted and change nothing.",
                is_available=_false, enabled=False, deterministic=False, benchmark=False)
backends = _module("backends", "PyTorch's backends, as seen from the CPU.", mps=mps,
                   cudnn=cudnn)
accelerator = _module(
    "accelerator", "No accelerator: chainrule computes on the CPU with NumPy.",
    is_available=_false, device_count=_zero,
    current_accelerator=lambda check_available=False: None,
    synchronize=_nothing)

__all__ = ["cuda", "backends", "accelerator", "DeviceError"]
