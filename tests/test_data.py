"""TensorDataset / DataLoader: batching, shuffle determinism, drop_last, generic datasets."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.data import DataLoader, Dataset, TensorDataset

X = np.arange(20, dtype=np.float32).reshape(10, 2)
Y = np.arange(10)


def test_tensor_dataset_items_and_errors():
    ds = TensorDataset(X, cr.tensor(Y))
    assert len(ds) == 10
    x, y = ds[3]
    assert isinstance(x, cr.Tensor) and x.numpy().tolist() == [6.0, 7.0] and y.item() == 3
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(X, Y[:5])
    with pytest.raises(ValueError):
        TensorDataset()


def test_batches_in_order_with_and_without_drop_last():
    loader = DataLoader(TensorDataset(X, Y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), X)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == Y.dtype
    dropped = DataLoader(TensorDataset(X, Y), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(b[1]) for b in dropped] == [4, 4]
    assert len(DataLoader(TensorDataset(X, Y), batch_size=20, drop_last=True)) == 0
    assert list(DataLoader(TensorDataset(X, Y), batch_size=20, drop_last=True)) == []


def test_shuffle_is_a_permutation_reproducible_by_seed_and_new_each_epoch():
    def epoch_orders(loader, epochs=2):
        return [np.concatenate([y.numpy() for _, y in loader]) for _ in range(epochs)]

    a = epoch_orders(DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True, seed=7))
    b = epoch_orders(DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True, seed=7))
    c = epoch_orders(DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True,
                                generator=np.random.default_rng(7)))
    for o1, o2, o3 in zip(a, b, c):
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(o1, o3)
        assert sorted(o1.tolist()) == list(range(10))
    assert not np.array_equal(a[0], a[1])
    # rows stay paired with their labels
    for x, y in DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True, seed=1):
        np.testing.assert_array_equal(x.numpy()[:, 0], 2 * y.numpy())
    # the global generator is used when no seed is given
    cr.manual_seed(3)
    g1 = epoch_orders(DataLoader(TensorDataset(X, Y), batch_size=5, shuffle=True), 1)
    cr.manual_seed(3)
    g2 = epoch_orders(DataLoader(TensorDataset(X, Y), batch_size=5, shuffle=True), 1)
    np.testing.assert_array_equal(g1[0], g2[0])


def test_generic_dataset_is_stacked():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], np.float32), i

    batches = list(DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3
    x, y = batches[1]
    np.testing.assert_array_equal(x.numpy(), [[2, 4], [3, 9]])
    np.testing.assert_array_equal(y.numpy(), [2, 3])
    assert x.dtype == np.float32


def test_loader_argument_errors():
    ds = TensorDataset(X)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="seed or generator"):
        DataLoader(ds, seed=1, generator=np.random.default_rng(1))
    with pytest.raises(TypeError):
        DataLoader(42)
