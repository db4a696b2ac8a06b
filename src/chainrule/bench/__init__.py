"""Benchmarks that time chainrule against PyTorch in one process and print the ratio.

`seed`: the tutorial's full MNIST run on the book's layers (`chainrule bench seed`).
`seed_autograd`: the same run through chainrule.nn/optim (`chainrule bench autograd`).
`ops`: the autograd engine's per-op overhead (`chainrule bench ops`).
"""
