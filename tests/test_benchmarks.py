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


@needs_mnist
def test_convnet_epoch_one_library_one_run():
    out = run("convnet_epoch.py", "--lib", "chainrule", "--iters", "2")
    assert float(out.split()[-1]) > 0


@needs_mnist
def test_convnet_epoch_compares_in_separate_processes():
    pytest.importorskip("torch", reason="PyTorch 2.13.0 is the other side of the comparison")
    out = run("convnet_epoch.py", "--rounds", "1", "--iters", "1")
    assert re.search(r"chainrule +s/iter [\d.]+ +median [\d.]+ += [\d.]+ s per epoch", out)
    assert re.search(r"ratio chainrule / PyTorch \(medians\) = [\d.]+", out)


@needs_mnist
@pytest.mark.parametrize("workload, iters", [("seed-book", "3"), ("seed-autograd", "3"),
                                             ("convnet-book", "1"), ("convnet-autograd", "1")])
def test_compare_runs_each_library_in_its_own_process(workload, iters):
    out = run("compare.py", "--workload", workload, "--iters", iters, "--rounds", "2",
              "--libs", "chainrule", "--chainrule-threads", "1")
    assert re.search(r"chainrule in-process s(/iter)? +[\d.]+, [\d.]+ +median [\d.]+", out)
    assert re.search(r"chainrule whole process s +[\d.]+, [\d.]+ +median", out)
    assert "1 BLAS thread(s): CHAINRULE_NUM_THREADS=1" in out


@needs_mnist
def test_compare_against_pytorch_under_load_gives_ratios():
    pytest.importorskip("torch", reason="PyTorch 2.13.0 is the other side of the comparison")
    out = run("compare.py", "--workload", "seed-book", "--iters", "2", "--rounds", "1",
              "--load", "1")
    assert "1 busy process(es) beside" in out
    assert re.search(r"ratio chainrule / PyTorch \(in-process s, medians\) = [\d.]+", out)
    assert re.search(r"ratio chainrule / PyTorch \(whole process s, medians\) = [\d.]+", out)
    assert "intra-op threads (its default)" in out


@needs_mnist
@pytest.mark.parametrize("workload", ["seed-book", "seed-autograd", "convnet-book",
                                      "convnet-autograd"])
def test_breakdown_accounts_for_the_iteration_and_its_gemm_floor(workload):
    out = run("breakdown.py", "--workload", workload, "--iters", "2")
    assert "in-process figures" in out
    assert re.search(r"iteration +[\d.]+", out)
    assert re.search(r"GEMM floor [\d.]+ us/iter .*chainrule / floor = [\d.]+", out)


def test_the_package_never_imports_torch():
    pattern = re.compile(r"^\s*(import torch|from torch\b)", re.M)
    found = [str(p.relative_to(ROOT)) for p in (ROOT / "src" / "chainrule").rglob("*.py")
             if pattern.search(p.read_text(encoding="utf-8"))]
    assert found == []


def test_benchmarks_are_scripts_not_a_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "ops"])
    assert info.value.code == 2 and "invalid choice: 'bench'" in capsys.readouterr().err
