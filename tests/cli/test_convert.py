"""`chainrule convert`: a pickle of NumPy arrays becomes safetensors; a pickle that would
run code is refused, runs nothing, and exits 2."""
import builtins
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from chainrule.book.deep_convnet import DeepConvNet
from chainrule.cli import main
from chainrule.serialization import load
from chainrule.train.book_weights import UnsafePickleError, load_pickle_arrays


def _params():
    rng = np.random.default_rng(0)
    return {"W1": rng.standard_normal((30, 1, 5, 5)), "b1": np.zeros(30),
            "W2": rng.standard_normal((4320, 100)).astype(np.float32),
            "b2": np.arange(100, dtype=np.float32)}


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_converts_a_pickled_dict_of_arrays(tmp_path, capsys, protocol):
    params = _params()
    src, dst = tmp_path / "params.pkl", tmp_path / "params.safetensors"
    with open(src, "wb") as f:
        pickle.dump(params, f, protocol=protocol)
    assert main(["convert", str(src), str(dst)]) == 0
    assert "saved 4 arrays" in capsys.readouterr().out
    loaded = load(dst)
    assert list(loaded) == list(params)
    for key, value in params.items():
        assert loaded[key].dtype == value.dtype
        np.testing.assert_array_equal(loaded[key].numpy(), value)


def test_ordered_dicts_lists_and_scalars_convert(tmp_path):
    src = tmp_path / "p.pkl"
    src.write_bytes(pickle.dumps(OrderedDict(a=[np.ones(2), np.float32(3)],
                                             b=(np.eye(2),))))
    arrays = load_pickle_arrays(src)
    assert list(arrays) == ["a.0", "a.1", "b.0"]
    assert arrays["a.1"].shape == () and arrays["a.1"].dtype == np.float32


def test_converted_book_weights_load_into_the_book_network(tmp_path):
    net = DeepConvNet(seed=1)
    src, dst = tmp_path / "deep.pkl", tmp_path / "deep.safetensors"
    src.write_bytes(pickle.dumps({k: v.copy() for k, v in net.params.items()}))
    assert main(["convert", str(src), str(dst)]) == 0
    other = DeepConvNet(seed=2)
    other.load_params(dst)
    for key in net.params:
        np.testing.assert_array_equal(other.params[key], net.params[key])


class RunsAShellCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Evaluates:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (builtins.eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("payload, refused", [(RunsAShellCommand, ("posix.system",
                                                                   "nt.system")),
                                              (Evaluates, ("builtins.eval",))])
def test_a_malicious_pickle_is_refused_and_runs_nothing(tmp_path, capsys, payload, refused):
    marker = tmp_path / "pwned"
    src, dst = tmp_path / "evil.pkl", tmp_path / "evil.safetensors"
    src.write_bytes(pickle.dumps({"W1": np.ones(3), "b1": payload(marker)}))
    assert main(["convert", str(src), str(dst)]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and any(name in err for name in refused)
    assert not marker.exists() and not dst.exists()
    with pytest.raises(UnsafePickleError, match="refused"):
        load_pickle_arrays(src)
    assert not marker.exists()


def test_a_pickled_class_instance_is_refused(tmp_path, capsys):
    src = tmp_path / "obj.pkl"
    # an instance of a class of the author's: the class itself is a global to refuse
    src.write_bytes(pickle.dumps({"x": _Plain()}))
    assert main(["convert", str(src), str(tmp_path / "o.safetensors")]) == 2
    assert "_Plain" in capsys.readouterr().err


class _Plain:
    pass


@pytest.mark.parametrize("content, message", [
    (b"not a pickle at all", "not a readable pickle"),
    (pickle.dumps({"s": "text"}), "str"),
    (pickle.dumps({"a": np.array(["x"])}), "only numeric"),
    (pickle.dumps({}), "no arrays"),
])
def test_bad_pickles_exit_2_with_a_message(tmp_path, capsys, content, message):
    src = tmp_path / "bad.pkl"
    src.write_bytes(content)
    assert main(["convert", str(src), str(tmp_path / "out.safetensors")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.safetensors").exists()


def test_a_missing_source_exits_2(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "nope.pkl"), str(tmp_path / "o.st")]) == 2
    assert "no such file" in capsys.readouterr().err
