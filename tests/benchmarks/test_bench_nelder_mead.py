"""Nelder-Mead through the step interface against scipy.optimize.minimize (issue 13, item 2).

The 580-D autoencoder (digits, hidden 4, 100 samples), 1,500 iterations. scipy re-sorts a
copy of the whole 581 x 580 simplex each iteration; ours moves the new vertex to its rank. The
iterates, nit and nfev are asserted bit for bit equal to scipy's; the target time ratio is
<= 0.1 (not asserted).
"""

import numpy as np
import pytest
import scipy.optimize as so
from optbench.optimizers import PlainOracle
from optbench.problems import make

from optbench import optimizers

ITERATIONS = 1500
pytestmark = pytest.mark.benchmark(group="nelder-mead autoencoder 580-D 1500 iterations")


@pytest.fixture(scope="module")
def autoencoder():
    problem = make("autoencoder", hidden=4, samples=100)
    assert problem.dim == 580
    return problem, problem.initial_point(np.random.default_rng(0))


def test_baseline_scipy_minimize(benchmark, autoencoder):
    problem, x0 = autoencoder

    def solve():
        return so.minimize(problem.value, x0, method="Nelder-Mead",
                           options={"maxiter": ITERATIONS})

    result = benchmark.pedantic(solve, rounds=3, iterations=1)
    assert result.nit == ITERATIONS
    benchmark.extra_info["nfev"] = int(result.nfev)


def test_step_interface(benchmark, autoencoder):
    problem, x0 = autoencoder
    calls = [0]

    class Counting(PlainOracle):
        def value(self, x):
            calls[0] += 1
            return problem.value(x)

    def solve():
        calls[0] = 0
        opt = optimizers.make("nelder-mead")
        opt.start(Counting(problem), x0)
        iterates = []
        while opt.nit < ITERATIONS and not opt.converged:
            iterates.append(opt.step())
        return opt, iterates

    opt, iterates = benchmark.pedantic(solve, rounds=5, iterations=1, warmup_rounds=1)
    seen = []
    reference = so.minimize(problem.value, x0, method="Nelder-Mead",
                            options={"maxiter": ITERATIONS},
                            callback=lambda intermediate_result: seen.append(
                                intermediate_result.x.copy()))
    np.testing.assert_array_equal(np.array(iterates), np.array(seen))  # bit for bit
    np.testing.assert_array_equal(opt.sim, reference.final_simplex[0])
    assert opt.nit == reference.nit == ITERATIONS and calls[0] == reference.nfev
    benchmark.extra_info["nfev"] = calls[0]
