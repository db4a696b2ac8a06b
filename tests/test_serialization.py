"""save/load: the safetensors format written by hand, checked against the real
`safetensors` package and PyTorch both ways, atomic writes, clear errors."""
import hashlib
import json
import os
import re
import struct

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, serialization


def sample():
    rng = np.random.default_rng(0)
    return {
        "w": rng.normal(size=(3, 4)).astype(np.float32),
        "d": rng.normal(size=(2,)),
        "h": np.arange(6, dtype=np.float16).reshape(2, 3),
        "i": np.array([1, -2, 3], np.int64),
        "u": np.arange(4, dtype=np.uint8),
        "b": np.array([True, False]),
        "scalar": np.array(7, np.int32),
        "empty": np.zeros((0, 5), np.float32),
        "fortran": np.asfortranarray(rng.normal(size=(3, 2)).astype(np.float32)),
    }


def test_round_trip_all_dtypes_and_metadata(tmp_path):
    data = sample()
    path = tmp_path / "x.safetensors"
    cr.save({**data, "t": cr.tensor([1.0, 2.0])}, path, metadata={"note": "hi", "n": "3"})
    back = cr.load(path)
    assert list(back) == list(data) + ["t"]
    for key, arr in data.items():
        assert isinstance(back[key], cr.Tensor)
        assert back[key].dtype == arr.dtype and back[key].shape == arr.shape
        np.testing.assert_array_equal(back[key].numpy(), arr)
    assert back["w"].numpy().flags.writeable
    assert serialization.load_metadata(path) == {"note": "hi", "n": "3"}
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert raw[8:9] == b"{" and n % 8 == 0


def test_interop_with_the_safetensors_package(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    data = sample()
    ours = tmp_path / "ours.safetensors"
    cr.save(data, ours, metadata={"k": "v"})
    theirs = st_numpy.load_file(str(ours))
    assert set(theirs) == set(data)
    for key in data:
        np.testing.assert_array_equal(theirs[key], data[key])
    from safetensors import safe_open
    with safe_open(str(ours), "np") as f:
        meta = f.metadata()
    assert meta.keys() == {"k", serialization.HASH_KEY} and meta["k"] == "v"
    assert json.loads(meta[serialization.HASH_KEY]) == {   # SHA-256 of the stored bytes
        key: hashlib.sha256(np.ascontiguousarray(theirs[key]).tobytes()).hexdigest()
        for key in data}
    path = tmp_path / "theirs.safetensors"
    st_numpy.save_file({k: np.ascontiguousarray(v) for k, v in data.items()}, str(path),
                       metadata={"a": "b"})
    back = cr.load(path)
    for key in data:
        np.testing.assert_array_equal(back[key].numpy(), data[key])
    assert serialization.load_metadata(path) == {"a": "b"}


def test_chainrule_linear_into_torch_and_back(tmp_path):
    torch = pytest.importorskip("torch", reason="pip install torch==2.13.0")
    st_torch = pytest.importorskip("safetensors.torch")
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)

    ours = nn.Linear(4, 3)
    cr.save(ours.state_dict(), tmp_path / "cr.safetensors")
    tlin = torch.nn.Linear(4, 3)
    tlin.load_state_dict(st_torch.load_file(str(tmp_path / "cr.safetensors")))
    np.testing.assert_allclose(tlin(torch.from_numpy(x)).detach().numpy(),
                               ours(cr.tensor(x)).numpy(), rtol=1e-6, atol=1e-6)

    tnet = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 2))
    st_torch.save_file(tnet.state_dict(), str(tmp_path / "torch.safetensors"))
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    net.load_state_dict(cr.load(tmp_path / "torch.safetensors"))
    np.testing.assert_allclose(net(cr.tensor(x)).numpy(),
                               tnet(torch.from_numpy(x)).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_mismatched_checkpoint_names_the_parameter_and_changes_nothing(tmp_path):
    cr.save(nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2)).state_dict(),
            tmp_path / "a.safetensors")
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    with pytest.raises(ValueError, match=r"0\.weight.*\(5, 4\).*\(6, 4\)"):
        net.load_state_dict(cr.load(tmp_path / "a.safetensors"))
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_failed_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    cr.save({"w": np.ones(3, np.float32)}, path)
    old = path.read_bytes()
    real_write = serialization._write_array
    calls = []

    def crash_midway(f, arr):
        calls.append(1)
        if len(calls) == 2:        # the second tensor: half written, then the "crash"
            f.write(b"\x00" * 4)
            raise OSError("disk full")
        real_write(f, arr)

    monkeypatch.setattr(serialization, "_write_array", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        cr.save({"w": np.zeros(3, np.float32), "v": np.zeros(100, np.float32)}, path)
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["model.safetensors"]  # no temporary file left behind
    monkeypatch.setattr(serialization, "_write_array", real_write)
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), np.ones(3))


def test_bad_values_rejected_before_touching_the_file(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save({"w": np.ones(2, np.float32)}, path)
    old = path.read_bytes()
    for bad in ({"w": [1, 2]}, {"w": np.array(["a"])}, {"w": np.ones(2, np.complex64)},
                {"__metadata__": np.ones(1)}, {1: np.ones(1)}):
        with pytest.raises(ValueError):
            cr.save(bad, path)
    with pytest.raises(ValueError, match="metadata"):
        cr.save({"w": np.ones(1)}, path, metadata={"n": 3})
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["m.safetensors"]


def test_corrupt_files_give_clear_errors(tmp_path):
    path = tmp_path / "c.safetensors"
    cr.save({"a": np.arange(4, dtype=np.float32), "b": np.ones(2, np.float64)}, path)
    raw = path.read_bytes()
    cases = {
        "short": raw[:5],
        "truncated": raw[:-3],
        "huge header": (10**12).to_bytes(8, "little") + raw[8:],
        "not json": raw[:8] + b"x" * (len(raw) - 8),
        "extra bytes": raw + b"\x00" * 8,
    }
    for what, blob in cases.items():
        path.write_bytes(blob)
        with pytest.raises(serialization.SafetensorsError):
            cr.load(path)
    assert issubclass(serialization.SafetensorsError, ValueError)


def test_no_pickle_imported():
    import ast
    tree = ast.parse(open(serialization.__file__, encoding="utf-8").read())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module for node in ast.walk(tree)
                                            if isinstance(node, ast.ImportFrom)}
    assert not {"pickle", "cPickle", "dill", "joblib"} & imported


# ---- checksums: every file records a SHA-256 per tensor, and load verifies it -----------

def rewrite_header(path, change) -> None:
    """Apply `change` to the parsed header of a saved file and write it back."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    change(header)
    path.write_bytes(raw_file(header, raw[8 + n:]))


def raw_file(header, data: bytes = b"") -> bytes:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def test_a_flipped_byte_is_an_error_naming_the_file_and_the_tensor(tmp_path):
    path = tmp_path / "model.safetensors"
    cr.save({"a": np.arange(4, dtype=np.float32), "b": np.ones(3)}, path)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x01                                   # one bit inside "b"
    path.write_bytes(bytes(raw))
    with pytest.raises(serialization.SafetensorsError,
                       match=rf"load: {path}: tensor 'b' does not match the SHA-256 recorded"):
        cr.load(path)
    assert path.read_bytes() == bytes(raw)


def test_files_without_the_checksum_record_still_load(tmp_path):
    """Files from other tools, or from chainrule before the record existed."""
    path = tmp_path / "old.safetensors"
    w = np.arange(6, dtype=np.float32)
    cr.save({"w": w}, path, metadata={"note": "x"})
    rewrite_header(path, lambda h: h["__metadata__"].pop(serialization.HASH_KEY))
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), w)
    path.write_bytes(raw_file({"w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}},
                              w.tobytes()))
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), w)
    assert serialization.load_metadata(path) == {}


@pytest.mark.parametrize("record, message", [
    ("{not json", "metadata field 'chainrule.sha256' is not valid JSON"),
    ('["abc"]', "metadata field 'chainrule.sha256' must map tensor names to SHA-256"),
    ('{"w": 5}', "metadata field 'chainrule.sha256' must map tensor names to SHA-256"),
    ("{}", "metadata field 'chainrule.sha256' has no SHA-256 for tensor 'w'"),
    (None, "metadata field 'chainrule.sha256' records tensor 'gone', which the file does not"),
])
def test_a_damaged_checksum_record_names_the_file_and_the_field(tmp_path, record, message):
    path = tmp_path / "m.safetensors"
    cr.save({"w": np.ones(2, np.float32)}, path)

    def damage(header):
        meta = header["__metadata__"]
        if record is None:
            hashes = json.loads(meta[serialization.HASH_KEY])
            meta[serialization.HASH_KEY] = json.dumps({**hashes, "gone": "0" * 64})
        else:
            meta[serialization.HASH_KEY] = record
    rewrite_header(path, damage)
    with pytest.raises(serialization.SafetensorsError, match=f"load: {path}: {message}"):
        cr.load(path)


def test_the_checksum_key_is_reserved(tmp_path):
    path = tmp_path / "m.safetensors"
    cr.save({"w": np.ones(2, np.float32)}, path, metadata={"a": "b"})
    old = path.read_bytes()
    with pytest.raises(serialization.SafetensorsError, match="'chainrule.sha256' is reserved"):
        cr.save({"w": np.zeros(2, np.float32)}, path, metadata={serialization.HASH_KEY: "{}"})
    assert path.read_bytes() == old and os.listdir(tmp_path) == ["m.safetensors"]
    assert serialization.load_metadata(path) == {"a": "b"}     # the record is not user data


# ---- untrusted headers: a SafetensorsError naming the file, never a crash ----------------

def entry(shape, offsets, dtype="F32"):
    return {"w": {"dtype": dtype, "shape": shape, "data_offsets": offsets}}


HOSTILE = {
    "JSON arrays 100000 deep": (raw_file(b"[" * 100_000 + b"]" * 100_000),
                                "header nests JSON too deeply"),
    "JSON objects 50000 deep": (raw_file(b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
                                "header nests JSON too deeply"),
    "element count 2**64": (raw_file(entry([2**32, 2**32], [0, 0])),
                            r"'w' declares the shape \[4294967296, 4294967296\], whose size "
                            r"overflows int64"),
    "byte count 2**63": (raw_file(entry([2**61, 4], [0, 0])), "whose size overflows int64"),
    "a dimension beyond int64": (raw_file(entry([2**70, 0], [0, 0])),
                                 "whose size overflows int64"),
    "a 5000-digit integer": (raw_file(b'{"w": {"dtype": "F32", "shape": [' + b"9" * 5000
                                      + b'], "data_offsets": [0, 0]}}'),
                             "header is not valid JSON"),
    "offsets beyond the file": (raw_file(entry([1], [2**64, 2**64 + 4]), b"\0" * 4),
                                "does not match its byte range"),
    "a negative offset": (raw_file(entry([1], [-4, 0]), b"\0" * 4), r"byte range \[-4, 0\) of 4"),
    "a range too short": (raw_file(entry([2], [0, 8]), b"\0" * 4), r"byte range \[0, 8\) of 4"),
    "a negative dimension": (raw_file(entry([-1], [0, 0])), "negative dimension"),
    "a float dimension": (raw_file(entry([1.0], [0, 4]), b"\0" * 4), "bad header entry for 'w'"),
    "a bool dimension": (raw_file(entry([True], [0, 4]), b"\0" * 4), "bad header entry for 'w'"),
    "a string dimension": (raw_file(entry(["1"], [0, 4]), b"\0" * 4),
                           "bad header entry for 'w'"),
    "an unknown dtype": (raw_file(entry([1], [0, 4], dtype="F128"), b"\0" * 4),
                         "bad header entry for 'w'"),
    "an entry that is a list": (raw_file({"w": [1, 2]}), "bad header entry for 'w'"),
    "100 dimensions": (raw_file(entry([1] * 100, [0, 4]), b"\0" * 4),
                       "'w' cannot be read as an array"),
    "metadata that is a list": (raw_file({"__metadata__": [], **entry([1], [0, 4])}, b"\0" * 4),
                                "__metadata__ must map"),
    "metadata values not strings": (raw_file({"__metadata__": {"a": 1}}),
                                    "__metadata__ must map"),
}


@pytest.mark.parametrize("blob, message", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_headers_are_safetensors_errors_naming_the_file(tmp_path, blob, message):
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(blob)
    with pytest.raises(serialization.SafetensorsError) as info:
        cr.load(path)
    assert str(info.value).startswith(f"load: {path}: ")
    assert len(str(info.value)) < 400                 # a huge header is not echoed back
    assert re.search(message, str(info.value)), str(info.value)
