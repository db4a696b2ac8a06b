"""How the C allocator keeps the large arrays of a training step: reused, not mapped afresh.

Why. A training step allocates the same large arrays every iteration (a convnet's
activations are megabytes each) and frees them at its end. glibc's malloc serves blocks
above its mmap threshold (128 KiB at first, raised only as far as the largest block freed so
far) with fresh mappings and returns them, and trims freed memory at the top of its heap
once more than twice that is free. Either way the next step's arrays arrive as untouched
pages: on the book's SimpleConvNet about 3,900 page faults per step, and a third of the
autograd face's step time (benchmarks/RESULTS.md has the measurement). PyTorch keeps its
own caching allocator for this; chainrule asks glibc to keep blocks up to 32 MiB on its heap
and to keep up to 256 MiB of freed heap for reuse. Peak memory is unchanged (what is kept
was in use a moment before); a process holds its largest step's memory until it exits.

When. Once, when `chainrule.numerics` is first imported (as the BLAS thread policy), and
only where the C library is glibc; elsewhere nothing is changed.

Overrides: CHAINRULE_MALLOC=keep leaves the allocator alone; so does a user's own glibc
setting (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, or glibc.malloc.* in
GLIBC_TUNABLES). This module imports nothing of chainrule.
"""
from __future__ import annotations

import ctypes
import os
import platform
from typing import Mapping

__all__ = ["ENV_VAR", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "policy", "apply_policy",
           "policy_info"]

ENV_VAR = "CHAINRULE_MALLOC"
KEEP = "keep"
MMAP_THRESHOLD = 32 * 2**20   # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 256 * 2**20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3   # mallopt's parameter numbers (malloc.h)
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_state = {"applied": False, "set": False, "reason": "not applied yet"}


def policy(environ: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """(whether to set glibc's thresholds, and why), from the environment as described above."""
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_VAR, "").strip()
    if value.lower() == KEEP:
        return False, f"{ENV_VAR}={KEEP}: the allocator's own settings are kept"
    if value:
        raise ValueError(f"{ENV_VAR} may only be {KEEP!r} (leave the C allocator alone), "
                         f"got {value!r}")
    chosen = [name for name in _USER_SETTINGS if environ.get(name, "").strip()]
    if "glibc.malloc." in environ.get("GLIBC_TUNABLES", ""):
        chosen.append("GLIBC_TUNABLES")
    if chosen:
        return False, f"{chosen[0]} is set: the user's allocator settings are kept"
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False, "the C library is not glibc: nothing to set"
    return True, (f"chainrule's default: blocks up to {MMAP_THRESHOLD >> 20} MiB from the heap, "
                  f"up to {TRIM_THRESHOLD >> 20} MiB of freed heap kept ({ENV_VAR}=keep "
                  f"turns this off)")


def apply_policy(environ: Mapping[str, str] | None = None) -> bool:
    """Apply the policy once (chainrule.numerics calls this when first imported); whether
    glibc's thresholds were set. Later calls change nothing."""
    if _state["applied"]:
        return _state["set"]
    wanted, reason = policy(environ)
    done = False
    if wanted:
        mallopt = ctypes.CDLL(None).mallopt
        done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                    and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
        if not done:
            reason = "glibc refused the thresholds (mallopt returned 0): nothing changed"
    _state.update(applied=True, set=done, reason=reason)
    return done


def policy_info() -> dict:
    """What the policy did: {'set': bool, 'reason': text}."""
    return {"set": _state["set"], "reason": _state["reason"]}
