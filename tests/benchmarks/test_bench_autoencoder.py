"""Autoencoder value_and_grad against the five matrix products it cannot avoid (issue 2).

784-200-1000, random data in [0, 1], float64. Target: ratio <= 1.3.
"""

import numpy as np
import pytest

from optbench.problems.autoencoder import Autoencoder

V, H, M = 784, 200, 1000


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("data") / "random.npz"
    np.savez(path, rng.uniform(0, 1, (M, V)))
    p = Autoencoder(hidden=H, data={"path": str(path)})
    theta = p.initial_point(rng)
    theta[2 * H * V :] = rng.normal(0, 0.1, H + V)
    return p, theta


@pytest.mark.benchmark(group="autoencoder 784-200-1000")
def test_baseline_five_matmuls(benchmark, problem):
    p, theta = problem
    W1, W2, _, _ = p.unpack(theta)
    x = p.x
    a2 = np.empty((H, M))
    a3 = np.empty((V, M))
    d2 = np.empty((H, M))
    gW1 = np.empty((H, V))
    gW2 = np.empty((V, H))

    def products():
        np.matmul(W1, x, out=a2)
        np.matmul(W2, a2, out=a3)
        np.matmul(W2.T, a3, out=d2)
        np.matmul(a3, a2.T, out=gW2)
        np.matmul(d2, x.T, out=gW1)

    benchmark(products)


@pytest.mark.benchmark(group="autoencoder 784-200-1000")
def test_value_and_grad(benchmark, problem):
    p, theta = problem
    benchmark(p.value_and_grad, theta)


@pytest.mark.benchmark(group="autoencoder 784-200-1000")
def test_seed_formula(benchmark, problem):
    """The seed's plain numpy (np.tile biases, fresh arrays, 1/(1+exp(-z))), for reference."""
    p, theta = problem
    W1, W2, b1, b2 = p.unpack(theta)
    data, m, lam = p.x, M, p.weight_decay

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    def seed():
        a2 = sigmoid(W1.dot(data) + np.tile(b1, (m, 1)).T)
        a3 = sigmoid(W2.dot(a2) + np.tile(b2, (m, 1)).T)
        d3 = np.multiply(-(data - a3), np.multiply(a3, 1 - a3))
        d2 = np.multiply(W2.T.dot(d3), np.multiply(a2, 1 - a2))
        grad = np.concatenate([
            (np.dot(d2, data.T) / m + lam * W1).ravel(), (np.dot(d3, a2.T) / m + lam * W2).ravel(),
            np.sum(d2, axis=1) / m, np.sum(d3, axis=1) / m,
        ])
        cost = 0.5 * np.sum((data - a3) ** 2) / m + 0.5 * lam * (np.sum(W1**2) + np.sum(W2**2))
        return cost, grad

    benchmark(seed)
