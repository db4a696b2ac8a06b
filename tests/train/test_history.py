"""history.json, summary.json and the curves of a run."""
import importlib.util
import json

import pytest

from chainrule.train import format_summary, plot_history, save_history, train

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def test_saved_history_and_summary(tmp_path, quick):
    history = train(quick(iters=12))
    path = save_history(history, tmp_path / "run")
    saved = json.loads(path.read_text())
    assert "seconds" not in saved                          # wall-clock time breaks determinism
    for key in ("iters", "loss", "train_acc", "test_acc", "epochs", "eval_iters", "config"):
        assert saved[key] == history[key]
    assert saved["config"]["seed"] == 0 and saved["api"] == "book"
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["seconds"] == history["seconds"] and summary["test_acc"] == \
        history["final"]["test_acc"]
    assert "test accuracy" in format_summary(history)


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="plots need matplotlib: pip install chainrule[plot]")
@pytest.mark.parametrize("hidden", [100, [16, 8]])
def test_plot_is_a_png(tmp_path, quick, hidden):
    path = plot_history(train(quick(iters=12, hidden=hidden)), tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
