"""One number formatter for every table, trace, graph and page: `decimals` places for
ordinary magnitudes, significant digits where fixed decimals would show zero (or overflow
the column), nan and inf as themselves."""
import numpy as np
import pytest

from chainrule.glassbox.text import fmt_array, fmt_number


@pytest.mark.parametrize("x, decimals, text", [
    (0.12346, 4, "0.1235"),
    (-2.5, 4, "-2.5000"),
    (0.0, 4, "0.0000"),
    (-0.0, 4, "0.0000"),
    (3.3e-09, 4, "3.3e-09"),           # the vanishing-gradient lesson, not 0.0000
    (-3.3e-09, 4, "-3.3e-09"),
    (4.9e-05, 4, "4.9e-05"),           # would round to 0.0000
    (5.1e-05, 4, "0.0001"),            # rounds to a nonzero digit: fixed decimals
    (0.0049, 2, "4.9e-03"),
    (0.0051, 2, "0.01"),
    (2e-09, 0, "2.0e-09"),
    (123456.789, 4, "123456.7890"),
    (1e20, 4, "1.0000e+20"),           # too long for fixed decimals
    (np.nan, 4, "nan"),
    (np.inf, 4, "inf"),
    (-np.inf, 4, "-inf"),
])
def test_boundaries(x, decimals, text):
    assert fmt_number(x, decimals) == text


def test_arrays_and_their_summaries_keep_tiny_digits():
    assert fmt_array(np.array([1e-9, 0.5])) == "[1.0e-09 0.5000]"
    big = np.full((10, 10), 3.3e-10)
    assert fmt_array(big) == "(10×10) mean 3.3e-10, norm 3.3e-09"
