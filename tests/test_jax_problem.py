"""optbench.jax_problem: a JAX loss of a pytree, its gradient from jax.grad, in float64, with one
gradient-check block per leaf; runs that match the same loss written by hand in numpy."""

import pickle
import sys

import cloudpickle
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optbench
from optbench.errors import UsageError

RNG = np.random.default_rng(0)
X = RNG.standard_normal((20, 3))
Y = RNG.standard_normal((20, 2))


def loss(p):
    """Least squares with a tanh penalty: a smooth, non-quadratic loss of W (3×2) and b (2)."""
    r = X @ p["W"] + p["b"] - Y
    return jnp.mean(r ** 2) + 0.1 * jnp.sum(jnp.tanh(p["W"]) ** 2)


def numpy_loss(x):
    """The same loss by hand on the flat vector: W row-major, then b (the dict's sorted keys)."""
    W, b = x[:6].reshape(3, 2), x[6:]
    r = X @ W + b - Y
    t = np.tanh(W)
    f = np.mean(r ** 2) + 0.1 * np.sum(t ** 2)
    gW = 2 * X.T @ r / r.size + 0.2 * t * (1 - t ** 2)
    gb = 2 * r.sum(axis=0) / r.size
    return float(f), np.concatenate([gW.ravel(), gb])


PARAMS0 = {"W": 0.5 * np.ones((3, 2)), "b": np.zeros(2)}


@pytest.fixture(scope="module")
def prob():
    return optbench.jax_problem(loss, PARAMS0)


def test_gradient_equals_jax_grad_and_passes_the_check(prob):
    assert prob.dim == 8 and prob.gradient == "analytic" and prob.name == "loss"
    assert prob.blocks == {"W": slice(0, 6), "b": slice(6, 8)}
    grad = jax.grad(loss)
    for x in np.random.default_rng(1).standard_normal((5, 8)):
        f, g = prob.value_and_grad(x)
        tree = {"W": jnp.asarray(x[:6].reshape(3, 2)), "b": jnp.asarray(x[6:])}
        expected = grad(tree)  # eager: XLA's compiled version may round differently
        expected = np.concatenate([np.ravel(expected["W"]), expected["b"]])
        assert np.max(np.abs(g - expected)) <= 1e-15 * np.max(np.abs(expected)) * 8
        assert f == pytest.approx(float(loss(tree)), rel=1e-15, abs=0)
        assert f == prob.value(x)
        assert g.dtype == np.float64 and isinstance(f, float)
    check = optbench.check_gradient(prob)
    assert check.passed
    assert list(check.block_error) == ["W", "b"]  # one block per leaf, named by its key


def test_float64_even_from_float32_parameters():
    """float32 leaves are cast: value and gradient agree with numpy's float64 to rounding."""
    p32 = {"W": np.full((3, 2), 0.5, dtype=np.float32), "b": np.zeros(2, dtype=np.float32)}
    prob = optbench.jax_problem(loss, p32)
    x = np.random.default_rng(2).standard_normal(8)
    f, g = prob.value_and_grad(x)
    f_ref, g_ref = numpy_loss(x)
    assert abs(f - f_ref) <= 1e-14 * abs(f_ref)
    assert np.max(np.abs(g - g_ref)) <= 1e-14 * np.max(np.abs(g_ref))


@pytest.mark.parametrize(("optimizer", "hyper"), [
    ("nag", {"lr": 0.05, "momentum": 0.9}), ("adam", {"lr": 0.05}), ("adagrad", {"lr": 0.2}),
    ("lbfgsb", {}), ("nelder-mead", {}),
])
def test_runs_match_the_numpy_loss(prob, optimizer, hyper):
    by_hand = optbench.problem(numpy_loss, jac=True, x0=np.concatenate([PARAMS0["W"].ravel(),
                                                                        PARAMS0["b"]]))
    budget = {"evaluations": 150}
    ours = optbench.run(prob, optimizer, budget=budget, **hyper)
    ref = optbench.run(by_hand, optimizer, budget=budget, **hyper)
    assert (ours.status, ours.evaluations, ours.iterations) == \
        (ref.status, ref.evaluations, ref.iterations)
    assert ours.iterations > 5 and ours.f < numpy_loss(by_hand.initial_point(None))[0]
    assert np.max(np.abs(ours.x - ref.x)) <= 1e-10
    assert abs(ours.f - ref.f) <= 1e-10


def test_leaves_are_named_by_key_path_and_starts_follow_x0():
    params = {"layers": [{"W": np.ones((2, 2))}, {"W": np.ones(3)}], "scale": 1.0}

    def nested(p):
        return sum(jnp.sum(layer["W"] ** 2) for layer in p["layers"]) * p["scale"] ** 2

    prob = optbench.jax_problem(nested, params, name="nested")
    assert prob.blocks == {"layers.0.W": slice(0, 4), "layers.1.W": slice(4, 7),
                           "scale": slice(7, 8)}
    assert np.array_equal(prob.initial_point(None), np.ones(8))
    assert optbench.check_gradient(prob).passed
    drawn = optbench.jax_problem(nested, params, x0=lambda rng: rng.standard_normal(8))
    a, b = (drawn.initial_point(np.random.default_rng(s)) for s in (0, 1))
    assert a.shape == (8,) and not np.array_equal(a, b)
    tree_start = optbench.jax_problem(nested, params, x0={"layers": [{"W": np.zeros((2, 2))},
                                                                     {"W": np.zeros(3)}],
                                                          "scale": 2.0})
    assert np.array_equal(tree_start.initial_point(None), [0] * 7 + [2])
    assert float(prob.unflatten(np.arange(8.0))["scale"]) == 7.0


def test_a_worker_rebuilds_it_from_a_pickle(prob):
    copy = pickle.loads(cloudpickle.dumps(prob))
    x = np.linspace(-1, 1, 8)
    assert copy.value_and_grad(x)[0] == prob.value_and_grad(x)[0]
    assert np.array_equal(copy.value_and_grad(x)[1], prob.value_and_grad(x)[1])


def test_a_missing_jax_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)
    with pytest.raises(UsageError, match=r"^jax_problem needs jax: pip install 'optbench\[jax\]'$"):
        optbench.jax_problem(loss, PARAMS0)
