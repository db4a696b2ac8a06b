"""atomic_open: the old file or the complete new one, never a temporary file left behind."""
import os
import subprocess
import sys
import threading

import pytest

from chainrule.atomic import atomic_open, sweep_stale

posix_only = pytest.mark.skipif(os.name != "posix", reason="kills a process with SIGKILL")


def write(path, data: bytes) -> None:
    with atomic_open(path) as f:
        f.write(data)


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "f.bin"
    write(path, b"old")
    with pytest.raises(type(error)):
        with atomic_open(path) as f:
            f.write(b"half of the new")
            raise error
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


@posix_only
def test_a_killed_writer_leaves_a_temporary_that_the_next_write_sweeps(tmp_path):
    path = tmp_path / "ck.safetensors"
    write(path, b"good")
    killed = ("import os, signal, sys; from chainrule.atomic import atomic_open\n"
              "writer = atomic_open(sys.argv[1]); f = writer.__enter__()\n"
              "f.write(b'partial'); f.flush()\n"
              "os.kill(os.getpid(), signal.SIGKILL)")
    result = subprocess.run([sys.executable, "-c", killed, str(path)])
    assert result.returncode == -9
    leftovers = [p for p in os.listdir(tmp_path) if p != "ck.safetensors"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".ck.safetensors.")
    assert path.read_bytes() == b"good"
    write(path, b"new")
    assert os.listdir(tmp_path) == ["ck.safetensors"] and path.read_bytes() == b"new"


@posix_only
def test_the_sweep_spares_live_writers_and_other_files(tmp_path):
    path = tmp_path / "h.json"
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        keep = [f".h.json.{alive.pid}.abcdefgh.tmp",       # another process still writing
                ".h.json.x.abcdefgh.tmp", ".other.json.1.abcdefgh.tmp", "h.json.tmp",
                ".h.json.1.abc.tmp"]
        for name in keep:
            (tmp_path / name).write_bytes(b"")
        with atomic_open(path) as f:                      # our own write in progress ...
            f.write(b"{}")
            assert sweep_stale(path) == []                 # ... is not stale either
        assert sorted(os.listdir(tmp_path)) == sorted(keep + ["h.json"])
    finally:
        alive.kill()
        alive.wait()
    assert sweep_stale(path) == [tmp_path / keep[0]]       # its writer is gone now


def test_a_leftover_with_this_process_id_is_swept(tmp_path):
    """A killed run's process id can come back (containers number processes alike)."""
    path = tmp_path / "m.safetensors"
    stale = tmp_path / f".m.safetensors.{os.getpid()}.k2j4_9xz.tmp"
    stale.write_bytes(b"partial")
    write(path, b"ok")
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_threads_writing_one_file_never_sweep_each_other(tmp_path):
    path = tmp_path / "shared.json"
    errors = []

    def writer(k):
        try:
            for _ in range(30):
                write(path, b"%d" % k)
        except Exception as err:        # a swept temporary: FileNotFoundError on rename
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert os.listdir(tmp_path) == ["shared.json"] and path.read_bytes() in \
        {b"%d" % k for k in range(8)}
