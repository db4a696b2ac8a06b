"""The glass box: tools that show and check the gradients chainrule (or your own code) computes.

`check.check_layer` tests a hand-written layer's backward pass against numerical gradients and
says which gradient is wrong, where, and by how much.
"""
