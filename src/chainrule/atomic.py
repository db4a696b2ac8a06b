"""Atomic file writes: a reader (or a crash) sees the old file or the complete new one."""
from __future__ import annotations

import os
import re
import tempfile
import threading
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Iterator

_writing: set[str] = set()   # temporary files this process is writing right now
_lock = threading.RLock()    # a sweep never sees a file created but not yet in _writing


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb",
                encoding: str | None = None) -> Iterator[IO]:
    """Write to a temporary file beside `path`; when the block ends without an error it
    is flushed, fsynced and renamed over `path`. On any error the old file is untouched
    and the temporary file removed; ones left by a killed writer are swept first."""
    path = Path(path)
    with _lock:
        sweep_stale(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                                   suffix=".tmp")
        tmp = os.path.abspath(tmp)
        _writing.add(tmp)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; these are ordinary files
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        _writing.discard(tmp)
    _fsync_dir(path.parent)


def sweep_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files `atomic_open` left beside `path` when its process was
    killed mid-write (`.NAME.PID.XXXXXXXX.tmp` whose PID is gone, or is this process but
    not one of its writes in progress). Best effort; returns what was removed."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[a-z0-9_]{{8}}\.tmp")
    removed = []
    with _lock:
        try:
            candidates = list(path.parent.iterdir())
        except OSError:
            return removed
        for tmp in candidates:
            match = pattern.fullmatch(tmp.name)
            if match is None or not _dead_writer(int(match.group(1)), os.path.abspath(tmp)):
                continue
            with suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _dead_writer(pid: int, tmp: str) -> bool:
    """True when the process that named the temporary file `tmp` no longer writes it."""
    if pid == os.getpid():
        return tmp not in _writing
    if os.name != "posix":   # no harmless liveness probe (os.kill would end the process)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:          # alive, owned by someone else
        return False
    return False


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every platform allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
