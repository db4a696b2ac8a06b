"""The former homes of the training code, chainrule.training and chainrule.nn_training,
still give every public name they had; the package keeps its layering."""
import ast
import importlib
import sys
from pathlib import Path

import pytest

import chainrule
import chainrule.train

OLD_NAMES = {
    "chainrule.training": ["TrainConfig", "train", "train_book", "load_data", "save_history",
                           "plot_history", "format_summary", "NonFiniteLossError", "TRAINERS",
                           "DATASETS", "TOY_TRAIN_SIZE", "TOY_TEST_SIZE", "Data", "OnIter",
                           "OnEval", "OnGrads", "stop_if_not_finite", "worst_value",
                           "finish_history", "make_evaluator"],
    "chainrule.nn_training": ["AutogradConfig", "train_autograd", "build_mlp",
                              "make_optimizer", "accuracy", "save_checkpoint",
                              "load_checkpoint", "OPTIMIZERS", "CHECKPOINT_FORMAT"],
}
SRC = Path(chainrule.__path__[0])
TRAIN_DIR = Path(chainrule.train.__path__[0])


@pytest.mark.parametrize("old", sorted(OLD_NAMES))
def test_old_paths_give_the_same_objects(old):
    module = importlib.import_module(old)
    assert module is chainrule.train
    for name in OLD_NAMES[old]:
        assert getattr(module, name) is getattr(chainrule.train, name), name
    assert not (SRC / f"{old.split('.')[1]}.py").exists()


def test_from_imports_of_the_old_paths():
    from chainrule.nn_training import AutogradConfig, train_autograd  # noqa: F401
    from chainrule.training import NonFiniteLossError, TrainConfig, train  # noqa: F401
    assert issubclass(AutogradConfig, TrainConfig)


def test_every_exported_name_resolves():
    for name in chainrule.train.__all__:
        getattr(chainrule.train, name)
    assert set(chainrule.train.__all__) <= set(dir(chainrule.train))


def imported_chainrule_modules(path: Path) -> set[str]:
    """The chainrule modules a file imports (absolute imports; this package uses no others)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            if node.module == "chainrule":
                found.update(f"chainrule.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] == "chainrule"}


@pytest.mark.parametrize("path", sorted(TRAIN_DIR.glob("*.py")), ids=lambda p: p.name)
def test_train_imports_nothing_above_it(path):
    above = {m for m in imported_chainrule_modules(path)
             if m == "chainrule.cli" or m.startswith("chainrule.cli.")}
    assert not above, f"{path.name} imports {sorted(above)}; the CLI stands on train, not under it"


def test_nothing_below_train_imports_it():
    old = ("chainrule.train", "chainrule.training", "chainrule.nn_training")
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).parts
        if rel[0] in ("train", "cli") or path.name == "__init__.py" and len(rel) == 1:
            continue
        uses = {m for m in imported_chainrule_modules(path)
                if any(m == o or m.startswith(o + ".") for o in old)}
        assert not uses, f"{path.relative_to(SRC)} imports {sorted(uses)}"


def test_the_config_module_imports_only_the_standard_library():
    tree = ast.parse((TRAIN_DIR / "config.py").read_text())
    top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
           for alias in node.names}
    top |= {node.module.split(".")[0] for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module}
    assert top <= set(sys.stdlib_module_names) | {"__future__"}, top
