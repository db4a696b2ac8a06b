"""Forward and reverse mode on the tutorial's unfinished example, f(x) = (ln(x)(x+3) + x²) / sin(x).

Forward mode pushes a tangent (ẋ = 1) through every intermediate alongside its value;
reverse mode evaluates once, then pulls adjoints (f̄ = 1) back through the same
intermediates. Both traces are chainrule's engine at work (its JVP rules and its backward
pass); both must equal the closed form

    f'(x) = [((x+3)/x + ln x + 2x) sin x − (ln(x)(x+3) + x²) cos x] / sin²x

Usage: python examples/ad_modes.py [x]      (default x = 2)
"""
import math
import sys

from chainrule.glassbox.expr import forward_trace, reverse_trace

F = "(log(x)*(x+3)+x**2)/sin(x)"


def closed_form(x: float) -> float:
    top = ((x + 3) / x + math.log(x) + 2 * x) * math.sin(x) - (math.log(x) * (x + 3) + x**2) * math.cos(x)
    return top / math.sin(x) ** 2


x = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
forward = forward_trace(F, {"x": x})
reverse = reverse_trace(F, {"x": x})
print(forward, reverse, sep="\n\n", end="\n\n")

exact = closed_form(x)
print(f"forward mode: {forward.gradient['x']:.10f}")
print(f"reverse mode: {reverse.gradient['x']:.10f}")
print(f"closed form:  {exact:.10f}")
assert math.isclose(forward.gradient["x"], exact, rel_tol=1e-12)
assert math.isclose(reverse.gradient["x"], exact, rel_tol=1e-12)
