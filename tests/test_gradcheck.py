"""gradcheck: the engine's Jacobians against float64 central differences."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.engine import Primitive
from chainrule.gradcheck import GradcheckError


@pytest.mark.parametrize("f", [
    lambda x, w: (x @ w).tanh(),
    lambda x, w: cr.softmax_cross_entropy(x @ w, np.array([0, 1, 0])),
    lambda x, w: cr.logsumexp(x, axis=1) * w.sum(),
    lambda x, w: cr.concat([x.sigmoid(), w.T * 2], axis=0).max(axis=0),
])
def test_correct_gradients_pass(f):
    rng = np.random.default_rng(0)
    assert cr.gradcheck(f, (rng.standard_normal((3, 4)), rng.standard_normal((4, 2))))


def test_float32_inputs_are_checked_in_float64():
    x = np.random.default_rng(1).standard_normal(5).astype(np.float32)
    assert cr.gradcheck(lambda t: (t.exp() * t).sum(), x)


def test_a_wrong_rule_is_reported_with_input_element_and_values():
    wrong = Primitive("wrong_sin", np.sin, vjps=(lambda g, out, a: g * np.cos(a) * 1.01,))
    x = np.array([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(4,\)\).*element \(0,\).*"
                                             r"engine 1\.00\d+, numerical 0\.99\d+"):
        cr.gradcheck(lambda t: wrong(t), x)
    assert cr.gradcheck(lambda t: wrong(t), x, raise_exception=False) is False


def test_wrong_gradient_for_second_input_names_that_input():
    wrong_mul = Primitive("wrong_mul", np.multiply,
                          vjps=(lambda g, out, a, b: g * b, lambda g, out, a, b: g * a * 2))
    with pytest.raises(GradcheckError, match="input 1"):
        cr.gradcheck(lambda a, b: wrong_mul(a, b).sum(), (np.ones(2), np.ones(2)))


def test_numerical_gradient_is_re_exported_from_the_numerics_module():
    import chainrule.gradcheck
    import chainrule.numerics
    assert chainrule.gradcheck.numerical_gradient is chainrule.numerics.numerical_gradient
    assert chainrule.gradcheck.gradcheck.__module__ == "chainrule.gradcheck"


@pytest.mark.parametrize("first_import", [
    "import chainrule.gradcheck", "from chainrule.gradcheck import GradcheckError",
    "from chainrule.numgrad import GradcheckError", "import chainrule.glassbox.check", ""])
def test_cr_gradcheck_is_the_check_whatever_was_imported_first(first_import):
    # importing the module chainrule.gradcheck binds it to the package attribute of the
    # same name; the check must still run (in a fresh interpreter, so nothing is cached)
    import subprocess
    import sys
    code = (f"{first_import}\nimport numpy as np\nimport chainrule as cr\n"
            f"assert cr.gradcheck(lambda t: (t * t).sum(), np.ones(3)) is True\n"
            f"assert cr.gradcheck(lambda t: t.sum(), np.ones(2), eps=1e-6, atol=1e-5)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
