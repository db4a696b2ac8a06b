"""Pictures of backpropagation: computational graphs (Graphviz DOT) and gradient plots.

`to_dot(loss)` gives the graph with forward values on the edges and gradients beneath them;
`render(graph, "graph.svg")` draws it with Graphviz's `dot` (.svg, .png, .pdf, or .dot text).
"""
from chainrule.viz.dot import Dot, GraphvizNotFound, dot_available, render, to_dot

__all__ = ["to_dot", "render", "Dot", "GraphvizNotFound", "dot_available"]
