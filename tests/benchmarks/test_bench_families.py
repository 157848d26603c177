"""What a family step costs over the library called directly (issue 15), one group per family.

Each group's ``baseline`` drives the library as its documentation does, on the same problem
with the same evaluations; the other member is the same run through the step interface
(``optimizers.make(...)`` with a PlainOracle, stepped until done). The ratios are printed at
the end of ``pytest tests/benchmarks --benchmark-enable``:

- scipy:BFGS on Rosenbrock 10-D (cheap evaluations: the thread handover at each iteration is
  all there is to see) and scipy:L-BFGS-B on the digits autoencoder (hidden 25, 100 iterations);
- cma: 100 generations on Rosenbrock 10-D, against cma's ask/tell loop;
- nevergrad:TwoPointsDE: 1,000 evaluations on Rosenbrock 10-D, against Nevergrad's ask/tell loop
  (the step interface also asks for the recommendation at each step: it is the iterate);
- optax:adamw: 1,000 steps on Rosenbrock 10-D, against optax's update jitted by hand in float64.

Measured (CPU time, the minimum of 25 runs of each, interleaved, one BLAS thread, on two cores
shared with other work; wall time there swung by ±50% from run to run): scipy:BFGS 1.47 (the
thread handover, +29 µs per iteration), scipy:L-BFGS-B on the autoencoder 1.04, cma 0.95-1.0,
Nevergrad 1.15 (+33 µs a step: the recommendation it asks for as the iterate), optax 1.12
(+4 µs a step). On a shared machine, time CPU: ``--benchmark-timer time.process_time``.
"""

import cma
import jax
import jax.numpy as jnp
import nevergrad as ng
import numpy as np
import optax
import pytest
import scipy.optimize as so

from optbench import optimizers
from optbench.optimizers import BudgetExhausted, PlainOracle
from optbench.problems import make

ROUNDS = {"rounds": 9, "iterations": 1, "warmup_rounds": 1}


@pytest.fixture(scope="module")
def rosen():
    problem = make("rosenbrock", dim=10)
    return problem, problem.initial_point(np.random.default_rng(0))


def steps(name, problem, x0, n=None, **hp):
    """Step ``name`` to its end (or ``n`` steps); the optimizer afterwards."""
    opt = optimizers.make(name, **hp)
    opt.start(PlainOracle(problem), x0)
    try:
        while not opt.converged and (n is None or opt.nit < n):
            opt.step()
    except BudgetExhausted:
        pass
    finally:
        opt.close()
    return opt


# -- scipy ----------------------------------------------------------------------------------
@pytest.mark.benchmark(group="scipy:BFGS rosenbrock-10d to convergence")
def test_baseline_scipy_bfgs(benchmark, rosen):
    problem, x0 = rosen
    result = benchmark.pedantic(so.minimize, args=(problem.value_and_grad, x0),
                                kwargs={"jac": True, "method": "BFGS"}, **ROUNDS)
    benchmark.extra_info["nit"] = int(result.nit)


@pytest.mark.benchmark(group="scipy:BFGS rosenbrock-10d to convergence")
def test_scipy_bfgs_stepped(benchmark, rosen):
    problem, x0 = rosen
    opt = benchmark.pedantic(steps, args=("scipy:BFGS", problem, x0), **ROUNDS)
    ref = so.minimize(problem.value_and_grad, x0, jac=True, method="BFGS")
    assert opt.nit == ref.nit and np.array_equal(opt.x, ref.x)


@pytest.fixture(scope="module")
def autoencoder():
    problem = make("autoencoder", hidden=25)
    return problem, problem.initial_point(np.random.default_rng(0))


@pytest.mark.benchmark(group="scipy:L-BFGS-B autoencoder 100 iterations")
def test_baseline_scipy_lbfgsb(benchmark, autoencoder):
    problem, x0 = autoencoder
    benchmark.pedantic(so.minimize, args=(problem.value_and_grad, x0),
                       kwargs={"jac": True, "method": "L-BFGS-B",
                               "options": {"maxiter": 100}}, **ROUNDS)


@pytest.mark.benchmark(group="scipy:L-BFGS-B autoencoder 100 iterations")
def test_scipy_lbfgsb_stepped(benchmark, autoencoder):
    problem, x0 = autoencoder
    opt = benchmark.pedantic(steps, args=("scipy:L-BFGS-B", problem, x0),
                             kwargs={"maxiter": 100}, **ROUNDS)
    assert opt.nit == 100


# -- cma ------------------------------------------------------------------------------------
GENERATIONS = 100


@pytest.mark.benchmark(group="cma rosenbrock-10d 100 generations")
def test_baseline_cma_ask_tell(benchmark, rosen):
    problem, x0 = rosen

    def loop():
        es = cma.CMAEvolutionStrategy(x0, 0.5, {"seed": 3, "verbose": -9, "verb_log": 0,
                                                "verb_disp": 0})
        for _ in range(GENERATIONS):
            xs = es.ask()
            es.tell(xs, [problem.value(x) for x in xs])
            es.stop()  # the loop's own test, as in cma's documentation
        return es.result.xfavorite

    benchmark.pedantic(loop, **ROUNDS)


@pytest.mark.benchmark(group="cma rosenbrock-10d 100 generations")
def test_cma_stepped(benchmark, rosen):
    problem, x0 = rosen
    opt = benchmark.pedantic(steps, args=("cma", problem, x0, GENERATIONS),
                             kwargs={"sigma0": 0.5, "seed": 3}, **ROUNDS)
    assert opt.nit == GENERATIONS


# -- nevergrad ------------------------------------------------------------------------------
ASKS = 1000


@pytest.mark.benchmark(group="nevergrad:TwoPointsDE rosenbrock-10d 1000 evaluations")
def test_baseline_nevergrad_ask_tell(benchmark, rosen):
    problem, x0 = rosen

    def loop():
        param = ng.p.Array(init=x0)
        param.random_state = np.random.RandomState(3)
        opt = ng.optimizers.registry["TwoPointsDE"](parametrization=param, budget=ASKS)
        for _ in range(ASKS):
            c = opt.ask()
            opt.tell(c, problem.value(c.value))
        return opt.recommend().value

    benchmark.pedantic(loop, **ROUNDS)


@pytest.mark.benchmark(group="nevergrad:TwoPointsDE rosenbrock-10d 1000 evaluations")
def test_nevergrad_stepped(benchmark, rosen):
    problem, x0 = rosen
    opt = benchmark.pedantic(steps, args=("nevergrad:TwoPointsDE", problem, x0, ASKS),
                             kwargs={"seed": 3}, **ROUNDS)
    assert opt.nit == ASKS


# -- optax ----------------------------------------------------------------------------------
UPDATES = 1000


@pytest.mark.benchmark(group="optax:adamw rosenbrock-10d 1000 steps")
def test_baseline_optax_jitted_by_hand(benchmark, rosen):
    problem, x0 = rosen
    tx = optax.adamw(1e-3)

    @jax.jit
    def update(params, state, g):
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    def loop():
        with jax.enable_x64(True):
            params = jnp.asarray(x0)
            state = tx.init(params)
            for _ in range(UPDATES):
                g = problem.grad(np.asarray(params))
                params, state = update(params, state, g)
            return np.asarray(params)

    benchmark.pedantic(loop, **ROUNDS)


@pytest.mark.benchmark(group="optax:adamw rosenbrock-10d 1000 steps")
def test_optax_stepped(benchmark, rosen):
    problem, x0 = rosen
    opt = benchmark.pedantic(steps, args=("optax:adamw", problem, x0, UPDATES),
                             kwargs={"learning_rate": 1e-3}, **ROUNDS)
    assert opt.nit == UPDATES
