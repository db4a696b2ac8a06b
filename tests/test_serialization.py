"""save/load: the safetensors format written by hand, checked against the real
`safetensors` package and PyTorch both ways, atomic writes, clear errors."""
import os

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
        assert f.metadata() == {"k": "v"}
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
