"""Rosenbrock's function, n-dimensional (the chained form).

    f(x) = Σ_{i=1}^{n-1} [ b (x_{i+1} − x_i²)² + (1 − x_i)² ]

with b = 100; minimum f(1, …, 1) = 0 (for n = 4 to 7 there is a second, local minimum
near x_1 = −1). A curved, narrow valley: easy to find, slow to follow for first-order methods.

Gradient, with d_i = x_{i+1} − x_i² (i = 1 … n−1)::

    ∂f/∂x_i = −4 b x_i d_i − 2 (1 − x_i)   (i < n)   +   2 b d_{i−1}   (i > 1)

Start: ``x0`` when given, else uniform in [−2, 2]^n from the run's seed.

Reference: H. H. Rosenbrock, "An automatic method for finding the greatest or least value of a
function", The Computer Journal 3(3), 1960 (n = 2); the chained n-dimensional form as in
``scipy.optimize.rosen`` and Jamil & Yang, "A literature survey of benchmark functions for
global optimisation problems", 2013 (function 105).
"""

from __future__ import annotations

import numpy as np

from .base import Problem, check_number

START = 2.0  # starts are drawn from [-START, START]^n


class Rosenbrock(Problem):
    name = "rosenbrock"
    list_params = {"x0": 1}  # one point
    param_docs = {
        "dim": "dimension n >= 2",
        "x0": "fixed start (list of n numbers); default: uniform in [-2, 2]^n from the seed",
        "b": "steepness of the valley's walls (> 0)",
    }

    def __init__(self, dim: int = 2, x0: list[float] | None = None, b: float = 100.0):
        self.dim = check_number(self.name, "dim", dim, low=2, integer=True)
        self.b = check_number(self.name, "b", b, low=0, low_open=True)
        self.x0 = None
        if x0 is not None:
            x = np.asarray(x0, dtype=float) if _numbers(x0) else None
            if x is None or x.shape != (self.dim,) or not np.isfinite(x).all():
                raise ValueError(f"rosenbrock: parameter 'x0' must be a list of {self.dim} "
                                 f"finite numbers, got {x0!r}")
            self.x0 = x
        self.x_opt = np.ones(self.dim)
        self.f_opt = 0.0

    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        if self.x0 is not None:
            return self.x0.copy()
        return rng.uniform(-START, START, self.dim)

    def value(self, x: np.ndarray) -> float:
        x = self.as_point(x)
        d = x[1:] - x[:-1] ** 2
        r = 1.0 - x[:-1]
        return float(self.b * (d @ d) + r @ r)

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        x = self.as_point(x)
        head = x[:-1]
        d = x[1:] - head**2
        r = 1.0 - head
        f = float(self.b * (d @ d) + r @ r)
        g = np.zeros_like(x)
        g[:-1] = -4.0 * self.b * head * d - 2.0 * r
        g[1:] += 2.0 * self.b * d
        return f, g

    def describe(self) -> str:
        return f"Rosenbrock {self.dim}-D"


def _numbers(x0) -> bool:
    try:
        np.asarray(x0, dtype=float)
    except (TypeError, ValueError):
        return False
    return True
