"""Every primitive is complete, and lives in chainrule.ops.

A primitive is one literal in chainrule.ops: its forward, a VJP and a JVP rule for each
input (or a VariadicRule) and its notation (the symbol and the local-derivative formula
the glass box prints). The walk below finds every primitive the ops modules define; each
must have a sample call here, so a new op cannot be forgotten: its rules are run on the
sample's node and its notation is rendered as the glass box renders it.
"""
import ast
import importlib
import pathlib
import pkgutil

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops
from chainrule.engine import Primitive, VariadicRule, sum_to
from chainrule.engine.graph import Notation
from chainrule.glassbox import notation
from chainrule.nn import functional as F
from chainrule.ops.arithmetic import POW, POW_SCALAR
from chainrule.ops.conv import CONV2D_INPUT_GRAD, CONV2D_WEIGHT_GRAD, col2im, im2col
from chainrule.ops.pool import MAX_POOL2D_GATHER, MAX_POOL2D_SCATTER

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "chainrule"


def _walk_primitives() -> dict[int, Primitive]:
    """Every Primitive bound at module level in chainrule.ops and its submodules."""
    found = {}
    for info in pkgutil.walk_packages(ops.__path__, prefix="chainrule.ops."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Primitive):
                found[id(value)] = value
    return found


PRIMITIVES = sorted(_walk_primitives().values(), key=lambda p: (p.name, id(p)))


def _leaf(*shape, low=None):
    rng = np.random.default_rng(len(shape) + sum(shape))
    a = rng.standard_normal(shape)
    if low is not None:
        a = np.abs(a) + low
    return cr.tensor(a, requires_grad=True)


def _setitem():
    c = ops.clone(_leaf(3, 2))
    c[1] = _leaf(2)
    return c


def _pool_routing():
    """What a 2x2, stride-1, pad-1 max pool of a (1, 2, 3, 3) input routes by."""
    cache: dict = {}
    ops.primitive("max_pool2d")(_leaf(1, 2, 3, 3).numpy(), kernel=2, stride=1, pad=1,
                                cache=cache)
    return dict(arg=cache["arg"], x_shape=(1, 2, 3, 3), kernel=2, stride=1, pad=1)


def _fill():
    c = ops.clone(_leaf(2, 3))
    return c.fill_(_leaf())


# one call per primitive (pow has two: a constant and a tensor exponent), inputs requiring grad
SAMPLES = {
    "add": lambda: _leaf(2, 3) + _leaf(3),
    "sub": lambda: _leaf(2, 3) - _leaf(2, 3),
    "mul": lambda: _leaf(2, 3) * _leaf(2, 1),
    "div": lambda: _leaf(2, 3) / _leaf(2, 3, low=0.5),
    "neg": lambda: -_leaf(4),
    "pow": lambda: _leaf(3, low=0.5) ** 3,
    "pow (tensor exponent)": lambda: _leaf(3, low=0.5) ** _leaf(3),
    "matmul": lambda: _leaf(2, 3) @ _leaf(3, 4),
    "exp": lambda: _leaf(3).exp(),
    "log": lambda: _leaf(3, low=0.5).log(),
    "sqrt": lambda: _leaf(3, low=0.5).sqrt(),
    "abs": lambda: _leaf(3).abs(),
    "sin": lambda: _leaf(3).sin(),
    "cos": lambda: _leaf(3).cos(),
    "tanh": lambda: _leaf(3).tanh(),
    "sigmoid": lambda: _leaf(3).sigmoid(),
    "relu": lambda: _leaf(3).relu(),
    "clip": lambda: _leaf(5).clip(-0.5, 0.5),
    "maximum": lambda: ops.maximum(_leaf(4), _leaf(4)),
    "minimum": lambda: ops.minimum(_leaf(4), _leaf(4)),
    "where": lambda: ops.where(np.array([True, False, True]), _leaf(3), _leaf(3)),
    "sum": lambda: _leaf(2, 3).sum(axis=0),
    "mean": lambda: _leaf(2, 3).mean(),
    "max": lambda: _leaf(2, 3).max(axis=1),
    "min": lambda: _leaf(2, 3).min(),
    "logsumexp": lambda: _leaf(2, 3).logsumexp(axis=1),
    "reshape": lambda: _leaf(2, 3).reshape(3, 2),
    "transpose": lambda: _leaf(2, 3).T,
    "broadcast_to": lambda: _leaf(3).broadcast_to((2, 3)),
    "getitem": lambda: _leaf(4, 3)[[0, 2, 2]],
    "index_add": lambda: ops.index_add(_leaf(2, 3), (np.array([0, 0]),), (4, 3)),
    "astype": lambda: _leaf(3).astype(np.float32),
    "concat": lambda: ops.concat([_leaf(2, 3), _leaf(1, 3), _leaf(4, 3)]),
    "stack": lambda: ops.stack([_leaf(3), _leaf(3)], axis=1),
    "softmax": lambda: _leaf(2, 4).softmax(-1),
    "log_softmax": lambda: _leaf(2, 4).log_softmax(0),
    "softmax_cross_entropy": lambda: ops.softmax_cross_entropy(_leaf(3, 4), np.array([0, 3, 1])),
    "linear": lambda: ops.linear(_leaf(5, 3), _leaf(2, 3), _leaf(2)),
    "overwrite": _fill,
    "setitem": _setitem,
    "clone": lambda: ops.clone(_leaf(3)),
    "log1p": lambda: _leaf(3, low=0.5).log1p(),
    "cosh": lambda: _leaf(3).cosh(),
    "sinh": lambda: _leaf(3).sinh(),
    "cumsum": lambda: _leaf(2, 3).cumsum(1),
    "mse_loss": lambda: F.mse_loss(_leaf(2, 3), _leaf(2, 3)),
    "im2col": lambda: im2col(_leaf(1, 2, 4, 4), 3, 3, stride=1, pad=1),
    "col2im": lambda: col2im(_leaf(4, 8), (1, 2, 3, 3), 2, 2),
    "conv2d": lambda: F.conv2d(_leaf(2, 2, 5, 4), _leaf(3, 2, 3, 2), _leaf(3), 2, 1),
    "conv2d_input_grad": lambda: CONV2D_INPUT_GRAD(_leaf(2, 3, 3, 3), _leaf(3, 2, 3, 2),
                                                   x_shape=(2, 2, 5, 4), stride=2, pad=1),
    "conv2d_weight_grad": lambda: CONV2D_WEIGHT_GRAD(_leaf(2, 3, 3, 3), _leaf(2, 2, 5, 4),
                                                     w_shape=(3, 2, 3, 2), stride=2, pad=1),
    "max_pool2d": lambda: F.max_pool2d(_leaf(1, 2, 3, 3), 2, 1, 1),
    "max_pool2d_scatter": lambda: MAX_POOL2D_SCATTER(_leaf(1, 2, 4, 4), **_pool_routing()),
    "max_pool2d_gather": lambda: MAX_POOL2D_GATHER(_leaf(1, 2, 3, 3), **_pool_routing()),
    "binary_cross_entropy": lambda: F.binary_cross_entropy(
        _leaf(4).sigmoid(), np.array([0.0, 1.0, 1.0, 0.0])),
    "binary_cross_entropy_with_logits": lambda: F.binary_cross_entropy_with_logits(
        _leaf(4), np.array([0.0, 1.0, 1.0, 0.0]), pos_weight=np.full(4, 2.0)),
}


def _sample_name(prim: Primitive) -> str:
    return "pow (tensor exponent)" if prim is POW else prim.name


def _node_of(prim: Primitive, out) -> cr.Tensor:
    """The first node of `prim` in out's graph."""
    stack, seen = [out], set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._prim is prim:
            return t
        stack.extend(t.inputs)
    raise AssertionError(f"the sample for {prim.name} never applies {prim!r}")


def test_the_walk_finds_the_primitives_ops_lists():
    assert len(PRIMITIVES) >= len(SAMPLES)
    assert {id(p) for p in ops.primitives()} == {id(p) for p in PRIMITIVES}
    assert POW in PRIMITIVES and POW_SCALAR in PRIMITIVES


def test_primitive_names_are_unique_but_pow():
    names = [p.name for p in PRIMITIVES]
    assert sorted({n for n in names if names.count(n) > 1}) == ["pow"]


@pytest.mark.parametrize("prim", PRIMITIVES, ids=_sample_name)
def test_every_primitive_is_complete(prim):
    name = _sample_name(prim)
    assert name in SAMPLES, f"{name}: a new primitive; give it a sample call in SAMPLES"
    assert callable(prim.forward), name
    node = _node_of(prim, SAMPLES[name]())
    n = len(node.inputs)
    args = [t.numpy() for t in node.inputs]
    attrs = node._attrs or {}
    for kind in ("vjps", "jvps"):
        rules = getattr(prim, kind)
        assert rules is not None, f"{name} has no {kind}"
        if not isinstance(rules, VariadicRule):
            assert len(rules) == n and all(callable(r) for r in rules), \
                f"{name}: {kind} needs one rule per input ({n}), has {len(rules)}"
    for i, inp in enumerate(node.inputs):
        g = prim.vjps[i](np.ones_like(node.numpy()), node.numpy(), *args, **attrs)
        assert sum_to(np.asarray(g), inp.shape).shape == inp.shape, f"{name} vjp {i}"
        t = prim.jvps[i](np.ones_like(inp.numpy()), node.numpy(), *args, **attrs)
        assert np.broadcast_to(t, node.shape).shape == node.shape, f"{name} jvp {i}"

    note = prim.notation
    assert isinstance(note, Notation), f"{name}: give its literal a notation=Notation(…)"
    assert note.symbol and (callable(note.symbol) or isinstance(note.symbol, str)), name
    assert isinstance(note.formula, tuple) and note.formula, f"{name}: no formula"
    assert 1 <= len(note.formula) <= max(n, 1), f"{name}: more formulas than inputs"
    assert note.trace is None or note.trace_rules, f"{name}: a trace needs its rules"
    # the texts render as the glass box renders them
    assert notation.graph_symbol(prim, attrs)
    for i, inp in enumerate(node.inputs):
        assert notation.local_formula(prim, i, attrs, inp.shape, node.shape)
    if note.trace is not None:
        labels = [f"v{k}" for k in range(max(n, 2))]
        assert notation.trace_definition(prim, labels, attrs)
        for i in range(n):
            assert notation.trace_local(prim, i, labels, "v9", attrs)


def _constructions(path: pathlib.Path) -> list[int]:
    """Lines of `path` that construct a Primitive: Primitive(…), x.Primitive(…), or a
    name it was imported as."""
    tree = ast.parse(path.read_text())
    names = {"Primitive"} | {a.asname for node in ast.walk(tree)
                             if isinstance(node, ast.ImportFrom) for a in node.names
                             if a.name == "Primitive" and a.asname}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) \
                else None
            if name in names:
                lines.append(node.lineno)
    return lines


def test_no_primitive_is_made_outside_ops():
    outside = {str(p.relative_to(SRC)): lines for p in sorted(SRC.rglob("*.py"))
               if (SRC / "ops") not in p.parents and (lines := _constructions(p))}
    assert not outside, f"primitives belong in chainrule/ops/, found: {outside}"
    assert _constructions(SRC / "ops" / "arithmetic.py")  # the scan does see them
