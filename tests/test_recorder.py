"""The trace's rows hold f and ‖∇f‖ at each recorded iterate, whichever way the recorder had
them (the run's own evaluation there, or the monitor's), checked against the function itself."""

import numpy as np
import pytest

import optbench


def quartic(x):
    return float(np.sum((x - 1.0) ** 2) + 0.1 * np.sum(x**4))


def quartic_grad(x):
    return 2 * (x - 1.0) + 0.4 * x**3


@pytest.mark.parametrize("optimizer, kw, monitored", [
    ("lbfgsb", {}, 0),  # every iterate is its accepted point, evaluated with a gradient
    ("adam", {"lr": 0.1}, 1),  # each iterate is evaluated next; the last one never is
    ("nag", {"lr": 0.01}, None),  # only look-ahead points are evaluated (but x0 is one)
    ("nelder-mead", {}, None),  # values only: ‖∇f‖ needs the monitor
])
def test_every_row_holds_f_and_its_gradient_norm_at_its_iterate(optimizer, kw, monitored):
    calls = [0]

    def fun(x):
        calls[0] += 1
        return quartic(x), quartic_grad(x)

    problem = optbench.problem(fun, jac=True, x0=np.full(4, 3.0))
    result = optbench.run(problem, optimizer, budget={"evaluations": 300}, **kw)
    trace, rec = result.trace, result.record
    assert calls[0] == rec.n_eval + rec.n_monitor
    assert rec.trace["n_monitor"][-1] == rec.n_monitor
    rows = len(trace)
    if monitored is None:  # one value and gradient per row the run did not evaluate (x0 it did)
        assert 0 < rec.n_monitor < rows
    else:
        assert rec.n_monitor == monitored
    best = np.inf
    for x, f, gnorm, f_best in zip(trace["x"], trace["f"], trace["grad_norm"], trace["f_best"],
                                   strict=True):
        assert f == quartic(x)
        assert gnorm == pytest.approx(np.linalg.norm(quartic_grad(x)), rel=1e-12)
        best = min(best, f)
        assert f_best <= best
