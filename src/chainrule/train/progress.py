"""Progress while training, fed by the loop's callbacks: a bar on a terminal or in a
notebook, one line per evaluation otherwise."""
from __future__ import annotations

import sys

__all__ = ["Progress"]


def _tqdm(notebook: bool):
    """tqdm's widget bar in Jupyter with ipywidgets, its text bar otherwise (tqdm.auto would
    warn without ipywidgets); None without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    if notebook:
        try:
            import ipywidgets  # noqa: F401  (tqdm.notebook draws with it)
            from tqdm.notebook import tqdm
        except ImportError:
            pass
    return tqdm


class Progress:
    """A tqdm bar (or a plain text bar without tqdm) on a terminal; one line per evaluation
    when stdout is not a terminal; nothing when disabled. `step` is an on_iter callback,
    `epoch` an on_eval one; `close` before printing anything else."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total = total
        self.enabled = enabled
        notebook = "ipykernel" in sys.modules   # a Jupyter cell redraws a \r line too
        self.tty = enabled and (notebook or sys.stdout.isatty())
        self.bar = None
        self.pending_line = False   # the text bar has written a line without its newline
        self.text_every = max(1, total // 200)
        bar_type = _tqdm(notebook) if self.tty else None
        if bar_type is not None:
            self.bar = bar_type(total=total, unit="it", dynamic_ncols=True, file=sys.stdout)

    def step(self, done: int, loss: float) -> None:
        if not self.tty:
            return
        if self.bar is not None:
            self.bar.update(1)
            if done % 50 == 0 or done == self.total:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        elif done % self.text_every == 0 or done == self.total:
            width = 30
            filled = width * done // self.total
            sys.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                             f"{done}/{self.total}  loss {loss:.4f}")
            sys.stdout.flush()
            self.pending_line = True

    def epoch(self, record: dict) -> None:
        if not self.enabled:
            return
        line = (f"epoch {record['epoch']:6.2f}  iter {record['iter']:6d}  "
                f"train acc {record['train_acc']:.4f}  test acc {record['test_acc']:.4f}")
        if self.bar is not None:
            self.bar.write(line)
        elif self.tty:
            sys.stdout.write("\r" + line.ljust(70) + "\n")
            sys.stdout.flush()
            self.pending_line = False
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.pending_line:
            sys.stdout.write("\n")
            self.pending_line = False
