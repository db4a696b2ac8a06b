"""The allocator policy: what the environment asks for, and that a step's large arrays are
reused instead of mapped afresh (counted in page faults, not timed)."""
import os
import platform
import subprocess
import sys

import pytest

import chainrule.numerics  # noqa: F401  (its import applies the policy)
from chainrule import malloc

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.parametrize("environ, wanted", [
    ({}, GLIBC),
    ({"CHAINRULE_MALLOC": "keep"}, False),
    ({"CHAINRULE_MALLOC": " KEEP "}, False),
    ({"MALLOC_TRIM_THRESHOLD_": "1000000"}, False),          # the user chose already
    ({"MALLOC_MMAP_THRESHOLD_": "65536"}, False),
    ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}, False),
    ({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2"}, GLIBC),  # not an allocator setting
])
def test_the_environment_decides_whether_to_set_the_allocator(environ, wanted):
    decided, reason = malloc.policy(environ)
    assert decided is wanted
    assert reason


def test_a_bad_environment_value_is_refused_with_the_variable_named():
    with pytest.raises(ValueError, match="CHAINRULE_MALLOC may only be 'keep'.*got 'off'"):
        malloc.policy({"CHAINRULE_MALLOC": "off"})


FAULTS = """
import resource, numpy as np
import chainrule.numerics
from chainrule import malloc
def step():
    arrays = [np.ones(2 * 2**20, np.float32) for _ in range(4)]   # four 8 MiB arrays
    return sum(float(a[-1]) for a in arrays)
step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(malloc.policy_info()["set"], resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(**env) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("CHAINRULE_MALLOC", "GLIBC_TUNABLES") and not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True,
                         env={**environ, **env}, check=True).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not GLIBC, reason="the policy sets glibc's allocator only")
def test_importing_numerics_makes_repeated_large_arrays_reuse_their_memory():
    # five steps of four 8 MiB arrays: with glibc's defaults the freed heap is trimmed and
    # every step faults its pages in again (about 8,000 faults); with the policy, none
    assert _faults() == ("True", pytest.approx(0, abs=200))
    was_set, faults = _faults(CHAINRULE_MALLOC="keep")
    assert was_set == "False" and faults > 4000


def test_the_policy_is_applied_once_and_says_what_it_did():
    info = malloc.policy_info()
    assert info["set"] is GLIBC or os.environ.get("CHAINRULE_MALLOC")
    assert set(info) == {"set", "reason"}
    assert malloc.apply_policy({"CHAINRULE_MALLOC": "keep"}) is info["set"]   # no second run
