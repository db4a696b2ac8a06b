"""Shared by the book face's tests: no warning passes silently, and tests that let the
layers draw from NumPy's global generator (as the book's do) put it back afterwards."""
import warnings

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture
def global_rng():
    """The layers draw from NumPy's global generator, as the book: put it back afterwards."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


@pytest.fixture
def seeded_dropout():
    """Dropout draws its masks from NumPy's global generator, as the book's: seed it with 0
    for the test, and put it back afterwards."""
    state = np.random.get_state()
    np.random.seed(0)
    yield
    np.random.set_state(state)
