"""execute(spec): counting, budgets, targets, recording and failure capture, against plain loops."""

import math

import numpy as np
import pytest

from optbench.bench.results.records import Status
from optbench.bench.run.runner import execute
from optbench.bench.sweep.spec import Budget, RunSpec, Targets, canonical
from optbench.problems.ackley import Ackley


def spec(problem="ackley", pp=None, opt="adam", op=None, seed=0, **kw):
    return RunSpec(problem, canonical({"dim": 2} if pp is None else pp), opt,
                   canonical({"lr": 0.1} if op is None else op), seed,
                   **kw)


def plain_adam_values(x, grad_value, lr, steps, b1=0.9, b2=0.999, eps=1e-8):
    """Kingma & Ba's Algorithm 1, written out; returns f at each evaluated point, in order."""
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    fs = []
    for t in range(1, steps + 1):
        f, g = grad_value(x)
        fs.append(f)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return fs, x


def test_budget_counts_and_final_point_match_a_plain_loop():
    s = spec(pp={"dim": 2, "x0": [3.0, -2.0]}, op={"lr": 0.05}, budget=Budget(evaluations=500))
    rec = execute(s)
    fs, x = plain_adam_values(np.array([3.0, -2.0]), Ackley(dim=2).value_and_grad, 0.05, 500)
    assert rec.status is Status.BUDGET
    assert (rec.n_eval, rec.n_gev, rec.n_fev, rec.n_iter) == (500, 500, 0, 500)
    assert rec.f_final == pytest.approx(Ackley(dim=2).value(x), rel=1e-12)
    assert rec.f_best == pytest.approx(min([*fs, rec.f_final]), rel=1e-12)


def test_target_is_hit_at_the_exact_evaluation():
    x0 = [0.3, 0.2]
    s = spec(pp={"dim": 2, "x0": x0}, op={"lr": 0.01}, budget=Budget(evaluations=3000),
             targets=Targets(value=1e-3))
    rec = execute(s)
    fs, _ = plain_adam_values(np.array(x0), Ackley(dim=2).value_and_grad, 0.01, 3000)
    first = next(i for i, f in enumerate(fs) if f <= 1e-3) + 1
    assert rec.status is Status.TARGET and rec.target_hit
    assert rec.fev_to_target == first
    assert rec.n_eval == first  # it stopped right after the evaluation that hit the target
    # the precision ladder: the first evaluation below each 10^(2-0.2k) that was reached
    for precision, evals, _ in rec.hits:
        assert evals == next(i for i, f in enumerate(fs) if f < precision) + 1


def test_distance_and_value_targets_must_hold_together():
    s = spec(pp={"dim": 2, "x0": [0.3, 0.2]}, op={"lr": 0.01}, budget=Budget(evaluations=3000),
             targets=Targets(value=1e-3, distance=1e-6))
    rec = execute(s)
    fs, _ = plain_adam_values(np.array([0.3, 0.2]), Ackley(dim=2).value_and_grad, 0.01, 3000)
    value_first = next(i for i, f in enumerate(fs) if f <= 1e-3) + 1
    assert rec.fev_to_target is None or rec.fev_to_target > value_first


def test_trace_is_log_spaced_and_monitoring_is_free():
    s = spec(op={"lr": 0.01}, budget=Budget(iterations=20000))
    rec = execute(s)
    it = rec.trace["iteration"]
    assert list(it[:21]) == list(range(21))
    assert it[-1] == 20000 and len(it) < 130
    assert np.all(np.diff(it) > 0)
    # monitoring evaluations are not in the counts: one gradient per Adam step, nothing else
    assert rec.n_eval == 20000 and list(rec.trace["evaluations"][:5]) == [0, 1, 2, 3, 4]
    # the trace's f is the value at the iterate, computed independently here
    assert rec.trace["dist"][-1] == pytest.approx(rec.dist_final)
    assert set(rec.trace) >= {"x_0", "x_1", "f", "f_best", "grad_norm", "time_s"}


def test_best_so_far_counts_every_point_seen_and_never_rises():
    """NAG evaluates look-ahead points only; the trace's f_best takes its iterates in as well."""
    lr, gamma, steps = 3.0, 0.9, 40
    rec = execute(spec(pp={"dim": 2, "x0": [2.5, 2.0]}, opt="nag",
                       op={"lr": lr, "momentum": gamma}, budget=Budget(iterations=steps)))
    ackley = Ackley(dim=2)
    x, v = np.array([2.5, 2.0]), np.zeros(2)
    best, want = ackley.value(x), [ackley.value(x)]  # the plain loop, written from the seed
    for _ in range(steps):
        f_look, g = ackley.value_and_grad(x - gamma * v)
        v = gamma * v + lr * g
        x = x - v
        best = min(best, f_look, ackley.value(x))
        want.append(best)
    it = rec.trace["iteration"]
    np.testing.assert_allclose(rec.trace["f_best"], np.array(want)[it], rtol=1e-12)
    assert np.all(np.diff(rec.trace["f_best"]) <= 0)
    assert rec.f_best == pytest.approx(want[-1], rel=1e-12)


def test_iteration_and_time_budgets():
    rec = execute(spec(budget=Budget(iterations=7)))
    assert rec.status is Status.BUDGET and rec.n_iter == 7 and "iteration budget" in rec.message
    rec = execute(spec(budget=Budget(seconds=0.2)))
    assert rec.status is Status.BUDGET and "time budget" in rec.message
    assert 0.2 <= rec.wall_time_s < 1.0


def test_lbfgsb_converges_with_its_own_test():
    rec = execute(spec(opt="lbfgsb", op={}, budget=Budget(evaluations=1000),
                       pp={"dim": 2, "x0": [0.3, 0.2]}))
    assert rec.status is Status.CONVERGED and rec.message
    assert rec.dist_final < 1e-4


def test_divergence_is_a_status():
    rec = execute(spec(opt="nag", op={"lr": 1e9, "momentum": 0.9}, budget=Budget(evaluations=200),
                       problem="group_lasso", pp={}))
    assert rec.status in (Status.DIVERGED, Status.NAN)
    assert "iteration" in rec.message


def test_setup_errors_are_rows():
    rec = execute(spec(pp={"dim": 0}))
    assert rec.status is Status.ERROR and "'dim' must be an integer >= 1" in rec.message


def test_seed_decides_the_start_and_reproduces_bitwise():
    a = execute(spec(seed=3, budget=Budget(evaluations=50)))
    b = execute(spec(seed=3, budget=Budget(evaluations=50)))
    c = execute(spec(seed=4, budget=Budget(evaluations=50)))
    assert a.f_final == b.f_final and np.array_equal(a.trace["f"], b.trace["f"])
    assert a.trace["x_0"][0] != c.trace["x_0"][0]
    x0 = Ackley(dim=2).initial_point(np.random.default_rng(3))
    assert [a.trace["x_0"][0], a.trace["x_1"][0]] == x0.tolist()
    assert not math.isnan(a.f_final)
