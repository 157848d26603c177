import numpy as np
import pytest


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


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
