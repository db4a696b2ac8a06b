"""The house's rules, read from the source's import lines: which part may import which,
no import circles between modules, nothing installed imports torch, no oversized file."""
import ast
import pathlib
from collections import defaultdict

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "chainrule"

# part -> the parts it may import. engine <- ops <- functional/nn <- glassbox <- train <- cli;
# the book's face imports only the shared NumPy kernels (numerics, which holds the
# numerical-gradient oracle too).
ALLOWED = {
    "engine": set(),
    "threads": set(),
    "malloc": set(),
    "numerics": {"threads", "malloc"},
    "random": set(),
    "atomic": set(),
    "ops": {"engine", "numerics", "random"},
    "functional": {"engine", "ops"},
    "autograd": {"engine", "ops", "functional"},
    "hardware": {"engine"},
    "gradcheck": {"engine", "ops", "functional", "numerics"},
    "nn": {"engine", "ops", "numerics", "random"},
    "book": {"numerics"},
    "datasets": {"atomic"},
    "serialization": {"engine", "atomic"},
    "glassbox": {"engine", "ops", "functional", "gradcheck", "nn", "numerics", "book",
                 "random", "atomic", "datasets", "threads"},
    "train": {"engine", "ops", "functional", "gradcheck", "nn", "numerics", "book", "random",
              "atomic", "datasets", "serialization", "glassbox", "threads"},
    "cli": {"engine", "ops", "functional", "gradcheck", "nn", "numerics", "book", "random",
            "atomic", "datasets", "serialization", "glassbox", "train", "threads"},
    "__main__": {"cli"},
}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path, module_level_only: bool) -> set:
    """The chainrule modules a file imports (module level only, or anywhere)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {n for n in found if n.startswith("chainrule.")}


def _part(module: str) -> str:
    return module.split(".")[1]


FILES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.name != "__init__.py")
MODULES = {_module_name(p) for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_part_imports_only_the_parts_below_it(path):
    part = _part(_module_name(path))
    assert part in ALLOWED, f"{part} is a new part: give it its place in ALLOWED"
    wrong = {m for m in _imports(path, module_level_only=False)
             if m in MODULES or m.rsplit(".", 1)[0] in MODULES
             if _part(m) != part and _part(m) not in ALLOWED[part]}
    assert not wrong, f"{path.name} ({part}) imports {sorted(wrong)}, above or beside it"


def test_no_import_circles_between_modules():
    graph = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        me = _module_name(path)
        for m in _imports(path, module_level_only=True):
            target = m if m in MODULES else m.rsplit(".", 1)[0]
            if target in MODULES and target != me and not me.startswith(target + "."):
                graph[me].add(target)
    state, circles = {}, []

    def visit(node, trail):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                circles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"
    for node in list(graph):
        if node not in state:
            visit(node, [node])
    assert not circles, f"import circles: {circles}"


def test_the_engine_imports_nothing_of_chainrule_outside_itself():
    for path in (PACKAGE / "engine").rglob("*.py"):
        outside = {m for m in _imports(path, module_level_only=False)
                   if not m.startswith("chainrule.engine")}
        assert not outside, f"{path.name} imports {outside}"


def test_nothing_in_the_package_imports_torch():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "torch" for n in names), path


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_file_is_too_long_to_read_at_once(path):
    assert len(path.read_text().splitlines()) <= 430, f"{path.name}: split it by job"
