"""The functional API (JAX-shaped): grad, value_and_grad, vjp, jvp, jacobian, hessian.

Every result is a Tensor, so transforms nest: `grad(grad(f))` differentiates the backward
pass (reverse-over-reverse); `hessian` is forward-over-reverse (`jvp` of `grad`). A
gradient with respect to an input the output does not depend on is zeros, never None.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import threading

import numpy as np

from chainrule import engine
from chainrule.engine import Tensor, as_tensor, backward_pass, enable_grad, forward_mode

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "autograd_grad",
           "elementwise_grad"]

class _Transforms(threading.local):
    """How many transforms are evaluating their function right now, in this thread.
    Inside another transform the gradients we return must themselves be differentiable,
    so we keep their graph."""
    depth = 0


_transforms = _Transforms()


class _evaluating:
    def __enter__(self):
        _transforms.depth += 1

    def __exit__(self, *exc):
        _transforms.depth -= 1


def autograd_grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
                  grad_outputs: Any = None, retain_graph: bool | None = None,
                  create_graph: bool = False) -> tuple[Tensor, ...]:
    """d(outputs)/d(inputs) weighted by grad_outputs, without touching any `.grad`
    (torch.autograd.grad). Inputs the outputs do not depend on get zeros."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    retain = create_graph if retain_graph is None else retain_graph
    found = backward_pass(outputs, list(grad_outputs), retain_graph=retain,
                          create_graph=create_graph, inputs=inputs)
    result = []
    for t, g in zip(inputs, found):
        if g is None:
            g = np.zeros_like(t.numpy())
        result.append(g if isinstance(g, Tensor) else engine._wrap(g))
    return tuple(result)


def _variable(x: Any) -> Tensor:
    """The tensor to differentiate with respect to: `x` itself when an outer transform
    already tracks it, otherwise a fresh leaf (keeping any forward-mode tangent)."""
    x = as_tensor(x) if isinstance(x, Tensor) else Tensor(x)
    if x.requires_grad:
        return x
    if x.dtype.kind != "f":
        raise TypeError(f"grad: can only differentiate with respect to floating-point inputs, "
                        f"got dtype {x.dtype}")
    v = engine._wrap(x.numpy())
    v.requires_grad = True
    v._tangent = x._tangent
    return v


def _argnums(argnums: int | Sequence[int], n_args: int, name: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -n_args <= i < n_args:
            raise ValueError(f"{name}: argnums {argnums} out of range for {n_args} arguments")
    return tuple(i % n_args for i in nums)


def _is_leaf(x: Any) -> bool:
    """A pytree leaf: anything but a list, tuple or dict, or a (nested) list or tuple of
    plain numbers, which is array data ([1.0, 2.0] is one vector)."""
    if isinstance(x, dict):
        return False
    if isinstance(x, (list, tuple)):
        return all(isinstance(v, (int, float, bool, np.generic)) or
                   (isinstance(v, (list, tuple)) and v and _is_leaf(v)) for v in x)
    return True


def _flatten(x: Any) -> tuple[list, Callable[[list], Any]]:
    """The leaves of a pytree (lists, tuples, dicts of arrays, as JAX and HIPS autograd
    take), and a function rebuilding the same structure from new leaves."""
    if _is_leaf(x):
        return [x], lambda leaves: leaves[0]
    keys = list(x) if isinstance(x, dict) else range(len(x))
    parts = [_flatten(x[k]) for k in keys]
    kind = type(x)

    def build(leaves: list) -> Any:
        out, k = [], 0
        for sub, rebuild in parts:
            out.append(rebuild(leaves[k:k + len(sub)]))
            k += len(sub)
        if isinstance(x, dict):
            return kind(zip(keys, out)) if kind is not dict else dict(zip(keys, out))
        return kind(*out) if hasattr(x, "_fields") else kind(out)
    return [leaf for sub, _ in parts for leaf in sub], build


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """A function returning (f(*args), df/dargs[argnums]) for scalar-valued f; an argument
    that is a list, tuple or dict of arrays gets a gradient of the same structure."""
    def wrapped(*args):
        nums = _argnums(argnums, len(args), "value_and_grad")
        nested = _transforms.depth > 0 or any(isinstance(a, Tensor) and a.requires_grad for a in args)
        args = list(args)
        trees = []
        for i in nums:
            leaves, build = _flatten(args[i])
            variables = [_variable(leaf) for leaf in leaves]
            args[i] = build(variables)
            trees.append((variables, build))
        with enable_grad(), _evaluating():
            out = as_tensor(f(*args))
        if out.numel() != 1:
            raise TypeError(f"grad: f must return a scalar (one element), got shape {out.shape}; "
                            f"use jacobian or vjp for non-scalar outputs")
        create = nested and engine.is_grad_enabled()
        flat = autograd_grad(out, [v for variables, _ in trees for v in variables],
                             create_graph=create)
        grads, k = [], 0
        for variables, build in trees:
            grads.append(build(list(flat[k:k + len(variables)])))
            k += len(variables)
        if not create:
            out = _detached(out)
        return out, grads[0] if isinstance(argnums, int) else tuple(grads)
    return wrapped


def elementwise_grad(f: Callable, argnums: int = 0) -> Callable:
    """The derivative of each output element with respect to its own input element, for
    elementwise f (HIPS autograd's elementwise_grad): the gradient of sum(f(x))."""
    def summed(*args):
        return as_tensor(f(*args)).sum()
    return grad(summed, argnums)


def _detached(t: Tensor) -> Tensor:
    d = t.detach()
    d._tangent = t._tangent
    return d


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """A function returning df/dx (a Tensor, or a tuple for a tuple of argnums)."""
    vg = value_and_grad(f, argnums)
    return lambda *args: vg(*args)[1]


def vjp(f: Callable, *primals: Any) -> tuple[Tensor, Callable]:
    """(f(*primals), vjp_fn) where vjp_fn(cotangent) gives one gradient per primal."""
    nested = _transforms.depth > 0 or any(isinstance(p, Tensor) and p.requires_grad for p in primals)
    trees = [_flatten(p) for p in primals]
    xs = [[_variable(leaf) for leaf in leaves] for leaves, _ in trees]
    with enable_grad(), _evaluating():
        out = as_tensor(f(*[build(v) for v, (_, build) in zip(xs, trees)]))

    def vjp_fn(cotangent: Any) -> tuple:
        ct = cotangent if isinstance(cotangent, Tensor) else np.asarray(cotangent, out.dtype)
        if ct.shape != out.shape:
            raise ValueError(f"vjp: cotangent has shape {ct.shape}, the output has {out.shape}")
        flat = autograd_grad(out, [x for v in xs for x in v], grad_outputs=ct,
                             retain_graph=True,
                             create_graph=nested and engine.is_grad_enabled())
        grads, k = [], 0
        for v, (_, build) in zip(xs, trees):
            grads.append(build(list(flat[k:k + len(v)])))
            k += len(v)
        return tuple(grads)
    return (out if nested else _detached(out)), vjp_fn


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Tensor, Tensor]:
    """Forward mode: (f(*primals), J·tangents), pushing tangents through each primitive's
    JVP rule during a single evaluation (no backward pass). Nests with every transform:
    inside another jvp (each has its own level) or under grad (the tangent keeps its graph)."""
    from chainrule.ops import clone
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents")
    trees = [_flatten(p) for p in primals]
    flat_t = [_flatten(t)[0] for t in tangents]
    if any(len(t) != len(p) for t, (p, _) in zip(flat_t, trees)):
        raise ValueError("jvp: each tangent must have its primal's structure (the same "
                         "lists, tuples and dicts of arrays)")
    builders = [(len(p), build) for p, build in trees]
    primals = tuple(leaf for p, _ in trees for leaf in p)
    tangents = tuple(leaf for t in flat_t for leaf in t)
    nested = _transforms.depth > 0 or any(isinstance(p, Tensor) and (p.requires_grad or p._tangent)
                                          for p in primals)
    with forward_mode() as level, _evaluating():
        xs = []
        for p, t in zip(primals, tangents):
            p = as_tensor(p) if isinstance(p, Tensor) else Tensor(p)
            if not isinstance(t, Tensor):
                t = np.asarray(t, dtype=p.dtype)
            elif t.dtype != p.dtype:
                t = t.astype(p.dtype)
            if t.shape != p.shape:
                raise ValueError(f"jvp: tangent has shape {t.shape} but its primal has "
                                 f"{p.shape}")
            x = clone(p)  # p itself, with its graph and outer tangents, plus this level's
            x._tangent = {**(x._tangent or {}), level: t}
            xs.append(x)
        args, k = [], 0
        for n, build in builders:
            args.append(build(xs[k:k + n]))
            k += n
        out = as_tensor(f(*args))
        tangent = (out._tangent or {}).get(level)
    if tangent is None:
        tangent = np.zeros_like(out.numpy())
    if not isinstance(tangent, Tensor):
        tangent = engine._wrap(np.array(tangent))
    if out._tangent and level in out._tangent:
        out = _detached(out) if not nested else out
        out._tangent = {k: v for k, v in out._tangent.items() if k != level} or None
    if not nested:
        return _detached(out), tangent.detach()
    return out, tangent


def jacobian(f: Callable, mode: str = "rev", argnums: int = 0) -> Callable:
    """A function returning the Jacobian of f at x, shaped out.shape + x.shape.

    mode="rev" builds it from one VJP per output element; mode="fwd" from one JVP per
    input element (better when there are fewer inputs than outputs)."""
    if mode not in ("rev", "fwd"):
        raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")

    def wrapped(*args):
        i = _argnums(argnums, len(args), "jacobian")[0]
        x = as_tensor(args[i]) if isinstance(args[i], Tensor) else Tensor(args[i])

        def f_of_x(v):
            return f(*args[:i], v, *args[i + 1:])
        if mode == "fwd":
            out = as_tensor(f_of_x(x)) if x.numel() == 0 else None  # no column to evaluate
            columns = []
            for j in range(x.numel()):
                e = np.zeros(x.numel(), dtype=x.dtype)
                e[j] = 1
                out, col = jvp(f_of_x, (x,), (e.reshape(x.shape),))
                columns.append(col)
            if any(c.requires_grad or c._tangent for c in columns):
                from chainrule.ops import stack  # keeps the columns' graph and tangents
                return stack(columns, axis=-1).reshape(out.shape + x.shape)
            jac = (np.stack([c.numpy() for c in columns], axis=-1) if columns
                   else np.zeros(out.shape + (0,), out.dtype))
            return engine._wrap(jac.reshape(out.shape + x.shape))
        out, pullback = vjp(f_of_x, x)
        rows = []
        for k in range(out.numel()):
            e = np.zeros(out.numel(), dtype=out.dtype)
            e[k] = 1
            rows.append(pullback(e.reshape(out.shape))[0])
        if any(r.requires_grad or r._tangent is not None for r in rows):
            from chainrule.ops import stack  # keeps the rows' graph and tangents
            return stack(rows).reshape(out.shape + x.shape)
        data = np.stack([r.numpy() for r in rows]) if rows else np.zeros((0,) + x.shape, x.dtype)
        return engine._wrap(data.reshape(out.shape + x.shape))
    return wrapped


def hessian(f: Callable, argnums: int = 0) -> Callable:
    """The Hessian of scalar f: forward-over-reverse, the Jacobian (fwd) of grad(f)."""
    return jacobian(grad(f, argnums), mode="fwd", argnums=argnums)
