"""Shared test helpers."""
import importlib.util

import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None
requires_torch = pytest.mark.skipif(
    not HAS_TORCH, reason="PyTorch 2.13.0 is the oracle here: pip install torch==2.13.0")


def pytest_addoption(parser):
    group = parser.getgroup("fuzz", "differential fuzz of chainrule against PyTorch")
    group.addoption("--fuzz-n", type=int, default=500, metavar="N",
                    help="how many random programs tests/fuzz runs (default 500)")
    group.addoption("--fuzz-seed", type=int, default=0, metavar="S",
                    help="seed of the first program; program i uses seed S + i, so a failing "
                         "seed reruns alone with --fuzz-seed <seed> --fuzz-n 1 (default 0)")
