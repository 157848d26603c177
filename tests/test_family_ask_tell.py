"""``cma`` and ``nevergrad:<Optimizer>`` against the libraries driven by hand (issue 15).

With the same seed, the runner evaluates exactly the candidates the library asks for when a
plain ask/tell loop drives it, and counts one evaluation per candidate.
"""

import gc
import threading

import cma
import nevergrad as ng
import numpy as np
import pytest

import optbench
from optbench.problems.base import Problem

QUIET = {"verbose": -9, "verb_log": 0, "verb_disp": 0}


class Recording(Problem):
    """A shifted, scaled sphere that records every point its value is asked for."""

    name = "recording-sphere"

    def __init__(self, dim=3, bounds=None):
        self.dim = dim
        self.bounds = bounds
        self.x_opt = np.linspace(0.5, 1.5, dim)
        self.f_opt = 0.0
        self.asked = []

    def initial_point(self, rng):
        return np.full(self.dim, 3.0)

    def value(self, x):
        self.asked.append(np.array(x, copy=True))
        d = (x - self.x_opt) * np.arange(1, self.dim + 1)
        return float(d @ d)

    def value_and_grad(self, x):  # the runner's trace only; not recorded
        w = np.arange(1, self.dim + 1)
        d = (x - self.x_opt) * w
        return float(d @ d), 2 * d * w


def candidates(problem):
    """The points the run evaluated: every call of value() (the runner's own looks at the run,
    f(x0) included, go through value_and_grad, which this problem does not record)."""
    return np.array(problem.asked)


def hand_cma(f, x0, sigma0, options, evaluations):
    es = cma.CMAEvolutionStrategy(x0, sigma0, {**QUIET, **options})
    asked = []
    while len(asked) < evaluations and not es.stop():
        xs = es.ask()
        asked += [np.array(x) for x in xs]
        es.tell(xs, [f(x) for x in xs])
    return np.array(asked[:evaluations]), es


def sphere(problem):
    w = np.arange(1, problem.dim + 1)
    return lambda x: float(((x - problem.x_opt) * w) @ ((x - problem.x_opt) * w))


def test_cma_asks_what_cma_asks_with_its_own_seed():
    """seed 5 of the run is cma's option seed=5 (cma's own stream: np.random.seed(5))."""
    problem = Recording()
    run = optbench.run(problem, "cma", seed=5, sigma0=0.7, popsize=9,
                       budget={"evaluations": 100})
    assert run.status == "budget" and run.evaluations == 100
    ours = candidates(problem)
    ref, _ = hand_cma(sphere(problem), np.full(3, 3.0), 0.7, {"seed": 5, "popsize": 9}, 100)
    assert len(ours) == 100 == run.evaluations  # every candidate evaluated is one evaluation
    np.testing.assert_array_equal(ours, ref)
    assert run.iterations == 100 // 9  # whole generations; the 12th was cut by the budget


def test_cma_passes_bounds_on_and_stops_as_cma_does():
    low, high = np.full(3, 1.0), np.full(3, 4.0)
    problem = Recording(bounds=(low, high))
    run = optbench.run(problem, "cma", seed=11, sigma0=1.0, budget={"evaluations": 20_000})
    ours = candidates(problem)
    ref, es = hand_cma(sphere(problem), np.full(3, 3.0), 1.0,
                       {"seed": 11, "bounds": [list(low), list(high)]}, 20_000)
    np.testing.assert_array_equal(ours, ref)
    assert ((ours >= low) & (ours <= high)).all()
    stop = es.stop()
    assert set(stop) <= {"tolfun", "tolfunhist", "tolx", "tolfunrel"} and stop
    assert run.status == "converged" and run.record.status.value == "converged"
    assert run.message == "cma stopped: " + ", ".join(f"{k} = {v}" for k, v in stop.items())
    assert run.evaluations == len(ref) == es.countevals
    np.testing.assert_allclose(run.x, es.result.xfavorite, rtol=0, atol=0)
    assert abs(run.x[0] - 1.0) < 1e-6  # x_opt[0] = 0.5 lies outside: the bound binds


def test_cma_own_limit_is_the_runs_budget():
    run = optbench.run(Recording(), "cma", seed=1, maxfevals=30, budget={"evaluations": 1000})
    assert run.status == "budget" and "maxfevals" in run.message


def test_seeds_are_different_runs():
    a = optbench.run(Recording(), "cma", seed=1, budget={"evaluations": 20})
    b = optbench.run(Recording(), "cma", seed=2, budget={"evaluations": 20})
    c = optbench.run(Recording(), "cma", seed=2, budget={"evaluations": 20})
    assert a.f_best != b.f_best and b.f_best == c.f_best


def hand_nevergrad(name, f, x0, seed, budget):
    param = ng.p.Array(init=x0)
    param.random_state = np.random.RandomState(seed)
    opt = ng.optimizers.registry[name](parametrization=param, budget=budget, num_workers=1)
    asked = []
    for _ in range(budget):
        c = opt.ask()
        asked.append(np.array(c.value))
        opt.tell(c, f(c.value))
    return np.array(asked), opt


@pytest.mark.parametrize("name", ["TwoPointsDE", "OnePlusOne", "NelderMead"])
def test_nevergrad_asks_what_nevergrad_asks(name):
    problem = Recording()
    run = optbench.run(problem, f"nevergrad:{name}", seed=3, budget={"evaluations": 60})
    assert run.status == "budget" and run.evaluations == 60 == run.iterations
    # NelderMead runs scipy on a thread of Nevergrad's recaster: closed with the run
    assert not [t for t in threading.enumerate() if type(t).__name__ == "_MessagingThread"]
    ref, opt = hand_nevergrad(name, sphere(problem), np.full(3, 3.0), 3, 60)
    np.testing.assert_array_equal(candidates(problem), ref)
    np.testing.assert_array_equal(run.x, opt.recommend().value)


def test_nevergrad_is_told_the_budget_and_the_bounds():
    low, high = np.full(3, 2.0), np.full(3, 5.0)
    problem = Recording(bounds=(low, high))
    run = optbench.run(problem, "nevergrad:TwoPointsDE", seed=4, budget={"evaluations": 50})
    asked = candidates(problem)
    assert ((asked >= low) & (asked <= high)).all() and run.evaluations == 50
    param = ng.p.Array(init=np.full(3, 3.0)).set_bounds(low, high)
    param.random_state = np.random.RandomState(4)
    opt = ng.optimizers.registry["TwoPointsDE"](parametrization=param, budget=50)
    f = sphere(problem)
    ref = []
    for _ in range(50):
        c = opt.ask()
        ref.append(np.array(c.value))
        opt.tell(c, f(c.value))
    np.testing.assert_array_equal(asked, np.array(ref))


def test_a_nevergrad_optimizer_that_raises_fails_with_its_words_and_the_sweep_goes_on(tmp_path):
    """NGOpt on 2-D Rosenbrock picks a meta-model optimizer that raises inside Nevergrad with
    numpy >= 2.4 (Nevergrad 1.0.12, its issue 1612). Driven by hand with the same seed: where it
    raises, and with what words, is where our run ends, ``failed`` (the method gave up, the
    user's code is not to blame), its evaluations counted and no thread of Nevergrad's left."""
    problem = Recording(dim=2)
    x0 = np.full(2, 3.0)
    param = ng.p.Array(init=x0)
    param.random_state = np.random.RandomState(7)
    opt = ng.optimizers.registry["NGOpt"](parametrization=param, budget=300, num_workers=1)
    f, asked, raised = sphere(problem), [], None
    try:
        for _ in range(300):
            c = opt.ask()
            asked.append(np.array(c.value))
            opt.tell(c, f(c.value))
    except Exception as e:  # the library's own failure, as a user driving it sees it
        raised = f"{type(e).__name__}: {e}"
    del opt
    gc.collect()  # by hand, the traceback held a sub-optimizer whose thread ends with it
    run = optbench.run(problem, "nevergrad:NGOpt", seed=7, budget={"evaluations": 300})
    assert run.evaluations == len(asked)
    # after a failed run the runner checks the gradient at its last point by differences of
    # value(), which the problem records too: the run's own candidates come first
    np.testing.assert_array_equal(candidates(problem)[:run.evaluations], np.array(asked))
    if raised is None:  # a Nevergrad that works with this numpy: an ordinary budget run
        assert run.status == "budget"
    else:
        assert run.status == "failed", run.message
        assert run.message.startswith(f"Nevergrad's NGOpt raised {raised} (in nevergrad/")
    assert not [t for t in threading.enumerate() if type(t).__name__ == "_MessagingThread"]
    path = tmp_path / "ng.yaml"
    path.write_text("name: ng\nproblems:\n  - rosenbrock: {dim: 2, x0: [3, 3]}\noptimizers:\n"
                    "  - nevergrad:NGOpt: {}\n  - nevergrad:OnePlusOne: {}\n"
                    "budget: {evaluations: 100}\n")
    results = optbench.sweep(path, out=tmp_path / "out", workers=0, progress=False)
    statuses = dict(zip(results.summary.optimizer, results.summary.status, strict=True))
    assert statuses == {"nevergrad:NGOpt": "budget" if raised is None else "failed",
                        "nevergrad:OnePlusOne": "budget"}
    assert results.exit_code == 0
