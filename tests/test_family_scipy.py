"""``scipy:<method>`` against ``scipy.optimize.minimize`` called directly (issue 15).

The reference is scipy itself, called as a user calls it: ``minimize(f_and_grad, x0, jac=True,
method=M)`` (values only for the derivative-free methods), with the evaluations counted on the
problem. Rosenbrock's reference value and gradient are ``scipy.optimize.rosen``/``rosen_der``.
"""

import threading

import numpy as np
import pytest
import scipy.optimize as so
from threadpoolctl import threadpool_limits

import optbench
from optbench import optimizers
from optbench.optimizers import BudgetExhausted, PlainOracle
from optbench.problems import make
from optbench.problems.base import Problem

GRADIENT = {"BFGS", "CG", "L-BFGS-B", "TNC", "SLSQP", "trust-constr", "Newton-CG"}
DERIVATIVE_FREE = {"Powell", "COBYLA", "COBYQA"}
METHODS = sorted(GRADIENT | DERIVATIVE_FREE)


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(1):  # 193-D linear algebra: a second thread only adds contention
        yield


class Rosen:
    """Rosenbrock from scipy's own rosen/rosen_der: independent of problems/rosenbrock.py."""

    bounds = None
    gradient = "analytic"

    def value(self, x):
        return float(so.rosen(x))

    def grad(self, x):
        return so.rosen_der(x)

    def value_and_grad(self, x):
        return float(so.rosen(x)), so.rosen_der(x)


class Counting(PlainOracle):
    def __init__(self, problem):
        super().__init__(problem)
        self.calls = 0

    def value(self, x):
        self.calls += 1
        return self.problem.value(x)

    def value_and_grad(self, x):
        self.calls += 1
        return self.problem.value_and_grad(x)


def direct(problem, method, x0, options, callback=None):
    """scipy.optimize.minimize as a user calls it; the problem's evaluations counted."""
    calls = [0]

    def f(x):
        calls[0] += 1
        return problem.value_and_grad(x) if method in GRADIENT else problem.value(x)

    result = so.minimize(f, x0, jac=True if method in GRADIENT else None, method=method,
                         options=options, callback=callback)
    return result, calls[0]


def stepped(problem, method, x0, options):
    """Through the step interface until it stops; a scipy limit ends it with BudgetExhausted."""
    oracle, opt = Counting(problem), optimizers.make(f"scipy:{method}", **options)
    opt.start(oracle, x0)
    iterates, stop = [], None
    try:
        while not opt.converged:
            nit, x = opt.nit, opt.step()
            if opt.nit > nit:
                iterates.append(x)
    except BudgetExhausted as e:
        stop = e
    finally:
        opt.close()
    return opt, oracle.calls, iterates, stop


def check_parity(problem, method, x0, options):
    ref, calls = direct(problem, method, x0, options)
    opt, n_calls, _, stop = stepped(problem, method, x0, options)
    np.testing.assert_array_equal(opt.x, ref.x)  # bit for bit
    assert n_calls == calls  # the problem was evaluated exactly as often
    if method != "Newton-CG":  # its Hessian-vector differences are njev, not nfev
        assert n_calls == ref.nfev
    if "nit" in ref:  # COBYLA reports none
        assert opt.nit == ref.nit
    if ref.success:
        assert opt.converged and opt.success and opt.message == ref.message and stop is None
    else:  # scipy's own limit: the run's budget, in scipy's words
        assert stop is not None and ref.message in str(stop)
    return ref


@pytest.mark.parametrize("n", [2, 10])
@pytest.mark.parametrize("method", METHODS)
def test_rosenbrock_gives_scipys_x_nit_and_nfev(method, n):
    problem = Rosen()
    x0 = np.tile([-1.2, 1.0], n // 2)
    # COBYLA and COBYQA (pure Python) are slow per evaluation: cut by their own limits
    options = {"COBYLA": {"maxiter": 300}, "COBYQA": {"maxfev": 150 if n == 10 else 1000}}
    ref = check_parity(problem, method, x0, options.get(method, {}))
    if n == 2 and method != "COBYLA":
        assert ref.success


@pytest.mark.parametrize("method", METHODS)
def test_every_iterate_is_scipys_callback_iterate(method):
    problem, x0 = Rosen(), np.array([-1.2, 1.0, -1.2, 1.0])
    options = {"COBYLA": {"maxiter": 200}, "COBYQA": {"maxfev": 200}}.get(method, {})
    seen = []
    direct(problem, method, x0, options,
           callback=lambda intermediate_result: seen.append(
               np.array(getattr(intermediate_result, "x", intermediate_result))))
    _, _, iterates, _ = stepped(problem, method, x0, options)
    assert len(iterates) == len(seen)
    np.testing.assert_array_equal(np.array(iterates), np.array(seen))


# the 193-dimensional digits autoencoder, each method cut short by its own scipy limit
AUTOENCODER_OPTIONS = {
    "BFGS": {"maxiter": 8}, "CG": {"maxiter": 8}, "L-BFGS-B": {"maxiter": 8},
    "TNC": {"maxfun": 40}, "SLSQP": {"maxiter": 8}, "Powell": {"maxiter": 1},
    "COBYLA": {"maxiter": 200}, "COBYQA": {"maxfev": 390}, "trust-constr": {"maxiter": 8},
    "Newton-CG": {"maxiter": 4},
}


@pytest.fixture(scope="module")
def autoencoder():
    problem = make("autoencoder", hidden=1, samples=20)
    return problem, problem.initial_point(np.random.default_rng(3))


@pytest.mark.parametrize("method", METHODS)
def test_autoencoder_gives_scipys_x_nit_and_nfev(method, autoencoder):
    problem, x0 = autoencoder
    assert problem.dim == 193
    check_parity(problem, method, x0, AUTOENCODER_OPTIONS[method])


def _our_threads():
    return [t for t in threading.enumerate() if t.name.startswith("optbench scipy:")]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("budget", [{"evaluations": 7}, {"iterations": 2}])
def test_an_early_stop_leaves_no_thread(method, budget):
    """An evaluation budget stops inside minimize (BudgetExhausted raised on the worker and
    re-raised by step()); an iteration budget stops between steps (close())."""
    result = optbench.run({"rosenbrock": {"dim": 4, "x0": [0, 0, 0, 0]}},
                          f"scipy:{method}", budget=budget)
    assert result.status == "budget", result.message
    assert not _our_threads()
    if "evaluations" in budget:
        assert result.evaluations == 7
    else:
        assert result.iterations == 2


def test_a_divergence_stops_the_worker_too():
    """SLSQP's first line search from (-1.2, 1, -1.2, 1) jumps to f ~ 6e13: the oracle's
    Diverged (a RunStopped) ends minimize on its thread and the run says diverged."""
    result = optbench.run({"rosenbrock": {"dim": 4, "x0": [-1.2, 1, -1.2, 1]}}, "scipy:SLSQP",
                          budget={"evaluations": 100})
    assert result.status == "diverged", result.message
    assert not _our_threads()


def test_closing_mid_iteration_stops_the_worker():
    """close() while the worker waits in its callback: minimize unwinds, the thread ends."""
    opt = optimizers.make("scipy:BFGS")
    opt.start(PlainOracle(Rosen()), np.array([-1.2, 1.0]))
    opt.step()
    assert len(_our_threads()) == 1
    opt.close()
    assert not _our_threads()
    opt.close()  # twice is harmless
    x = opt.step()  # a closed run takes no more steps: the same x, nothing evaluated
    np.testing.assert_array_equal(x, opt.x)
    opt.start(PlainOracle(Rosen()), np.array([-1.2, 1.0]))  # a second start starts afresh
    while not opt.converged:
        opt.step()
    ref, _ = direct(Rosen(), "BFGS", np.array([-1.2, 1.0]), {})
    np.testing.assert_array_equal(opt.x, ref.x)
    assert opt.nit == ref.nit and not _our_threads()


def test_a_run_counts_what_scipy_evaluates():
    """Through the runner: the counting oracle charges each value+gradient call once."""
    x0 = [-1.2, 1.0, -1.2, 1.0]
    result = optbench.run({"rosenbrock": {"dim": 4, "x0": x0}}, "scipy:BFGS",
                          budget={"evaluations": 10_000})
    ref, calls = direct(make("rosenbrock", dim=4), "BFGS", np.array(x0), {})
    assert result.status == "converged" and result.message == ref.message
    assert result.evaluations == calls == ref.nfev and result.iterations == ref.nit
    np.testing.assert_array_equal(result.x, ref.x)


def test_a_gradient_method_on_a_value_only_problem_runs_on_differences_and_says_so():
    def f(x):
        return float(so.rosen(x))

    problem = optbench.problem(f, x0=[-1.2, 1.0], name="value-only-rosen")
    done = optbench.run(problem, "scipy:BFGS", budget={"evaluations": 100_000})
    assert done.status == "converged"
    assert "central differences" in done.message and "no gradient" in done.message
    np.testing.assert_allclose(done.x, [1.0, 1.0], atol=1e-4)
    cut = optbench.run(problem, "scipy:BFGS", budget={"evaluations": 30})
    assert cut.status == "budget" and "central differences" in cut.message


def test_failures_keep_scipys_message_and_are_not_success():
    """A give-up (precision loss) is converged without success, scipy's words kept."""
    class Kinked(Rosen):  # |x| has no gradient at its minimum: BFGS loses precision there
        def value_and_grad(self, x):
            return float(np.abs(x).sum()), np.sign(x)

    ref, _ = direct(Kinked(), "BFGS", np.array([1.0, -2.0]), {})
    assert not ref.success and ref.status == 2
    opt, _, _, stop = stepped(Kinked(), "BFGS", np.array([1.0, -2.0]), {})
    assert stop is None and opt.converged and opt.success is False
    assert opt.message == ref.message


# scipy's own iteration or evaluation limit, small enough to end 2-D Rosenbrock early
OWN_LIMIT = {"TNC": {"maxfun": 5}, "COBYQA": {"maxfev": 5}, "Powell": {"maxiter": 1},
             "COBYLA": {"maxiter": 5}}


@pytest.mark.parametrize("method", METHODS)
def test_through_the_runner_scipys_exits_are_statuses_in_scipys_words(method):
    """scipy's own limit is the run's ``budget``; its success is ``converged``; both with
    scipy's message, and the evaluations scipy made."""
    # from (0, 0): from (-1.2, 1) SLSQP's first step jumps to f ~ 1e11, which the runner
    # stops as diverged (test_a_divergence_stops_the_worker_too)
    x0, spec = [0.0, 0.0], {"rosenbrock": {"dim": 2, "x0": [0.0, 0.0]}}
    problem = make("rosenbrock", dim=2)
    limit = OWN_LIMIT.get(method, {"maxiter": 3})
    ref, calls = direct(problem, method, np.array(x0), limit)
    assert not ref.success
    run = optbench.run(spec, f"scipy:{method}", budget={"evaluations": 100_000}, **limit)
    assert run.status == "budget" and run.message == f"scipy {method}: {ref.message}"
    assert run.evaluations == calls
    if method == "COBYLA":  # from this start it ends by its own iteration limit
        return
    options = {"COBYQA": {"maxfev": 1000}}.get(method, {})
    ref, calls = direct(problem, method, np.array(x0), options)
    run = optbench.run(spec, f"scipy:{method}", budget={"evaluations": 100_000}, **options)
    assert ref.success and run.status == "converged" and run.message == ref.message
    assert run.evaluations == calls
    np.testing.assert_array_equal(run.x, ref.x)


class Kinked(Problem):
    """|x|₁: no gradient at its minimum, where BFGS loses precision and gives up."""

    name = "kinked"
    dim = 2

    def initial_point(self, rng):
        return np.array([1.0, -2.0])

    def value(self, x):
        return float(np.abs(x).sum())

    def value_and_grad(self, x):
        return self.value(x), np.sign(x)


def test_a_give_up_is_failed_in_scipys_words():
    ref, _ = direct(Kinked(), "BFGS", np.array([1.0, -2.0]), {})
    assert not ref.success and ref.status == 2  # precision loss: neither success nor a limit
    run = optbench.run(Kinked(), "scipy:BFGS", budget={"evaluations": 10_000})
    assert run.status == "failed" and run.message.startswith(ref.message)
    np.testing.assert_array_equal(run.x, ref.x)


@pytest.mark.parametrize("method", sorted(GRADIENT))
def test_every_gradient_method_runs_on_differences_of_a_value_only_problem_and_says_so(method):
    def f(x):
        return float(so.rosen(x))

    problem = optbench.problem(f, x0=[0.0, 0.0], name="value-only-rosen")
    run = optbench.run(problem, f"scipy:{method}", budget={"evaluations": 23})
    assert run.status == "budget", run.message
    assert "central differences" in run.message and "no gradient" in run.message


@pytest.mark.parametrize("method", ["BFGS", "COBYQA"])
def test_a_time_budget_leaves_no_thread(method):
    """A time budget stops between steps, like an iteration budget: close() ends minimize."""
    result = optbench.run({"rosenbrock": {"dim": 4, "x0": [0, 0, 0, 0]}}, f"scipy:{method}",
                          budget={"seconds": 1e-6})
    assert result.status == "budget" and "time budget" in result.message
    assert result.iterations == 1 and not _our_threads()
