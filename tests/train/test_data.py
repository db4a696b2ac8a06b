"""The data a run trains on: cut to size, in the config's dtype, checked."""
import numpy as np
import pytest

from chainrule.train import TrainConfig, check_data, load_data, train_book


def test_data_of_the_wrong_dtype_is_refused(quick):
    (x_train, t_train), (x_test, t_test) = load_data(quick())
    with pytest.raises(TypeError, match="train inputs must be a 2-d float32 array"):
        train_book(quick(), data=((x_train.astype(np.float64), t_train), (x_test, t_test)))


def test_labels_must_be_integer_class_indices():
    x = np.zeros((3, 2), np.float32)
    with pytest.raises(TypeError, match="test labels must be 3 integer class indices"):
        check_data(((x, np.array([0, 1, 2])), (x, np.array([0.0, 1.0, 2.0]))),
                   np.dtype(np.float32))
    assert check_data(((x, np.array([0, 1, 2])), (x, np.array([0, 4, 2]))),
                      np.dtype(np.float32)) == 5


def test_toy_sets_take_their_sizes_from_the_config(quick):
    (x_train, t_train), (x_test, _) = load_data(quick(train_size=120, test_size=30))
    assert x_train.shape == (120, 2) and len(t_train) == 120 and x_test.shape == (30, 2)


def test_subsets_take_the_first_samples_and_too_large_is_a_clear_error(mnist_subset):
    (x_train, t_train), (x_test, _) = load_data(TrainConfig(train_size=2000, test_size=1000))
    assert x_train.shape == (2000, 784) and x_test.shape == (1000, 784)
    np.testing.assert_array_equal(x_train, mnist_subset[0][0])
    np.testing.assert_array_equal(t_train, mnist_subset[0][1])
    with pytest.raises(ValueError, match="--train-size 60001 is larger than the 60000"):
        load_data(TrainConfig(train_size=60001))
