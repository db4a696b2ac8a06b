"""Data sets: MNIST (fetched, SHA-256 verified, cached) and small built-in toy sets."""
from chainrule.datasets.mnist import (MnistUnavailableError, default_data_dir, is_mnist_cached,
                                      load_mnist, mnist_dir)
from chainrule.datasets.toy import load_toy, make_blobs, make_spiral

__all__ = ["load_mnist", "MnistUnavailableError", "default_data_dir", "mnist_dir",
           "is_mnist_cached", "load_toy", "make_spiral", "make_blobs"]
