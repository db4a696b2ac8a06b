"""Run one PyTorch program twice — with `torch`, and with only its imports changed to
chainrule — and compare what it prints and the tensors it leaves behind.

Both runs draw the same random numbers: chainrule's generator is NumPy's, and for the
torch run the harness routes torch's random draws (randn, rand, randint, uniform_,
normal_, dropout masks, manual_seed) through a NumPy generator the same way chainrule
draws them, so the two libraries start from identical weights and data. Everything else
in the program runs as written."""
from __future__ import annotations

import contextlib
import io
import math
import re
import sys
from pathlib import Path

import numpy as np

PROGRAMS = Path(__file__).parent / "programs"

_IMPORT = re.compile(r"^(\s*)(import|from)\s+torch\b(.*)$")


def to_chainrule(source: str) -> str:
    """Change only the imports: `import torch` -> `import chainrule as torch`,
    `import torch.nn as nn` -> `import chainrule.nn as nn`, `from torch.x import y` ->
    `from chainrule.x import y`."""
    out = []
    for line in source.splitlines():
        m = _IMPORT.match(line)
        if m:
            indent, kind, rest = m.groups()
            if kind == "import" and (rest.strip() == "" or rest.startswith(" as ")):
                line = f"{indent}import chainrule as torch{rest if rest.startswith(' as ') else ''}"
                if rest.startswith(" as "):
                    line = f"{indent}import chainrule{rest}"
            else:
                line = f"{indent}{kind} chainrule{rest}"
        out.append(line)
    return "\n".join(out) + "\n"


class _TorchRandom:
    """torch's random functions drawing from a NumPy generator as chainrule draws."""

    def __init__(self, torch, seed: int):
        self.torch, self.rng = torch, np.random.default_rng(seed)

    def _np(self, dtype):
        torch = self.torch
        return {torch.float64: np.float64, torch.float16: np.float16}.get(dtype, np.float32)

    @staticmethod
    def _shape(size):
        if len(size) == 1 and isinstance(size[0], (tuple, list)):
            return tuple(size[0])
        return tuple(size)

    def patches(self):
        torch, me = self.torch, self

        def manual_seed(seed):
            me.rng = np.random.default_rng(seed)
            return me.rng

        def randn(*size, dtype=None, device=None, requires_grad=False, generator=None, **kw):
            data = me.rng.standard_normal(me._shape(size)).astype(me._np(dtype))
            return torch.tensor(data, requires_grad=requires_grad)

        def rand(*size, dtype=None, device=None, requires_grad=False, generator=None, **kw):
            data = me.rng.random(me._shape(size)).astype(me._np(dtype))
            return torch.tensor(data, requires_grad=requires_grad)

        def randint(low, high=None, size=None, **kw):
            if size is None:
                low, high, size = 0, low, high
            return torch.tensor(me.rng.integers(low, high, tuple(size), dtype=np.int64))

        def uniform_(self, a=0.0, b=1.0, generator=None):
            with torch.no_grad():
                return self.copy_(torch.from_numpy(me.rng.uniform(a, b, size=tuple(self.shape))))

        def normal_(self, mean=0.0, std=1.0, generator=None):
            with torch.no_grad():
                return self.copy_(torch.from_numpy(me.rng.normal(mean, std, size=tuple(self.shape))))

        def dropout(input, p=0.5, training=True, inplace=False):
            if not training or p == 0.0:
                return input
            keep = me.rng.random(tuple(input.shape), dtype=np.float32) >= p
            mask = keep.astype(np.float32) * np.float32(1.0 / (1.0 - p))
            return input * torch.from_numpy(mask.astype(me._np(input.dtype)))

        F = torch.nn.functional
        return [(torch, "manual_seed", manual_seed), (torch, "randn", randn),
                (torch, "rand", rand), (torch, "randint", randint),
                (torch.Tensor, "uniform_", uniform_), (torch.Tensor, "normal_", normal_),
                (F, "dropout", dropout)]


@contextlib.contextmanager
def _patched(pairs):
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in pairs]
    try:
        for obj, name, value in pairs:
            setattr(obj, name, value)
        yield
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)


def run(source: str, library: str, seed: int = 0, argv: list | None = None) -> tuple[str, dict]:
    """Execute the program with `torch` or with chainrule; (its output, its globals)."""
    import random
    random.seed(seed)
    if library == "torch":
        import torch
        pairs = _TorchRandom(torch, seed).patches()
        code = source
    else:
        import chainrule
        chainrule.manual_seed(seed)
        pairs = []
        code = to_chainrule(source)
    namespace = {"__name__": "__main__"}
    out = io.StringIO()
    old_argv = sys.argv
    sys.argv = ["program.py"] + list(argv or [])
    try:
        with _patched(pairs), contextlib.redirect_stdout(out):
            exec(compile(code, f"<{library} program>", "exec"), namespace)
    finally:
        sys.argv = old_argv
    return out.getvalue(), namespace


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|\bnan\b|\binf\b")


def numbers(text: str) -> list[float]:
    """Every number printed, in order (object addresses left out)."""
    text = re.sub(r"0x[0-9a-fA-F]+", "", text)
    return [float(m) for m in _NUMBER.findall(text)]


def _arrays(namespace: dict) -> dict:
    """The tensors a program leaves behind (values and gradients), and its modules'
    parameters, as NumPy arrays keyed by name."""
    found = {}
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        kind = type(value).__module__.split(".")[0]
        if kind not in ("torch", "chainrule"):
            continue
        if hasattr(value, "named_parameters") and callable(value.named_parameters):
            for pname, p in value.named_parameters():
                found[f"{name}.{pname}"] = p
        elif hasattr(value, "requires_grad") and hasattr(value, "shape"):
            found[name] = value
    arrays = {}
    import warnings
    for name, t in found.items():
        arrays[name] = np.asarray(t.detach().numpy() if hasattr(t, "detach") else t.numpy(),
                                  dtype=np.float64)
        with warnings.catch_warnings():  # torch warns on .grad of a non-leaf
            warnings.simplefilter("ignore")
            grad = t.grad
        if grad is not None:
            arrays[name + ".grad"] = np.asarray(grad.numpy(), dtype=np.float64)
    return arrays


def compare(source: str, rtol: float, atol: float, argv: list | None = None,
            seed: int = 0, tensor_atol: float | None = None, tail: tuple | None = None,
            final_grads: bool = True, only: tuple | None = None) -> dict:
    """Run both and check every printed number and every tensor left behind (values and
    gradients); returns the largest differences seen, for the record.

    `tail=(k, rtol, atol)`: numbers after the first k are held to looser tolerances (a
    float32 optimizer circling its minimum amplifies rounding differences)."""
    torch_out, torch_ns = run(source, "torch", seed, argv)
    cr_out, cr_ns = run(source, "chainrule", seed, argv)
    a, b = numbers(cr_out), numbers(torch_out)
    assert len(a) == len(b), (f"printed {len(a)} numbers, PyTorch {len(b)}\n--- chainrule\n"
                              f"{cr_out}\n--- torch\n{torch_out}")
    worst = {"printed": 0.0, "tensors": 0.0, "n_printed": len(a), "n_tensors": 0}
    for k, (x, y) in enumerate(zip(a, b)):
        if math.isnan(y):
            assert math.isnan(x), f"number {k}: chainrule {x}, PyTorch nan"
            continue
        err = abs(x - y)
        rt, at = (tail[1], tail[2]) if tail is not None and k >= tail[0] else (rtol, atol)
        assert err <= at + rt * abs(y), (f"printed number {k}: chainrule {x}, PyTorch "
                                             f"{y}\n--- chainrule\n{cr_out}\n--- torch\n{torch_out}")
        if tail is None or k < tail[0]:
            worst["printed"] = max(worst["printed"], err / max(abs(y), 1.0))
    ta, tb = _arrays(cr_ns), _arrays(torch_ns)
    if not final_grads:  # see the caller's reason
        ta, tb = ({k: v for k, v in d.items() if not k.endswith(".grad")} for d in (ta, tb))
    if only is not None:  # only these tensors (see the caller's reason)
        ta, tb = ({k: v for k, v in d.items() if k.startswith(only)} for d in (ta, tb))
        assert tb, f"no tensor named {only} was left behind"
    assert set(ta) == set(tb), f"tensors left: chainrule {sorted(ta)}, PyTorch {sorted(tb)}"
    for name in tb:
        assert ta[name].shape == tb[name].shape, f"{name}: shape {ta[name].shape} vs {tb[name].shape}"
        np.testing.assert_allclose(ta[name], tb[name], rtol=rtol,
                                   atol=atol if tensor_atol is None else tensor_atol,
                                   err_msg=name)
        if tb[name].size:
            scale = np.maximum(np.abs(tb[name]), 1.0)
            worst["tensors"] = max(worst["tensors"],
                                   float(np.max(np.abs(ta[name] - tb[name]) / scale)))
    worst["n_tensors"] = len(tb)
    return worst
