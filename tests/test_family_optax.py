"""``optax:<name>`` against optax driven directly in float64 (issue 15).

The reference loop is optax's documented one, eager (no jit), in float64:
``updates, state = tx.update(g, state, params); params = optax.apply_updates(params, updates)``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from threadpoolctl import threadpool_limits

import optbench
from optbench import optimizers
from optbench.optimizers import PlainOracle
from optbench.problems import make
from optbench.problems.base import Problem

STEPS = 100


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


class Quadratic(Problem):
    """f(x) = ½ xᵀ A x − bᵀ x with A = diag(1 … n): ill-conditioned enough to show momentum."""

    name = "quadratic"

    def __init__(self, dim=6):
        self.dim = dim
        self.a = np.arange(1.0, dim + 1)
        self.b = np.linspace(-1.0, 2.0, dim)
        self.x_opt = self.b / self.a
        self.f_opt = float(-0.5 * self.b @ self.x_opt)

    def initial_point(self, rng):
        return np.full(self.dim, 2.0)

    def value(self, x):
        return float(0.5 * x @ (self.a * x) - self.b @ x)

    def value_and_grad(self, x):
        return self.value(x), self.a * x - self.b


def by_hand(tx, problem, x0, steps=STEPS, with_value=False, jit=False):
    """optax's own loop, float64, eager (or jitted); the iterate after each step."""
    with jax.enable_x64(True):
        params = jnp.asarray(x0)
        state = tx.init(params)
        update = jax.jit(tx.update) if jit else tx.update
        out = []
        for _ in range(steps):
            f, g = problem.value_and_grad(np.asarray(params))
            extra = {"value": f} if with_value else {}
            updates, state = update(jnp.asarray(g), state, params, **extra)
            params = optax.apply_updates(params, updates)
            assert params.dtype == jnp.float64
            out.append(np.asarray(params))
    return np.array(out)


def ours(name, problem, x0, steps=STEPS, **kwargs):
    opt = optimizers.make(name, **kwargs)
    opt.start(PlainOracle(problem), x0)
    out = [opt.step() for _ in range(steps)]
    opt.close()
    return np.array(out)


CASES = [
    ("optax:adamw", {"learning_rate": 0.05, "weight_decay": 1e-3},
     lambda: optax.adamw(0.05, weight_decay=1e-3)),
    ("optax:lion", {"learning_rate": 0.01, "b1": 0.9, "b2": 0.99},
     lambda: optax.lion(0.01, b1=0.9, b2=0.99)),
    ("optax:sgd", {"learning_rate": 0.02, "momentum": 0.9, "nesterov": True},
     lambda: optax.sgd(0.02, momentum=0.9, nesterov=True)),
]


def autoencoder():
    return make("autoencoder", hidden=4, samples=50)


@pytest.mark.parametrize("build", [Quadratic, autoencoder], ids=["quadratic", "autoencoder"])
@pytest.mark.parametrize("name, kwargs, tx", CASES, ids=[c[0] for c in CASES])
def test_iterates_are_optaxs_in_float64(name, kwargs, tx, build):
    problem = build()
    x0 = problem.initial_point(np.random.default_rng(0))
    got = ours(name, problem, x0, **kwargs)
    want = by_hand(tx(), problem, x0)
    assert got.dtype == np.float64
    scale = np.maximum(1.0, np.abs(want))
    assert np.max(np.abs(got - want) / scale) <= 1e-12
    assert np.max(np.abs(got[-1] - x0)) > 1e-3  # it moved: the comparison is not vacuous


def test_our_schedule_is_the_rate_of_each_step():
    """Our cosine at step t = 1, 2, ... is optax's cosine_decay_schedule at count t − 1."""
    problem, x0 = Quadratic(), np.full(6, 2.0)
    got = ours("optax:sgd", problem, x0, learning_rate={"cosine": {"lr": 0.1, "steps": 40}},
               momentum=0.5)
    want = by_hand(optax.sgd(optax.cosine_decay_schedule(0.1, 40), momentum=0.5), problem, x0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_optax_schedule_by_name():
    """optax evaluates its schedules in float32 (the step count is int32), where eager and
    jitted code round differently (0.01000001 and 0.01 at count 1 here): the reference jits its
    update, as we do."""
    problem, x0 = Quadratic(), np.full(6, 2.0)
    spec = {"optax:warmup_cosine_decay_schedule": {"init_value": 0.0, "peak_value": 0.1,
                                                    "warmup_steps": 10, "decay_steps": 80}}
    got = ours("optax:adam", problem, x0, learning_rate=spec)
    want = by_hand(optax.adam(optax.warmup_cosine_decay_schedule(0.0, 0.1, 10, 80)),
                   problem, x0, jit=True)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_polyak_sgd_gets_the_value_and_is_charged_for_it():
    problem, x0 = Quadratic(), np.full(6, 2.0)
    got = ours("optax:polyak_sgd", problem, x0, steps=30, f_min=problem.f_opt)
    want = by_hand(optax.polyak_sgd(f_min=problem.f_opt), problem, x0, steps=30,
                   with_value=True)
    # its step (f − f*) / |g|² cancels as f nears f*: rounding grows to ~1e-11 by step 30
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0)
    run = optbench.run(Quadratic(), "optax:polyak_sgd", f_min=problem.f_opt,
                       budget={"iterations": 30})
    assert run.record.n_fev == 30 == run.record.n_gev


def test_each_step_is_one_gradient_and_the_process_stays_float32():
    run = optbench.run(Quadratic(), "optax:adamw", learning_rate=0.1,
                       budget={"evaluations": 50})
    assert run.status == "budget" and run.iterations == 50 == run.record.n_gev
    assert run.record.n_fev == 0  # a gradient alone; its value comes with it, uncharged
    assert jnp.asarray(np.ones(2)).dtype == jnp.float32  # x64 was scoped to our calls


@pytest.mark.parametrize("kwargs, words", [
    ({}, "'learning_rate' is required"),
    ({"learning_rate": -1}, "'learning_rate' must be a number > 0"),
    ({"learning_rate": {"optax:no_such_schedule": {}}}, "optax has no schedule "
                                                         "'no_such_schedule'"),
    ({"learning_rate": 0.1, "b3": 0.5}, "unknown parameter 'b3'"),
])
def test_bad_arguments_are_one_line(kwargs, words):
    with pytest.raises(optbench.ParameterError, match=words):
        optimizers.make("optax:adamw", **kwargs)


def test_on_a_value_only_problem_it_runs_on_differences_and_says_so():
    def f(x):
        return float(np.sum((np.asarray(x) - 1.0) ** 2))

    problem = optbench.problem(f, x0=[3.0, -2.0], name="value-only-bowl")
    run = optbench.run(problem, "optax:adam", learning_rate=0.1, budget={"evaluations": 40})
    assert run.status == "budget" and "central differences" in run.message
    assert run.evaluations == 40 and run.iterations == 40 // 5  # each gradient: 2·2 + 1 calls
