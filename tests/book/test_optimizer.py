"""The book's optimizers: trajectories against its formulas written out step by step,
in-place updates, the autograd face's optimizers where the formulas agree, clear errors."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.book.layers import Affine
from chainrule.book.optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

STEPS = 6


def gradient_stream(seed=0):
    """The same grads every time for the same seed: a dict per step for keys W and b."""
    rng = np.random.default_rng(seed)
    return [{"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
            for _ in range(STEPS)]


def start(seed=1):
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}


def run(optimizer, params, grads):
    """Apply every step, returning the trajectory (a copy of params after each step)."""
    path = []
    for g in grads:
        optimizer.update(params, g)
        path.append({k: v.copy() for k, v in params.items()})
    return path


def reference(formula, params, grads, *state_names):
    """The formula applied key by key with scalar-free NumPy, state starting at zero."""
    params = {k: v.copy() for k, v in params.items()}
    state = {name: {k: np.zeros_like(v) for k, v in params.items()} for name in state_names}
    path = []
    for t, g in enumerate(grads, start=1):
        for k in params:
            formula(params, g, state, k, t)
        path.append({k: v.copy() for k, v in params.items()})
    return path


def sgd(p, g, s, k, t):
    p[k] = p[k] - 0.05 * g[k]


def momentum(p, g, s, k, t):
    s["v"][k] = 0.8 * s["v"][k] - 0.05 * g[k]
    p[k] = p[k] + s["v"][k]


def nesterov(p, g, s, k, t):
    p[k] = p[k] + 0.8 * 0.8 * s["v"][k] - (1 + 0.8) * 0.05 * g[k]
    s["v"][k] = 0.8 * s["v"][k] - 0.05 * g[k]


def adagrad(p, g, s, k, t):
    s["h"][k] = s["h"][k] + g[k] * g[k]
    p[k] = p[k] - 0.05 * g[k] / (np.sqrt(s["h"][k]) + 1e-7)


def rmsprop(p, g, s, k, t):
    s["h"][k] = 0.9 * s["h"][k] + (1 - 0.9) * g[k] ** 2
    p[k] = p[k] - 0.05 * g[k] / (np.sqrt(s["h"][k]) + 1e-7)


def adam(p, g, s, k, t):
    # the paper's form: m = beta1 m + (1 - beta1) g, the bias corrections inside lr_t
    s["m"][k] = 0.8 * s["m"][k] + 0.2 * g[k]
    s["v"][k] = 0.95 * s["v"][k] + 0.05 * g[k] ** 2
    lr_t = 0.05 * math.sqrt(1 - 0.95 ** t) / (1 - 0.8 ** t)
    p[k] = p[k] - lr_t * s["m"][k] / (np.sqrt(s["v"][k]) + 1e-7)


CASES = [
    (lambda: SGD(lr=0.05), sgd, ()),
    (lambda: Momentum(lr=0.05, momentum=0.8), momentum, ("v",)),
    (lambda: Nesterov(lr=0.05, momentum=0.8), nesterov, ("v",)),
    (lambda: AdaGrad(lr=0.05), adagrad, ("h",)),
    (lambda: RMSprop(lr=0.05, decay_rate=0.9), rmsprop, ("h",)),
    (lambda: Adam(lr=0.05, beta1=0.8, beta2=0.95), adam, ("m", "v")),
]
IDS = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]


@pytest.mark.parametrize("make, formula, state", CASES, ids=IDS)
def test_trajectory_is_the_books_formula(make, formula, state):
    grads = gradient_stream()
    mine = run(make(), start(), grads)
    expected = reference(formula, start(), grads, *state)
    for step, (a, b) in enumerate(zip(mine, expected), start=1):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-13, atol=1e-15,
                                       err_msg=f"step {step}, {k}")
    moved = np.abs(mine[-1]["W"] - start()["W"]).max()
    assert moved > 0.05  # the parameters really travelled


def test_the_first_steps_by_hand():
    w = np.array([1.0])
    g = {"w": np.array([0.5])}
    opt = Momentum(lr=0.1, momentum=0.9)
    opt.update({"w": w}, g)
    assert w[0] == pytest.approx(1.0 - 0.05)              # v = -0.05
    opt.update({"w": w}, g)
    assert w[0] == pytest.approx(0.95 - 0.045 - 0.05)     # v = 0.9 * -0.05 - 0.05
    w = np.array([1.0])
    adam = Adam(lr=0.1)
    adam.update({"w": w}, g)  # t = 1: m = 0.05, v = 0.00025, lr_t = 0.1 * sqrt(0.001) / 0.1
    assert adam.iter == 1
    assert w[0] == pytest.approx(1.0 - math.sqrt(0.001) * 0.05 / (math.sqrt(0.00025) + 1e-7),
                                 rel=1e-14)
    assert w[0] == pytest.approx(0.9, abs=1e-6)  # Adam's first step is about lr * sign(g)
    w = np.array([1.0])
    AdaGrad(lr=0.1).update({"w": w}, g)
    assert w[0] == pytest.approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-7), rel=1e-15)


@pytest.mark.parametrize("make", [c[0] for c in CASES], ids=IDS)
def test_update_changes_the_arrays_in_place_so_layers_see_it(make):
    params = start()
    layer = Affine(params["W"], params["b"])
    W_before = params["W"].copy()
    opt = make()
    for g in gradient_stream(3)[:2]:
        opt.update(params, g)
    assert params["W"] is layer.W and params["b"] is layer.b
    assert not np.array_equal(layer.W, W_before)


@pytest.mark.parametrize("make", [c[0] for c in CASES], ids=IDS)
def test_float32_params_stay_float32_and_grads_are_left_alone(make):
    params = {k: v.astype(np.float32) for k, v in start().items()}
    grads = gradient_stream(4)[0]
    saved = {k: v.copy() for k, v in grads.items()}
    make().update(params, grads)
    assert all(v.dtype == np.float32 for v in params.values())
    for k in grads:
        np.testing.assert_array_equal(grads[k], saved[k])


# ---- the autograd face's optimizers, where the formulas agree ---------------------------------

@pytest.mark.parametrize("book, face, rtol", [
    (lambda: SGD(lr=0.05), lambda p: cr.optim.SGD(p, lr=0.05), 1e-14),
    # v = -lr * buffer: the same steps as PyTorch's heavy ball and its Nesterov
    (lambda: Momentum(lr=0.05, momentum=0.8),
     lambda p: cr.optim.SGD(p, lr=0.05, momentum=0.8), 1e-12),
    (lambda: Nesterov(lr=0.05, momentum=0.8),
     lambda p: cr.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True), 1e-12),
    (lambda: AdaGrad(lr=0.05), lambda p: cr.optim.Adagrad(p, lr=0.05, eps=1e-7), 1e-13),
    (lambda: RMSprop(lr=0.05, decay_rate=0.9),
     lambda p: cr.optim.RMSprop(p, lr=0.05, alpha=0.9, eps=1e-7), 1e-13),
    # PyTorch adds eps to sqrt(v / (1 - beta2**t)), the book to sqrt(v): at t = 1 the book's
    # eps is 1 / sqrt(0.001) ~ 32 times larger relative to the step, a few 1e-6 of it
    (lambda: Adam(lr=0.05), lambda p: cr.optim.Adam(p, lr=0.05, eps=1e-7), 2e-5),
], ids=IDS)
def test_trajectory_equals_the_autograd_faces_optimizer(book, face, rtol):
    grads = gradient_stream(5)
    mine = run(book(), start(), grads)
    tensors = {k: cr.tensor(v, requires_grad=True) for k, v in start().items()}
    opt = face(list(tensors.values()))
    for step, g in enumerate(grads):
        for k, t in tensors.items():
            t.grad = cr.tensor(g[k])
        opt.step()
        for k, t in tensors.items():
            np.testing.assert_allclose(mine[step][k], t.numpy(), rtol=rtol, atol=rtol * 1e-2)


# ---- misuse -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [c[0] for c in CASES], ids=IDS)
def test_a_bad_gradient_leaves_every_parameter_as_it_was(make):
    params = start()
    before = {k: v.copy() for k, v in params.items()}
    opt = make()
    name = type(opt).__name__
    with pytest.raises(ValueError, match=rf"{name}.update: grads\['b'\] has shape \(3,\) but "
                                         r"params\['b'\] has shape \(2,\)"):
        opt.update(params, {"W": np.ones((3, 2)), "b": np.ones(3)})
    with pytest.raises(ValueError, match=rf"{name}.update: grads has no entry 'b'"):
        opt.update(params, {"W": np.ones((3, 2))})
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    assert getattr(opt, "iter", 0) == 0


def test_a_parameter_that_cannot_change_in_place_is_refused():
    with pytest.raises(TypeError, match=r"params\['n'\] is a ndarray int64"):
        Adam().update({"n": np.array([1, 2])}, {"n": np.array([1, 1])})


def test_plain_number_parameters_are_updated_by_rebinding():
    """The book's chapter 6 minimises f(x, y) = x**2 / 20 + y**2 with float x and y."""
    from chainrule.book.optimizer import SGD, Adam
    params = {"x": -7.0, "y": 2.0}
    SGD(lr=0.95).update(params, {"x": -7.0 / 10, "y": 4.0})
    assert params == {"x": -7.0 + 0.95 * 0.7, "y": 2.0 - 0.95 * 4.0}
    params = {"x": -7.0, "y": 2.0}
    Adam(lr=0.3).update(params, {"x": -0.7, "y": 4.0})
    assert type(params["x"]) is float and params["x"] == pytest.approx(-7.0 + 0.3, abs=1e-5)


def test_star_import_gives_what_the_books_scripts_use():
    namespace = {}
    exec("from chainrule.book.optimizer import *", namespace)
    assert {"SGD", "Momentum", "AdaGrad", "Adam", "np"} <= set(namespace)
