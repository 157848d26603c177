"""The step interface's cost against calling the methods directly (issue 3).

- L-BFGS-B on the autoencoder (digits, hidden 25), 100 iterations, stepped vs
  scipy.optimize.minimize: identical nfev, target time ratio <= 1.05.
(Adam's step interface against a hand-written loop is in test_bench_adam.py.)
"""

import numpy as np
import pytest
import scipy.optimize as so

from optbench import optimizers
from optbench.optimizers import PlainOracle
from optbench.problems import make

ITERATIONS = 100


@pytest.fixture(scope="module")
def autoencoder():
    problem = make("autoencoder", hidden=25)
    return problem, problem.initial_point(np.random.default_rng(0))


@pytest.mark.benchmark(group="lbfgsb autoencoder 100 iterations")
def test_baseline_scipy_minimize(benchmark, autoencoder):
    problem, x0 = autoencoder

    def solve():
        return so.minimize(problem.value_and_grad, x0, jac=True, method="L-BFGS-B",
                           options={"maxiter": ITERATIONS})

    result = benchmark.pedantic(solve, rounds=5, iterations=1, warmup_rounds=1)
    assert result.nit == ITERATIONS
    benchmark.extra_info["nfev"] = int(result.nfev)


@pytest.mark.benchmark(group="lbfgsb autoencoder 100 iterations")
def test_step_interface(benchmark, autoencoder):
    problem, x0 = autoencoder
    calls = [0]

    class Counting(PlainOracle):
        def value_and_grad(self, x):
            calls[0] += 1
            return problem.value_and_grad(x)

    def solve():
        calls[0] = 0
        opt = optimizers.make("lbfgsb")
        opt.start(Counting(problem), x0)
        while opt.nit < ITERATIONS and not opt.converged:
            opt.step()
        return opt

    opt = benchmark.pedantic(solve, rounds=5, iterations=1, warmup_rounds=1)
    reference = so.minimize(problem.value_and_grad, x0, jac=True, method="L-BFGS-B",
                            options={"maxiter": ITERATIONS})
    assert opt.nit == reference.nit and calls[0] == reference.nfev
    benchmark.extra_info["nfev"] = calls[0]
