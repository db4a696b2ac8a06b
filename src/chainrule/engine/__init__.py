"""The autograd engine: `Tensor`, primitives, the reverse pass, tangents and grad modes.

A `Tensor` wraps a NumPy array. Applying a `Primitive` to tensors that require grad
records the node (primitive, inputs, attributes) on the result: the graph is plain data,
parents are referenced only from children (no cycles), and `backward()` walks it
iteratively in topological order (Kahn's algorithm), so a chain of a million nodes needs
no recursion and time linear in its size.

Each primitive keeps its forward, its per-input VJP rules and per-input JVP rules side by
side (see `chainrule.ops`). The reverse pass runs the VJP rules on plain arrays when the
backward itself need not be differentiated, and on Tensors (recording a new graph) for
`create_graph=True` or when forward-mode tangents are live (forward-over-reverse).

The engine imports no other chainrule module: `chainrule.ops` installs Tensor's operators
and math methods once the primitives exist.

    state.py     per-thread grad mode and forward-mode level; quiet NumPy errors
    tensors.py   Tensor, tensor(), as_tensor(), the node view
    graph.py     Primitive, apply, forward-mode tangents
    backward.py  the reverse pass, sum_to (the one place broadcasting is undone)
    versions.py  in-place operations and version counters
    devices.py   the CPU device model and PyTorch's dtype names
    nodes.py     grad_fn: PyTorch-named views of the recorded graph
"""
from chainrule.engine.backward import GraphFreedError, backward_pass, sum_to
from chainrule.engine.graph import _NO_ATTRS, Notation, Primitive, VariadicRule, apply
from chainrule.engine.state import (enable_grad, forward_mode, is_grad_enabled, no_grad,
                                    set_grad_enabled)
from chainrule.engine.devices import (DTYPES, DeviceError, as_dtype, check_device, device,
                                      get_default_device, set_default_device)
from chainrule.engine.nodes import AccumulateGrad, Node
from chainrule.engine.tensors import (NodeView, Size, Tensor, _wrap, as_tensor, get_default_dtype,
                                      set_default_dtype, tensor)
from chainrule.engine.versions import modify_in_place

__all__ = ["Tensor", "Size", "Primitive", "Notation", "VariadicRule", "NodeView", "tensor", "as_tensor", "apply",
           "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled", "forward_mode",
           "backward_pass", "sum_to", "modify_in_place", "GraphFreedError", "device",
           "DeviceError", "check_device", "as_dtype", "DTYPES", "get_default_device",
           "set_default_device", "get_default_dtype", "set_default_dtype", "Node",
           "AccumulateGrad"]
