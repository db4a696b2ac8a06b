"""The book's face stands on NumPy and chainrule.numerics alone, and keeps its public paths.

Import lines are read from the source with ast (every import, including ones inside
functions), so the rule holds whatever happens to be imported already in this process.
"""
import ast
import importlib
import sys
from pathlib import Path

import pytest

import chainrule
import chainrule.book

BOOK_DIR = Path(chainrule.book.__path__[0])
NUMERICS = sorted((Path(chainrule.__path__[0]) / "numerics").glob("*.py"))


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module the file imports, relative imports resolved against `package`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - node.level + 1])
            if node.module:
                found.add(f"{base}.{node.module}")
            else:  # `from . import x`: x may be a submodule, count it as one
                found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add(node.module)
    return found


def third_party(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] not in sys.stdlib_module_names}


BOOK_FILES = sorted(BOOK_DIR.rglob("*.py"))


def test_the_book_package_has_its_modules():
    assert {p.name for p in BOOK_FILES} >= {"__init__.py", "layers.py", "models.py"}


@pytest.mark.parametrize("path", BOOK_FILES, ids=lambda p: p.name)
def test_book_modules_import_only_numpy_and_numerics(path):
    modules = imported_modules(path, "chainrule.book")
    outside = {m for m in third_party(modules)
               if m != "numpy" and not m.startswith("numpy.")
               and m != "chainrule.numerics"
               and m != "chainrule.book" and not m.startswith("chainrule.book.")}
    assert not outside, (f"{path.name} imports {sorted(outside)}; the book's face may import "
                         f"only numpy and chainrule.numerics (and its own modules)")


def test_numerics_imports_only_numpy_and_the_runtime_policies():
    # chainrule.threads and chainrule.malloc import nothing of chainrule
    # (tests/test_architecture.py checks it)
    modules = set().union(*(third_party(imported_modules(path, "chainrule.numerics"))
                            for path in NUMERICS))
    assert modules <= {"numpy", "chainrule.threads", "chainrule.malloc",
                       "chainrule.numerics.parallel", "chainrule.numerics.windows"}, \
        sorted(modules)


def test_the_import_reader_sees_relative_and_nested_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from .layers import A\nfrom .. import engine\n"
                      "def f():\n    import chainrule.nn\n")
    assert imported_modules(source, "chainrule.book") == {
        "chainrule.book.layers", "chainrule.engine", "chainrule.nn"}


@pytest.mark.parametrize("old, new", [
    ("chainrule.layers", "chainrule.book.layers"),
    ("chainrule.models", "chainrule.book.models"),
    ("chainrule.numgrad", "chainrule.gradcheck"),
])
def test_old_import_paths_give_the_modules_at_their_new_homes(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_public_names_of_the_book_face():
    from chainrule.layers import (AddLayer, Affine, MulLayer, Relu, Sigmoid,  # noqa: F401
                                  SoftmaxWithLoss)
    from chainrule.models import TwoLayerNet
    assert TwoLayerNet.__module__ == "chainrule.book.models"
    assert AddLayer.__module__ == "chainrule.book.layers"
