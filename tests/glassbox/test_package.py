"""The glass box as a package: its names from `chainrule.glassbox` and the old path
`chainrule.viz`, imported only on first use; no layer below it imports it."""
import importlib
import subprocess
import sys

import chainrule
import chainrule.glassbox as glassbox


def run(code):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_picture_names_and_the_old_path():
    from chainrule.glassbox import dot, plots
    from chainrule.viz import Dot, GraphvizNotFound, dot_available, render, to_dot
    assert (to_dot, render, Dot, GraphvizNotFound, dot_available) == \
        (dot.to_dot, dot.render, dot.Dot, dot.GraphvizNotFound, dot.dot_available)
    assert glassbox.to_dot is dot.to_dot and chainrule.viz.to_dot is dot.to_dot
    assert importlib.import_module("chainrule.viz.dot") is dot
    assert importlib.import_module("chainrule.viz.plots") is plots
    assert chainrule.viz.dot is dot and chainrule.viz is glassbox
    assert set(glassbox.__all__) <= set(dir(glassbox))


def test_importing_the_package_loads_none_of_its_modules():
    out = run("import sys, chainrule.glassbox; "
              "print(sorted(m for m in sys.modules if m.startswith('chainrule.glassbox.')), "
              "'numpy' in sys.modules)")
    assert out == "[] False"
    out = run("import sys, chainrule.viz; print(chainrule.viz.__name__, "
              "'chainrule.glassbox.dot' in sys.modules)")
    assert out == "chainrule.glassbox False"


def test_no_layer_below_the_glass_box_imports_it():
    out = run("import sys, chainrule.engine, chainrule.ops, chainrule.functional, "
              "chainrule.nn; "
              "print([m for m in sys.modules if m.startswith(('chainrule.glassbox', "
              "'chainrule.viz'))])")
    assert out == "[]"
