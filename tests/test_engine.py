"""The Tensor and the reverse pass: semantics, errors, and graph safety at scale."""
import gc
import weakref

import numpy as np
import pytest

import chainrule as cr


def test_tensor_dtypes_follow_the_design():
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor([[1, 2]]).dtype == np.int64      # Python ints: int64, as torch.tensor
    assert cr.Tensor([[1, 2]]).dtype == np.float32    # torch.Tensor(...) is float32
    assert cr.tensor([True, False]).dtype == np.bool_
    assert cr.tensor(np.zeros(2, dtype=np.float64)).dtype == np.float64
    assert cr.tensor(np.zeros(2, dtype=np.float16)).dtype == np.float16
    assert cr.tensor([1.0], dtype=np.float64).dtype == np.float64
    assert cr.tensor(np.arange(3)).dtype == np.arange(3).dtype


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        cr.tensor(np.arange(3), requires_grad=True)


def test_design_example_and_attributes():
    x = cr.tensor([[1.0, 1.0]], requires_grad=True)
    y = (x * 3).sigmoid().sum()
    y.backward()
    s = 1 / (1 + np.exp(-3.0))
    np.testing.assert_allclose(x.grad.numpy(), [[3 * s * (1 - s)] * 2], rtol=1e-6)
    assert isinstance(x.grad, cr.Tensor)
    assert x.shape == (1, 2) and x.ndim == 2 and x.requires_grad and x.is_leaf
    assert x.T.shape == (2, 1)
    assert isinstance(x.numpy(), np.ndarray) and y.item() == pytest.approx(2 * s)
    assert not x.detach().requires_grad


def test_numbers_and_arrays_on_either_side_of_operators():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = 2 * x + np.array([1.0, 1.0], dtype=np.float32) - 1 / x + x ** 2 + 2 ** x
    assert isinstance(y, cr.Tensor) and y.dtype == np.float32
    y.sum().backward()
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), 2 + 1 / xv**2 + 2 * xv + np.log(2) * 2**xv,
                               rtol=1e-6)
    z = np.ones(2) * x  # ndarray on the left defers to the Tensor
    assert isinstance(z, cr.Tensor)


def test_comparisons_give_boolean_tensors():
    x = cr.tensor([1.0, 2.0, 3.0])
    assert isinstance(x > 1.5, cr.Tensor) and (x > 1.5).dtype == np.bool_
    np.testing.assert_array_equal((x == cr.tensor([1.0, 0.0, 3.0])).numpy(), [True, False, True])
    assert (x == 2.0).type(cr.float).sum().item() == 1.0


def test_gradients_accumulate_across_backward_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [4.0, 8.0])
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 16.0])


def test_no_grad_records_nothing():
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        y = x * 2
        with cr.enable_grad():
            z = x * 3
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad


def test_non_scalar_backward_needs_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar output.*pass grad="):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 0.5], dtype=np.float32))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 1.0])
    with pytest.raises(ValueError, match=r"grad has shape \(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_second_backward_through_freed_graph_says_retain_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    z = (x.exp() * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.e ** np.array([1.0, 2.0])
                               * np.array([2.0, 3.0]) + (np.e ** np.array([1.0, 2.0])
                                                         * np.array([2.0, 3.0])), rtol=1e-6)


def test_backward_on_tensor_without_graph_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor([1.0]).sum().backward()


@pytest.mark.parametrize("fn,pattern", [
    (lambda: cr.tensor(np.ones((2, 3))) + cr.tensor(np.ones((4,))), r"add: .*\(2, 3\), \(4,\)"),
    (lambda: cr.tensor(np.ones((2, 3))) @ cr.tensor(np.ones((2, 3))), r"matmul: .*\(2, 3\)"),
    (lambda: cr.tensor(np.ones((2, 3))).reshape(4, 2), r"reshape: .*\(2, 3\).*\(4, 2\)"),
    (lambda: cr.tensor(np.ones((2, 3))).sum(axis=2), r"sum: axis 2 is out of range"),
    (lambda: cr.tensor(np.ones(3)).broadcast_to((2, 4)), r"broadcast_to: .*\(3,\).*\(2, 4\)"),
    (lambda: cr.softmax_cross_entropy(cr.tensor(np.ones((2, 3))), np.array([0, 3])),
     r"indices must lie in \[0, 3\)"),
    (lambda: cr.ops.linear(cr.tensor(np.ones((2, 3))), cr.tensor(np.ones((4, 5)))),
     r"linear: input of shape \(2, 3\).*\(4, 5\)"),
    (lambda: cr.tensor(np.ones(3))[5], r"getitem: .*index 5.*\(3,\)"),
])
def test_bad_input_names_the_operation_and_shapes(fn, pattern):
    with pytest.raises((ValueError, IndexError, TypeError), match=pattern):
        fn()


def test_constant_inputs_get_no_gradient_work():
    """The engine runs no VJP for an input that does not require grad."""
    w = cr.tensor(np.ones((3, 2)), requires_grad=True)
    x = cr.tensor(np.ones((4, 3)))
    (x @ w).sum().backward()
    assert x.grad is None and w.grad is not None


def test_deep_chain_of_a_million_nodes_backpropagates_iteratively():
    x = cr.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.item() == 1.0


def test_wide_fan_out_of_a_hundred_thousand_terms():
    x = cr.tensor([2.0], requires_grad=True)
    h = x * 1.0
    terms = [h * float(i % 7) for i in range(100_000)]
    total = cr.stack(terms).sum()
    total.backward()
    assert x.grad.item() == pytest.approx(sum(i % 7 for i in range(100_000)))


def test_backward_keeps_the_graph_readable_and_has_no_cycles():
    """As PyTorch keeps grad_fn: after backward the structure stays readable (a second
    backward is refused), cached values are dropped, and the graph dies with its output
    by reference counting alone."""
    gc.collect()
    gc.disable()
    try:
        x = cr.tensor(np.ones(4), requires_grad=True)
        h = x.exp()
        ref = weakref.ref(h)
        loss = (h * 2).sum()
        del h
        loss.backward()
        assert ref() is not None and loss.grad_fn.name() == "SumBackward0"
        assert loss.grad_fn.next_functions[0][0].name() == "MulBackward0"
        with pytest.raises(cr.engine.GraphFreedError, match="retain_graph=True"):
            loss.backward()
        del loss
        assert ref() is None  # freed by reference counting alone, no cycle collector
        logits = cr.tensor(np.ones((2, 3)), requires_grad=True)
        ce = cr.ops.softmax_cross_entropy(logits, np.array([0, 2]))
        ce.backward()
        assert ce.node.attrs["cache"] == {}  # the saved softmax is freed
    finally:
        gc.enable()


def test_leaf_output_and_unrelated_output():
    x = cr.tensor([3.0], requires_grad=True)
    x.backward(np.array([2.0], dtype=np.float32))
    assert x.grad.item() == 2.0


def test_grad_of_broadcast_is_summed_to_input_shape():
    a = cr.tensor(np.ones((1, 3)), requires_grad=True)
    b = cr.tensor(np.ones((4, 1)), requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (1, 3) and b.grad.shape == (4, 1)
    np.testing.assert_allclose(a.grad.numpy(), 4.0)
    np.testing.assert_allclose(b.grad.numpy(), 3.0)


def test_integer_and_boolean_arrays_do_not_promote_float32():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    one_hot = np.array([0, 1], dtype=np.int64)
    y = x * one_hot + np.array([True, False]) - one_hot * x
    assert y.dtype == np.float32
    (y * one_hot).sum().backward()
    assert x.grad.dtype == np.float32
