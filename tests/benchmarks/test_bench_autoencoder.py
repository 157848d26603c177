"""Autoencoder value_and_grad against the five matrix products it cannot avoid (issues 2, 13).

784-200-1000 on random data in [0, 1], target ratio <= 1.10; 64-25-64 on scikit-learn's 1,797
8x8 digits, target <= 1.6 (the products are small there, so the element-wise work weighs more).
float64 throughout. ``test_interleaved_ratio`` prints the ratios measured side by side (run with
``--benchmark-enable -s``), the figures to quote on a shared machine.
"""

import numpy as np
import pytest
from interleave import interleaved_ratio

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


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(0)
    p = Autoencoder(hidden=25)
    theta = p.initial_point(rng)
    theta[2 * 25 * 64 :] = rng.normal(0, 0.1, 25 + 64)
    return p, theta


def five_matmuls(p, theta):
    """W1 x, W2 a2, W2ᵀ δ3, δ3 a2ᵀ, δ2 xᵀ into preallocated arrays, as a function."""
    W1, W2, _, _ = p.unpack(theta)
    x, (h, v, m) = p.x, (p.hidden, p.visible, p.m)
    a2, a3, d2 = np.empty((h, m)), np.empty((v, m)), np.empty((h, m))
    gW1, gW2 = np.empty((h, v)), np.empty((v, h))

    def products():
        np.matmul(W1, x, out=a2)
        np.matmul(W2, a2, out=a3)
        np.matmul(W2.T, a3, out=d2)
        np.matmul(a3, a2.T, out=gW2)
        np.matmul(d2, x.T, out=gW1)

    return products


@pytest.mark.benchmark(group="autoencoder 784-200-1000")
def test_baseline_five_matmuls(benchmark, problem):
    benchmark(five_matmuls(*problem))


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


@pytest.mark.benchmark(group="autoencoder digits 64-25-64")
def test_digits_baseline_five_matmuls(benchmark, digits):
    benchmark(five_matmuls(*digits))


@pytest.mark.benchmark(group="autoencoder digits 64-25-64")
def test_digits_value_and_grad(benchmark, digits):
    p, theta = digits
    benchmark(p.value_and_grad, theta)


@pytest.mark.parametrize("case", ["problem", "digits"])
def test_interleaved_ratio(case, request, benchmark, capsys):
    """The floor as a ratio measured side by side (``interleave.py``): printed, not asserted."""
    p, theta = request.getfixturevalue(case)
    products = five_matmuls(p, theta)
    short = (2, 1) if benchmark.disabled else ()  # the test suite: two calls of each
    _, line = benchmark.pedantic(
        interleaved_ratio, args=(lambda: p.value_and_grad(theta), products, *short), rounds=1)
    if not benchmark.disabled:
        with capsys.disabled():
            print(f"\n{p.describe()}: value_and_grad / five matmuls = {line}")
