"""SimpleConvNet and DeepConvNet: backprop equals central differences on tiny instances,
the forward pass equals the autograd face's conv2d / max_pool2d / linear on the same
weights, the book's architecture and names, safetensors save/load, clear errors."""
import json
import pickle
import struct

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.book.deep_convnet import DeepConvNet
from chainrule.book.layers import Affine, Convolution, Dropout, Pooling, Relu
from chainrule.book.simple_convnet import SimpleConvNet

from .gradcheck_helpers import assert_gradients_agree, bars, shift_biases


pytestmark = pytest.mark.usefixtures("seeded_dropout")


def conv(filter_num, pad=1, size=3, stride=1):
    return {"filter_num": filter_num, "filter_size": size, "pad": pad, "stride": stride}


def tiny_deep(**kwargs):
    """DeepConvNet on 8x8 images with 2-4 filters per conv: 8 -> pool 4 -> (pad 2) 6 ->
    pool 3 -> pool 1."""
    return DeepConvNet((1, 8, 8), conv(2), conv(2), conv(3), conv(3, pad=2), conv(4), conv(4),
                       hidden_size=5, output_size=3, **kwargs)


# ---- gradients --------------------------------------------------------------------------

@pytest.mark.parametrize("input_dim, param", [
    ((1, 8, 8), conv(3, pad=0)),
    ((2, 7, 9), conv(3, pad=1, stride=2)),      # odd, non-square, padded, strided
], ids=["8x8", "2x7x9-stride2"])
def test_simple_convnet_backprop_matches_numerical_gradient(input_dim, param):
    rng = np.random.default_rng(0)
    x, t = rng.random((3, *input_dim)), np.array([0, 2, 1])
    net = SimpleConvNet(input_dim, param, hidden_size=5, output_size=3, weight_init_std=0.3,
                        seed=1)
    shift_biases(net)
    assert_gradients_agree(net, x, t)


def test_simple_convnet_book_gradient_check_with_a_label_column():
    """The book's ch07 check: one 10x10 image, label given as a (1, 1) array. (With 640
    convolution outputs, some seeds put one within h = 1e-4 of ReLU's kink or of a tie in
    a pooling window, where a central difference is off; this seed puts none there.)"""
    net = SimpleConvNet((1, 10, 10), conv(10, pad=0), hidden_size=10, output_size=10,
                        weight_init_std=0.1, seed=3)
    shift_biases(net)
    x = np.random.default_rng(3).random((1, 1, 10, 10))
    assert_gradients_agree(net, x, np.array([1]).reshape(1, 1))


def test_deep_convnet_backprop_matches_numerical_gradient_with_dropout_on():
    x, t = bars(4, seed=1)
    net = tiny_deep(seed=2)
    shift_biases(net)
    assert_gradients_agree(net, x, t)


# ---- the two faces agree -----------------------------------------------------------------

def autograd_simple(net, x, stride, pad):
    p = {k: cr.tensor(v.copy(), requires_grad=True) for k, v in net.params.items()}
    h = F.max_pool2d(F.relu(F.conv2d(cr.tensor(x), p["W1"], p["b1"], stride, pad)), 2, 2)
    h = F.relu(F.linear(h.reshape(x.shape[0], -1), p["W2"].T, p["b2"]))
    return F.linear(h, p["W3"].T, p["b3"]), p


@pytest.mark.parametrize("input_dim, stride, pad", [((1, 12, 12), 1, 0), ((3, 9, 11), 2, 2)])
def test_simple_convnet_equals_the_autograd_face(input_dim, stride, pad):
    rng = np.random.default_rng(4)
    net = SimpleConvNet(input_dim, conv(4, pad=pad, stride=stride), hidden_size=7,
                        output_size=5, weight_init_std=0.5, seed=5)
    shift_biases(net)
    x, t = rng.standard_normal((6, *input_dim)), rng.integers(0, 5, 6)
    logits, p = autograd_simple(net, x, stride, pad)
    np.testing.assert_allclose(net.predict(x), logits.numpy(), rtol=1e-12, atol=1e-13)
    loss = F.cross_entropy(logits, t)
    assert net.loss(x, t) == pytest.approx(loss.item(), rel=1e-13)
    loss.backward()
    grads = net.gradient(x, t)
    for key in net.params:
        np.testing.assert_allclose(grads[key], p[key].grad.numpy(), rtol=1e-10, atol=1e-14)


def test_deep_convnet_inference_equals_the_autograd_face():
    """Eval mode: the book's (non-inverted) dropout scales by 1 - ratio = 0.5 twice."""
    net = tiny_deep(seed=6)
    shift_biases(net)
    x = np.random.default_rng(7).standard_normal((5, 1, 8, 8))
    p = {k: cr.tensor(v.copy()) for k, v in net.params.items()}
    h = cr.tensor(x)
    for i, pad in enumerate((1, 1, 1, 2, 1, 1), start=1):
        h = F.relu(F.conv2d(h, p[f"W{i}"], p[f"b{i}"], 1, pad))
        if i % 2 == 0:
            h = F.max_pool2d(h, 2, 2)
    h = F.relu(F.linear(h.reshape(5, -1), p["W7"].T, p["b7"])) * 0.5
    logits = F.linear(h, p["W8"].T, p["b8"]) * 0.5
    np.testing.assert_allclose(net.predict(x), logits.numpy(), rtol=1e-12, atol=1e-14)


# ---- architecture and interface ----------------------------------------------------------

def test_simple_convnet_has_the_books_architecture():
    net = SimpleConvNet(seed=0)
    assert list(net.layers) == ["Conv1", "Relu1", "Pool1", "Affine1", "Relu2", "Affine2"]
    assert [type(v) for v in net.layers.values()] == [Convolution, Relu, Pooling, Affine, Relu,
                                                      Affine]
    assert {k: v.shape for k, v in net.params.items()} == {
        "W1": (30, 1, 5, 5), "b1": (30,), "W2": (30 * 12 * 12, 100), "b2": (100,),
        "W3": (100, 10), "b3": (10,)}
    assert all(v.dtype == np.float64 for v in net.params.values())
    assert net.params["W2"].std() == pytest.approx(0.01, rel=0.02)
    assert net.layers["Conv1"].W is net.params["W1"]
    assert net.layers["Affine2"].b is net.params["b3"]
    pool = net.layers["Pool1"]
    assert (pool.pool_h, pool.pool_w, pool.stride) == (2, 2, 2)
    assert SimpleConvNet(dtype=np.float32).params["W1"].dtype == np.float32


def test_deep_convnet_has_the_books_architecture():
    net = DeepConvNet(seed=0)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == (["Convolution", "Relu", "Convolution", "Relu", "Pooling"] * 3
                     + ["Affine", "Relu", "Dropout", "Affine", "Dropout"])
    for i, index in enumerate((0, 2, 5, 7, 10, 12, 15, 18), start=1):   # the book's indices
        assert net.layers[index].W is net.params[f"W{i}"]
    assert [net.params[f"W{i}"].shape for i in range(1, 9)] == [
        (16, 1, 3, 3), (16, 16, 3, 3), (32, 16, 3, 3), (32, 32, 3, 3), (64, 32, 3, 3),
        (64, 64, 3, 3), (64 * 4 * 4, 50), (50, 10)]
    assert net.layers[7].pad == 2 and net.layers[0].pad == 1
    fan_ins = [9, 144, 144, 288, 288, 576, 1024, 50]          # He: sqrt(2 / fan_in)
    for i, fan_in in enumerate(fan_ins, start=1):
        assert net.params[f"W{i}"].std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.15)
        assert not net.params[f"b{i}"].any()
    assert all(layer.dropout_ratio == 0.5 for layer in net.layers if isinstance(layer, Dropout))


def test_deep_convnet_loss_runs_dropout_as_the_books():
    x, t = bars(6, seed=3)
    net = tiny_deep(seed=4)
    assert net.loss(x, t) != net.loss(x, t)                    # fresh masks each call
    assert net.loss(x, t, train_flg=False) == net.loss(x, t, train_flg=False)


def test_accuracy_counts_every_sample_in_batches():
    x, t = bars(250, seed=5)
    net = SimpleConvNet((1, 8, 8), conv(3, pad=0), hidden_size=6, output_size=3,
                        weight_init_std=0.3, seed=6)
    expected = np.mean(np.argmax(net.predict(x), axis=1) == t)
    assert 0 < expected < 1
    for batch_size in (100, 7, 250, 1000):
        assert net.accuracy(x, t, batch_size=batch_size) == pytest.approx(expected, abs=1e-15)
    assert net.accuracy(x[:50], t[:50]) == np.mean(np.argmax(net.predict(x[:50]), 1) == t[:50])
    assert net.accuracy(x, np.eye(3)[t]) == pytest.approx(expected, abs=1e-15)


# ---- save and load -----------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda s: SimpleConvNet((1, 8, 8), conv(3, pad=0), 6, 3,
                                                          seed=s),
                                  lambda s: tiny_deep(seed=s)], ids=["simple", "deep"])
def test_save_and_load_round_trip(tmp_path, make):
    x = np.random.default_rng(8).standard_normal((4, 1, 8, 8))
    net, other = make(1), make(2)
    path = tmp_path / "params.safetensors"
    net.save_params(path)
    arrays = {k: v for k, v in other.params.items()}
    assert not np.allclose(other.predict(x), net.predict(x))
    other.load_params(path)
    np.testing.assert_array_equal(other.predict(x), net.predict(x))
    for key in net.params:  # copied into the arrays the layers hold
        assert other.params[key] is arrays[key]
        np.testing.assert_array_equal(other.params[key], net.params[key])
    assert [p.name for p in tmp_path.iterdir()] == ["params.safetensors"]  # no temporary left


def test_saved_files_are_safetensors_that_others_read(tmp_path):
    net = SimpleConvNet((1, 8, 8), conv(3, pad=0), 6, 3, seed=1)
    path = tmp_path / "net.safetensors"
    net.save_params(path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert header["W1"] == {"dtype": "F64", "shape": [3, 1, 3, 3], "data_offsets": [0, 216]}
    assert b"pickle" not in raw[:8 + n] and (8 + n) % 8 == 0
    from chainrule.serialization import load
    loaded = load(path)
    for key in net.params:
        np.testing.assert_array_equal(loaded[key].numpy(), net.params[key])
    safetensors_numpy = pytest.importorskip("safetensors.numpy",
                                            reason="the safetensors package reads it too")
    for key, value in safetensors_numpy.load_file(str(path)).items():
        np.testing.assert_array_equal(value, net.params[key])


def test_a_float64_file_loads_into_a_float32_network(tmp_path):
    net = SimpleConvNet((1, 8, 8), conv(3, pad=0), 6, 3, seed=1)
    net.save_params(tmp_path / "p.safetensors")
    net32 = SimpleConvNet((1, 8, 8), conv(3, pad=0), 6, 3, seed=2, dtype=np.float32)
    net32.load_params(tmp_path / "p.safetensors")
    assert net32.params["W2"].dtype == np.float32
    np.testing.assert_allclose(net32.params["W2"], net.params["W2"], rtol=1e-7)


class _RunsCode:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def test_the_books_pickle_loads_without_running_code(tmp_path):
    """The book's save_params writes pickle.dumps(params) (protocol 2 and later): loaded as
    the book's load_params does; a pickle naming any other global is refused unrun."""
    net = SimpleConvNet((1, 8, 8), conv(3, pad=0), 6, 3, seed=1)
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        pkl = tmp_path / f"params{protocol}.pkl"
        pkl.write_bytes(pickle.dumps(dict(net.params), protocol=protocol))
        other = SimpleConvNet((1, 8, 8), conv(3, pad=0), 6, 3, seed=2)
        other.load_params(pkl)
        for key in net.params:
            np.testing.assert_array_equal(other.params[key], net.params[key])
    other = SimpleConvNet((1, 8, 8), conv(3, pad=0), 6, 3, seed=2)
    before = {k: v.copy() for k, v in other.params.items()}
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"W1": _RunsCode()}))
    with pytest.raises(ValueError, match="refused: the pickle asks for the global builtins.eval"):
        other.load_params(bad)
    for key in before:
        np.testing.assert_array_equal(other.params[key], before[key])


def test_bad_files_are_clear_errors_and_change_nothing(tmp_path):
    net = SimpleConvNet((1, 8, 8), conv(3, pad=0), 6, 3, seed=1)
    before = {k: v.copy() for k, v in net.params.items()}
    junk = tmp_path / "params.txt"
    junk.write_bytes(b"W1 = [1, 2, 3]\n")
    with pytest.raises(ValueError, match="neither a safetensors file nor a pickle"):
        net.load_params(junk)
    bigger = SimpleConvNet((1, 8, 8), conv(4, pad=0), 6, 3, seed=3)
    bigger.save_params(tmp_path / "bigger.safetensors")
    with pytest.raises(ValueError, match=r"'W1' has shape \(4, 1, 3, 3\) in the file but "
                                         r"\(3, 1, 3, 3\) in the network"):
        net.load_params(tmp_path / "bigger.safetensors")
    good = tmp_path / "good.safetensors"
    SimpleConvNet((1, 8, 8), conv(3, pad=0), 6, 3, seed=4).save_params(good)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-10])
    with pytest.raises(ValueError, match="byte range"):
        net.load_params(cut)
    with pytest.raises(ValueError, match=r"holds \['W1', 'W2'.*but the network has"):
        deep = tiny_deep(seed=1)
        deep.save_params(tmp_path / "deep.safetensors")
        net.load_params(tmp_path / "deep.safetensors")
    for key in net.params:
        np.testing.assert_array_equal(net.params[key], before[key])


# ---- misuse ------------------------------------------------------------------------------

def test_inputs_of_the_wrong_shape_are_clear_errors():
    net = SimpleConvNet((1, 8, 8), conv(3, pad=0), 6, 3)
    with pytest.raises(ValueError, match=r"SimpleConvNet.predict: x has shape \(2, 64\) but the "
                                         r"network takes \(N, 1, 8, 8\).*flatten=False"):
        net.predict(np.zeros((2, 64)))
    with pytest.raises(ValueError, match=r"DeepConvNet.gradient: x has shape \(2, 1, 9, 9\)"):
        tiny_deep().gradient(np.zeros((2, 1, 9, 9)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"SimpleConvNet.loss: x of shape \(2, 1, 8, 8\) has 2 "
                                         r"samples but t has shape \(3,\)"):
        net.loss(np.zeros((2, 1, 8, 8)), np.array([0, 1, 2]))


@pytest.mark.parametrize("kwargs, message", [
    ({"input_dim": (1, 4, 4), "conv_param": conv(3, size=5, pad=0)}, "does not fit its 4x4"),
    ({"input_dim": (1, 5, 5), "conv_param": conv(3, size=5, pad=0)}, "2x2 pooling"),
    ({"conv_param": {"filter_num": 3, "filter_size": 3}}, "conv_param lacks ['pad', 'stride']"),
    ({"conv_param": conv(0)}, "conv_param['filter_num'] must be an int >= 1"),
    ({"input_dim": (28, 28)}, "input_dim must be (channels, height, width)"),
    ({"hidden_size": 0}, "hidden_size must be a positive int"),
    ({"weight_init_std": "big"}, "weight_init_std must be"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match="SimpleConvNet") as err:
        SimpleConvNet(**kwargs)
    assert message in str(err.value)


def test_a_deep_convnet_too_deep_for_its_input_is_a_clear_error():
    with pytest.raises(ValueError, match="DeepConvNet: the 2x2 pooling after conv 6"):
        DeepConvNet((1, 3, 3))
