"""What can be checked of a problem that gives only values (its gradient is differences).

Three questions, each answered with a handful of evaluations:

- does ``value(x)`` depend on x at all? Evaluated at points that move every coordinate, a
  closure that ignores its argument (the L-BFGS-B thread's bug) returns one value everywhere;
- does the same x give the same value? Runs are pure functions of their specs only when it does;
- do differences at two step sizes, h and h/4, agree along random directions? Where they do not,
  the function is non-smooth or noisy near x at the scale of h, and a gradient made of
  differences (all a value-only problem gets) is unreliable there. That is a note, not a failure:
  non-smooth problems are legitimate, but the user should know.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SHRINK = 4
SMOOTH_TOL = 1e-3  # two difference quotients of a smooth f at h and h/4 agree far better


@dataclass
class ValueCheck:
    moved: int = 0  # points, each moving every coordinate, at which value(x) was compared
    failure: str = ""  # why the problem cannot be used as it is, or ''
    rough: float = 0.0  # worst relative disagreement of differences at h and h/4

    def lines(self, step: float) -> list[str]:
        if "not deterministic" in self.failure:
            return ["  same x, same value: no"]
        out = ["  same x, same value: yes"]
        if "does not depend" in self.failure:
            return [*out, "  value changes with x: no"]
        out.append(f"  value changes with x: yes (at {self.moved} points that move every "
                   "coordinate)")
        if self.rough > SMOOTH_TOL:
            out.append(f"  looks non-smooth or noisy near x: differences at steps {step:.1e} "
                       f"and {step / SHRINK:.1e} disagree (rel. difference {self.rough:.1e}); "
                       "a gradient by differences is unreliable there")
        else:
            agree = "to rounding" if self.rough == 0 else f"(rel. difference {self.rough:.1e})"
            out.append(f"  differences at steps {step:.1e} and {step / SHRINK:.1e} agree {agree}")
        return out


def check_values(value, xs: list[np.ndarray], rng: np.random.Generator, stencil,
                 step: float, noise: float, directions: int = 2) -> ValueCheck:
    """Answer the three questions at the points ``xs`` (the first is the start)."""
    result = ValueCheck()
    x0 = xs[0]
    f0, again = float(value(x0)), float(value(x0))
    if f0 != again and not (math.isnan(f0) and math.isnan(again)):
        result.failure = (f"value(x) is not deterministic: two calls at the same x gave {f0!r} "
                          f"and {again!r} (noise, or state kept between calls?); runs "
                          "could not be reproduced")
        return result
    moved = [x0 + rng.uniform(0.25, 0.5, x0.shape) * rng.choice([-1.0, 1.0], x0.shape)
             * np.maximum(1.0, np.abs(x0)) for _ in range(3)]
    values = [float(value(x)) for x in moved]
    result.moved = len(moved)
    if all(v == f0 for v in values):
        result.failure = (f"value(x) does not depend on x — does the function read its "
                          f"argument? It returned {f0!r} at {len(moved) + 1} points that "
                          "differ in every coordinate")
        return result
    for x in xs:
        f = float(value(x))
        floor = noise * max(1.0, abs(f))
        for _ in range(directions):
            u = rng.standard_normal(x.shape)
            u /= np.linalg.norm(u)
            coarse, fine = stencil(value, x, u, step), stencil(value, x, u, step / SHRINK)
            miss = abs(coarse - fine)
            if miss <= floor / step * (1 + SHRINK):  # within the two estimates' rounding
                continue
            result.rough = max(result.rough, miss / max(abs(coarse), abs(fine), 1e-300))
    return result
