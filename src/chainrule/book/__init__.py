"""The tutorials' face: the book's layers, networks, optimizers and trainer, NumPy in,
NumPy out — one module per module of the book's `common/` (README lists them), plus the
chapter 7 and 8 convnets.

Each layer has a `forward` and a hand-written `backward(dout)`; the dout chain through
them is the lesson, so the backward formulas stay written out here. The forward math
(stable sigmoid, softmax, cross-entropy, label checks) and the numerical-gradient oracle
come from `chainrule.numerics`, the pure-NumPy kernels the autograd face shares; this
package imports nothing else of chainrule. `chainrule.layers` and `chainrule.models`
remain the public paths of `book.layers` and `book.models`.
"""
