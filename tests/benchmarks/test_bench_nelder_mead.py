"""Nelder-Mead through the step interface against scipy.optimize.minimize (issue 13, item 2).

The 580-D autoencoder (digits, hidden 4, 100 samples), 1,500 iterations, 2,082 evaluations.
scipy re-sorts a copy of the whole 581 x 580 simplex each iteration; ours moves the new vertex
to its rank. Iterates, final simplex, nit and nfev are asserted bit for bit equal to scipy's.
Target time ratio <= 0.1 (not asserted), out of reach of any bitwise-exact step.
``test_interleaved_ratios`` times ours, the same 2,082 evaluations alone and the 1,499 centroid
sums alone (scipy's ``np.add.reduce(sim[:-1], 0)``) side by side with scipy; measured with one
BLAS thread on two shared cores (load 1.3), 2 December 2026: ours 0.274 of scipy's time, the
evaluations 0.114, the sums 0.127, the two together 0.241 (other runs at load 0.9-2.3: ours
0.25-0.27, evaluations 0.09-0.11, sums 0.11-0.13). ``test_where_new_vertices_land`` shows why
the sum is paid whole each iteration: the new vertex's rank is 3 of 580 at the median, so
prefix sums would still add 96% of the rows again, and an updated sum differs from scipy's bits
at every one of the 1,499 iterations.

scipy's time depends on glibc's malloc: in a fresh process each of its 2.7 MB temporaries is
fresh pages from the kernel (1.9 million page faults and 4 s of system time per run, a run
about 10x longer) until a larger array has been freed, which raises malloc's mmap and trim
thresholds for good (our own 5.4 MB simplex buffer is enough). ``scipy_at_its_best`` frees one
of 16 MiB first, so scipy is timed without the faults whichever test ran before.
"""

import statistics

import numpy as np
import pytest
import scipy.optimize as so
from interleave import described, interleaved_times

from optbench import optimizers
from optbench.optimizers import PlainOracle
from optbench.problems import make

ITERATIONS = 1500
pytestmark = pytest.mark.benchmark(group="nelder-mead autoencoder 580-D 1500 iterations")


@pytest.fixture(scope="module", autouse=True)
def scipy_at_its_best():
    np.ones(2 * 2**20)  # 16 MiB, allocated and freed at once (see the module docstring)


@pytest.fixture(scope="module")
def autoencoder():
    problem = make("autoencoder", hidden=4, samples=100)
    assert problem.dim == 580
    return problem, problem.initial_point(np.random.default_rng(0))


class Counting(PlainOracle):
    def __init__(self, problem):
        super().__init__(problem)
        self.points = []

    def value(self, x):
        self.points.append(x.copy())
        return self.problem.value(x)


def stepped(problem, x0, iterations=ITERATIONS):
    oracle, opt = Counting(problem), optimizers.make("nelder-mead")
    opt.start(oracle, x0)
    iterates = []
    while opt.nit < iterations and not opt.converged:
        iterates.append(opt.step())
    return opt, oracle, iterates


def test_baseline_scipy_minimize(benchmark, autoencoder):
    problem, x0 = autoencoder

    def solve():
        return so.minimize(problem.value, x0, method="Nelder-Mead",
                           options={"maxiter": ITERATIONS})

    result = benchmark.pedantic(solve, rounds=5, iterations=1)
    assert result.nit == ITERATIONS
    benchmark.extra_info["nfev"] = int(result.nfev)


def test_step_interface(benchmark, autoencoder):
    problem, x0 = autoencoder
    opt, oracle, iterates = benchmark.pedantic(stepped, args=(problem, x0), rounds=5,
                                               iterations=1, warmup_rounds=1)
    seen = []
    reference = so.minimize(problem.value, x0, method="Nelder-Mead",
                            options={"maxiter": ITERATIONS},
                            callback=lambda intermediate_result: seen.append(
                                intermediate_result.x.copy()))
    np.testing.assert_array_equal(np.array(iterates), np.array(seen))  # bit for bit
    np.testing.assert_array_equal(opt.sim, reference.final_simplex[0])
    assert opt.nit == reference.nit == ITERATIONS
    assert len(oracle.points) == reference.nfev
    benchmark.extra_info["nfev"] = len(oracle.points)


def test_evaluations_alone(benchmark, autoencoder):
    problem, x0 = autoencoder
    points = stepped(problem, x0)[1].points

    def evaluate():
        for x in points:
            problem.value(x)

    benchmark.pedantic(evaluate, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["nfev"] = len(points)


@pytest.mark.benchmark(group="nelder-mead autoencoder, interleaved")
def test_interleaved_ratios(benchmark, autoencoder, capsys):
    """Ours, the evaluations alone and the centroid sums alone, each over scipy's time, timed
    side by side (``interleave.py``): printed, not asserted. The centroid sums are the n-row
    ``np.add.reduce`` of every iteration (here on the final simplex), which the bits require."""
    problem, x0 = autoencoder
    iterations, rounds = (ITERATIONS, 15) if not benchmark.disabled else (20, 2)  # suite: quick
    opt, oracle, _ = stepped(problem, x0, iterations)
    sim = opt.sim.copy()

    def centroid_sums():
        for _ in range(iterations - 1):
            np.add.reduce(sim[:-1], 0)

    def ours():  # as scipy is called: a plain function, nothing kept
        opt = optimizers.make("nelder-mead")
        opt.start(PlainOracle(problem), x0)
        while opt.nit < iterations and not opt.converged:
            opt.step()

    functions = {
        "scipy": lambda: so.minimize(problem.value, x0, method="Nelder-Mead",
                                     options={"maxiter": iterations}),
        "ours": ours,
        "evaluations": lambda: [problem.value(x) for x in oracle.points],
        "centroid sums": centroid_sums,
    }
    times = benchmark.pedantic(interleaved_times, args=(functions, rounds), rounds=1)
    scipy = times.pop("scipy")
    times["ours − evaluations (its own work)"] = [
        o - e for o, e in zip(times["ours"], times["evaluations"], strict=True)]
    times["evaluations + centroid sums"] = [
        e + c for e, c in zip(times["evaluations"], times["centroid sums"], strict=True)]
    if not benchmark.disabled:
        with capsys.disabled():
            print(f"\nNelder-Mead, {problem.describe()}, {iterations} iterations, "
                  f"{len(oracle.points)} evaluations; scipy {statistics.median(scipy):.3f} s")
            for name, subject in times.items():
                ratios = [t / s for t, s in zip(subject, scipy, strict=True)]
                print(f"  {name} / scipy = {described(ratios, f'{rounds} interleaved rounds')}")


@pytest.mark.benchmark(group="nelder-mead autoencoder, where new vertices land")
def test_where_new_vertices_land(benchmark, autoencoder, capsys):
    """Why the centroid costs a full n-row sum each iteration, measured on this run (printed).

    scipy's centroid adds the n best vertices row by row in rank order, so the rows before the
    new vertex's rank k keep their partial sum and only ranks k … n−1 need adding again (what a
    store of prefix sums would save). Here k is found from the values alone: the first rank at
    which the sorted values before and after the iteration differ. The O(n) alternative, the
    last sum updated with x_new − x_out, is compared with scipy's sum bit for bit.
    """
    problem, x0 = autoencoder
    iterations = ITERATIONS if not benchmark.disabled else 100
    n = problem.dim

    def run():
        opt = optimizers.make("nelder-mead")
        opt.start(PlainOracle(problem), x0)
        ranks, updated_differs = [], 0
        while opt.nit < iterations:
            before, total = opt.fsim.copy(), np.add.reduce(opt.sim[:-1], 0)
            opt.step()
            k = int(np.flatnonzero(opt.fsim != before)[0])
            # no shrink on this run: one new vertex, the others one rank down behind it
            np.testing.assert_array_equal(opt.fsim[k + 1:], before[k:-1])
            ranks.append(k)
            if k < n:  # the new vertex is among the n best and the old rank n−1 is not
                updated = total + (opt.sim[k] - opt.sim[-1])
                updated_differs += not np.array_equal(updated, np.add.reduce(opt.sim[:-1], 0))
        return np.array(ranks), updated_differs

    ranks, updated_differs = benchmark.pedantic(run, rounds=1)
    if not benchmark.disabled:
        with capsys.disabled():
            q10, q50, q90 = np.percentile(ranks, [10, 50, 90])
            print(f"\nnew vertex's rank k of n = {n}, {ranks.size} iterations: median {q50:.0f}, "
                  f"10% {q10:.0f}, 90% {q90:.0f}; k < n/10 in {np.mean(ranks < n / 10):.0%}; "
                  f"rows a prefix-sum store would add again: {np.mean(n - ranks) / n:.1%}; "
                  f"the updated sum's bits differ from scipy's at {updated_differs} of "
                  f"{np.sum(ranks < n)} iterations")
