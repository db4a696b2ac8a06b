"""examples/ad_modes.py: both AD modes' traces, and both equal the closed-form derivative."""
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "ad_modes.py"


def closed_form(x):
    top = ((x + 3) / x + math.log(x) + 2 * x) * math.sin(x) - (math.log(x) * (x + 3) + x**2) * math.cos(x)
    return top / math.sin(x) ** 2


@pytest.mark.parametrize("x", [None, "0.7"])
def test_ad_modes_example(x):
    args = [sys.executable, str(SCRIPT)] + ([x] if x else [])
    result = subprocess.run(args, capture_output=True, text=True, timeout=120,
                            cwd=SCRIPT.parents[1])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Forward mode" in out and "tangent v̇" in out
    assert "Reverse mode" in out and "adjoint v̄" in out
    value = float(x or 2.0)
    found = dict(re.findall(r"^(forward mode|reverse mode|closed form): +([-\d.]+)$", out, re.M))
    assert set(found) == {"forward mode", "reverse mode", "closed form"}
    for v in found.values():
        assert float(v) == pytest.approx(closed_form(value), abs=1e-9)
