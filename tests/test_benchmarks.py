"""The benchmark scripts in benchmarks/ run as a user runs them (tiny settings here: speed
is measured by the benchmarks, never asserted), and the installed package never imports
PyTorch: only the benchmarks and the tests do."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.cli import main
from chainrule.datasets import is_mnist_cached

ROOT = Path(__file__).resolve().parents[1]
needs_mnist = pytest.mark.skipif(not is_mnist_cached(),
                                 reason="MNIST is not cached; run `chainrule train` once")


def run(script, *args):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                            cwd=ROOT / "tests", capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_op_overhead():
    out = run("op_overhead.py", "--ops", "20", "--deep", "200", "--repeats", "1", "--no-torch")
    assert re.search(r"chainrule +[\d.]+ us/op", out)
    assert "200-node chain, forward+backward: chainrule" in out and "PyTorch" not in out


@needs_mnist
def test_seed_autograd():
    out = run("seed_autograd.py", "--iters", "3", "--no-torch")
    assert "3 iterations" in out
    assert re.search(r"chainrule +[\d.]+ s +accuracy train [\d.]+ test [\d.]+", out)


def test_the_package_never_imports_torch():
    pattern = re.compile(r"^\s*(import torch|from torch\b)", re.M)
    found = [str(p.relative_to(ROOT)) for p in (ROOT / "src" / "chainrule").rglob("*.py")
             if pattern.search(p.read_text(encoding="utf-8"))]
    assert found == []


def test_benchmarks_are_scripts_not_a_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "ops"])
    assert info.value.code == 2 and "invalid choice: 'bench'" in capsys.readouterr().err
