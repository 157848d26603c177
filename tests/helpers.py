"""Helpers the tests share: plain references written for the tests, independent of optbench."""

import numpy as np

# Source of a plugin file: 0.5 |x|^2 from (10, 10), the healthy base the faulty test problems
# written next to it override.
QUADRATIC_PLUGIN = '''
import numpy as np
from optbench.problems.base import Problem


class Quadratic(Problem):
    name = "quadratic"

    def __init__(self):
        self.dim = 2

    def initial_point(self, rng):
        return np.array([10.0, 10.0])

    def value_and_grad(self, x):
        return 0.5 * float(x @ x), x.copy()

    def value(self, x):
        return self.value_and_grad(x)[0]
'''


def central_diff(f, x, h=1e-6):
    """A plain central difference written for the tests, independent of problems.base."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def rel_err(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300)


def assert_gradient_per_block(problem, theta, h=1e-5, tol=1e-6):
    """The analytic gradient agrees with plain central differences on every named block."""
    g = problem.grad(theta)
    d = central_diff(problem.value, theta, h=h)
    for name, block in problem.blocks.items():
        assert rel_err(g[block], d[block]) <= tol, name
    return g
