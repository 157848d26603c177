"""Adam on Ackley-2D for 10,000 steps: what the step interface and the runner add (issues 3, 4).

Against a hand-written numpy loop doing the same arithmetic (the baseline):
- through the step interface (optimizers.make("adam") with a PlainOracle): target ratio <= 1.2;
- through optbench.bench.run.runner.execute, recording on its default schedule: target ratio <= 1.2.
"""

import numpy as np
import pytest

from optbench import optimizers
from optbench.bench.run.runner import execute
from optbench.bench.sweep.spec import Budget, RunSpec, canonical
from optbench.optimizers import PlainOracle
from optbench.problems import make

STEPS = 10_000
X0 = [3.0, -2.0]
pytestmark = pytest.mark.benchmark(group="adam ackley-2d 10k steps")


def test_baseline_hand_written_loop(benchmark):
    grad = make("ackley", dim=2).grad

    def loop():
        x, m, v = np.array(X0), np.zeros(2), np.zeros(2)
        b1, b2, lr, eps = 0.9, 0.999, 0.01, 1e-8
        for t in range(1, STEPS + 1):
            g = grad(x)
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * (g * g)
            x = x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        return x

    benchmark.pedantic(loop, rounds=5, iterations=1, warmup_rounds=1)


def test_step_interface(benchmark):
    problem = make("ackley", dim=2)

    def loop():
        opt = optimizers.make("adam", lr=0.01)
        opt.start(PlainOracle(problem), np.array(X0))
        step = opt.step
        for _ in range(STEPS):
            x = step()
        return x

    benchmark.pedantic(loop, rounds=5, iterations=1, warmup_rounds=1)


def test_execute(benchmark):
    spec = RunSpec("ackley", canonical({"dim": 2, "x0": X0}), "adam", canonical({"lr": 0.01}), 0,
                   budget=Budget(iterations=STEPS))
    record = benchmark.pedantic(execute, args=(spec,), rounds=5, iterations=1, warmup_rounds=1)
    assert record.n_iter == STEPS and record.status.value == "budget"
