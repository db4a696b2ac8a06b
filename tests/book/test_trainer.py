"""The book's Trainer: its bookkeeping (steps, epochs, what is evaluated when), the book's
printout, the optimizers by name, and real training runs (a synthetic image set always,
a small MNIST subset when MNIST is cached)."""
import numpy as np
import pytest

from chainrule.book import optimizer as book_optim
from chainrule.book.multi_layer_net_extend import MultiLayerNetExtend
from chainrule.book.simple_convnet import SimpleConvNet
from chainrule.book.trainer import Trainer
from chainrule.datasets import is_mnist_cached, load_mnist

from .gradcheck_helpers import bars, blobs


class Spy:
    """Wraps a network, recording the sizes `accuracy` is asked about and at which step."""

    def __init__(self, net):
        self.net, self.calls, self.trainer = net, [], None
        self.params = net.params

    def gradient(self, x, t):
        return self.net.gradient(x, t)

    def loss(self, x, t):
        return self.net.loss(x, t)

    def accuracy(self, x, t):
        step = None if self.trainer is None else self.trainer.current_iter
        self.calls.append((step, len(x)))
        return self.net.accuracy(x, t)


def spied(n_train=50, n_test=30, **kwargs):
    (x, t), (xs, ts) = blobs(n=n_train, dim=4, seed=1), blobs(n=n_test, dim=4, seed=2)
    spy = Spy(MultiLayerNetExtend(4, [8], 3, seed=0))
    trainer = Trainer(spy, x, t, xs, ts, verbose=False, seed=0, **kwargs)
    spy.trainer = trainer
    return spy, trainer


@pytest.mark.parametrize("n_train, batch, epochs, max_iter, evaluated_at", [
    (50, 10, 3, 15, [0, 5, 10]),             # 5 steps per epoch
    (25, 10, 4, 10, [0, 3, 5, 8]),           # 2.5 steps per epoch: still one per epoch
    (5, 10, 3, 3, [0, 1, 2]),                # a set smaller than a batch: 1 step per epoch
    (50, 10, 0, 0, []),
])
def test_steps_and_epochs(n_train, batch, epochs, max_iter, evaluated_at):
    spy, trainer = spied(n_train=n_train, mini_batch_size=batch, epochs=epochs)
    assert trainer.max_iter == max_iter
    assert trainer.iter_per_epoch == max(n_train / batch, 1)
    trainer.train()
    assert trainer.current_iter == len(trainer.train_loss_list) == max_iter
    assert trainer.current_epoch == len(trainer.train_acc_list) == len(trainer.test_acc_list)
    assert len(trainer.train_acc_list) == epochs
    # each epoch: train set then test set, at the first step of the epoch; then the final test
    assert spy.calls == [(i, n) for i in evaluated_at for n in (n_train, 30)] + [(max_iter, 30)]
    trainer.train()                          # nothing left to run
    assert len(trainer.train_loss_list) == max_iter


def test_evaluate_sample_num_per_epoch_takes_the_first_samples():
    spy, trainer = spied(epochs=2, mini_batch_size=10, evaluate_sample_num_per_epoch=7)
    trainer.train()
    assert spy.calls == [(0, 7), (0, 7), (5, 7), (5, 7), (10, 30)]
    assert all(a * 7 == round(a * 7) for a in trainer.train_acc_list + trainer.test_acc_list)


def test_a_step_is_the_books_sgd_step_and_records_the_loss_after_it():
    (x, t), (xs, ts) = blobs(n=40, dim=4, seed=1), blobs(n=10, dim=4, seed=2)
    net = MultiLayerNetExtend(4, [8], 3, seed=0)
    before = {k: v.copy() for k, v in net.params.items()}
    trainer = Trainer(net, x, t, xs, ts, mini_batch_size=8, optimizer="sgd",
                      optimizer_param={"lr": 0.5}, verbose=False, seed=11)
    mask = np.random.default_rng(11).choice(40, 8)        # with replacement, as the book
    reference = MultiLayerNetExtend(4, [8], 3, seed=0)
    grads = reference.gradient(x[mask], t[mask])
    loss = trainer.train_step()
    for key in net.params:
        np.testing.assert_allclose(net.params[key], before[key] - 0.5 * grads[key], rtol=1e-14)
    assert loss == trainer.train_loss_list[0] == net.loss(x[mask], t[mask])
    assert loss < reference.loss(x[mask], t[mask])
    assert trainer.train_acc_list == [net.accuracy(x, t)]
    assert trainer.test_acc_list == [net.accuracy(xs, ts)]


def test_the_same_seed_gives_the_same_run():
    runs = []
    for _ in range(2):
        _, trainer = spied(epochs=2, mini_batch_size=10, optimizer="adam",
                           optimizer_param={"lr": 0.01})
        trainer.train()
        runs.append(trainer.train_loss_list)
    assert runs[0] == runs[1]


def test_verbose_prints_as_the_book(capsys):
    (x, t), (xs, ts) = blobs(n=20, dim=4, seed=1), blobs(n=10, dim=4, seed=2)
    trainer = Trainer(MultiLayerNetExtend(4, [8], 3, seed=0), x, t, xs, ts, epochs=2,
                      mini_batch_size=10, seed=0)
    final = trainer.train()
    lines = capsys.readouterr().out.splitlines()
    losses = [line for line in lines if line.startswith("train loss:")]
    assert losses == [f"train loss:{loss}" for loss in trainer.train_loss_list]
    epochs = [line for line in lines if line.startswith("=== epoch:")]
    assert epochs == [f"=== epoch:{i + 1}, train acc:{a}, test acc:{b} ===" for i, (a, b) in
                      enumerate(zip(trainer.train_acc_list, trainer.test_acc_list))]
    assert lines[1] == epochs[0] and lines[0] == losses[0]   # after the epoch's first step
    assert lines[-2:] == ["=============== Final Test Accuracy ===============",
                          f"test acc:{final}"]
    assert len(lines) == 4 + 2 + 2 and final == trainer.final_test_acc


@pytest.mark.parametrize("name, cls", [
    ("SGD", book_optim.SGD), ("momentum", book_optim.Momentum),
    ("Nesterov", book_optim.Nesterov), ("AdaGrad", book_optim.AdaGrad),
    ("rmsprop", book_optim.RMSprop), ("ADAM", book_optim.Adam)])
def test_optimizers_by_the_books_names(name, cls):
    _, trainer = spied(optimizer=name, optimizer_param={"lr": 0.05})
    assert type(trainer.optimizer) is cls and trainer.optimizer.lr == 0.05


def test_the_default_optimizer_is_sgd_with_lr_0_01():
    _, trainer = spied()
    assert type(trainer.optimizer) is book_optim.SGD and trainer.optimizer.lr == 0.01
    assert trainer.epochs == 20 and trainer.batch_size == 100


def test_misuse_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'; choose one of sgd, "
                                         "momentum, nesterov, adagrad, rmsprop, adam"):
        spied(optimizer="adamw")
    with pytest.raises(TypeError, match=r"optimizer_param \{'lr': 0.1, 'beta': 0.9\} does not "
                                        r"fit SGD"):
        spied(optimizer_param={"lr": 0.1, "beta": 0.9})
    with pytest.raises(ValueError, match="mini_batch_size must be a positive int, got 0"):
        spied(mini_batch_size=0)
    x, t = blobs(n=10, dim=4)
    net = MultiLayerNetExtend(4, [8], 3)
    with pytest.raises(ValueError, match=r"x_train of shape \(10, 4\) and t_train of shape "
                                         r"\(9,\) must hold the same number"):
        Trainer(net, x, t[:9], x, t)
    with pytest.raises(TypeError, match="network must have params, gradient, loss and accuracy"):
        Trainer(object(), x, t, x, t)


# ---- real runs ---------------------------------------------------------------------------

def test_simple_convnet_learns_synthetic_images():
    (x, t), (xs, ts) = bars(300, seed=1), bars(150, seed=2)
    net = SimpleConvNet((1, 8, 8), {"filter_num": 6, "filter_size": 3, "pad": 0, "stride": 1},
                        hidden_size=20, output_size=3, weight_init_std=0.1, seed=0)
    trainer = Trainer(net, x, t, xs, ts, epochs=6, mini_batch_size=30, optimizer="adam",
                      optimizer_param={"lr": 0.01}, verbose=False, seed=0)
    final = trainer.train()
    assert trainer.test_acc_list[0] < 0.6                 # chance is 1/3
    assert final > 0.9 and trainer.train_acc_list[-1] > 0.9
    assert np.mean(trainer.train_loss_list[-10:]) < 0.5 * np.mean(trainer.train_loss_list[:5])


def test_simple_convnet_learns_an_mnist_subset():
    if not is_mnist_cached():
        pytest.skip("MNIST is not in the local cache (this test never downloads it; "
                    "load_mnist() fetches it once)")
    (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
    net = SimpleConvNet(conv_param={"filter_num": 8, "filter_size": 5, "pad": 0, "stride": 1},
                        hidden_size=50, seed=0, dtype=np.float32)
    trainer = Trainer(net, x_train[:1000], t_train[:1000], x_test[:500], t_test[:500],
                      epochs=3, mini_batch_size=50, optimizer="Adam",
                      optimizer_param={"lr": 0.003}, evaluate_sample_num_per_epoch=200,
                      verbose=False, seed=0)
    final = trainer.train()
    assert trainer.max_iter == 60 and len(trainer.test_acc_list) == 3
    assert trainer.test_acc_list[0] < 0.4                 # chance is 0.1
    assert final > 0.7, (final, trainer.test_acc_list)
