"""Optimizers against hand-worked steps, closed forms and scipy (issue 3)."""

import math
import multiprocessing
import threading

import numpy as np
import pytest
import scipy.optimize as so

from optbench import optimizers
from optbench.optimizers import ParameterError, PlainOracle, run
from optbench.optimizers.schedules import schedule
from optbench.problems import Problem, make


class Quadratic(Problem):
    """f(x) = ½ Σ a_i x_i², minimum 0 at the origin."""

    name = "quadratic"

    def __init__(self, a=(1.0,)):
        self.a = np.asarray(a, dtype=float)
        self.dim = self.a.size
        self.x_opt, self.f_opt = np.zeros(self.dim), 0.0

    def value(self, x):
        return 0.5 * float(np.sum(self.a * x * x))

    def grad(self, x):
        return self.a * x


class BoundedRosenbrock(Problem):
    """Rosenbrock in a box that excludes its minimizer (1, 1): the bounds bind."""

    name = "bounded_rosenbrock"
    dim = 2
    bounds = (np.array([-1.5, -0.5]), np.array([0.5, 2.0]))

    def value(self, x):
        return float(100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2)

    def grad(self, x):
        return np.array([
            -400 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]),
            200 * (x[1] - x[0] ** 2),
        ])


class Counting:
    """A plain oracle that also counts calls, the way scipy's nfev does (one per point)."""

    def __init__(self, problem):
        self.problem, self.bounds, self.calls = problem, problem.bounds, 0

    def value(self, x):
        self.calls += 1
        return self.problem.value(x)

    def value_and_grad(self, x):
        self.calls += 1
        return self.problem.value_and_grad(x)

    def grad(self, x):
        return self.value_and_grad(x)[1]


def three_steps(name, x0, **hp):
    opt = optimizers.make(name, **hp)
    opt.start(PlainOracle(Quadratic(a=(2.0,))), np.array([x0]))  # f = x², f' = 2x
    return [float(opt.step()[0]) for _ in range(3)]


# -- first three steps worked by hand on f(x) = x² from x = 1 ------------------------------------
def test_nag_three_steps_by_hand():
    # lr 0.1, γ 0.5: g = 2(x − γv), v ← γv + 0.1 g, x ← x − v
    # t1: g = 2(1 − 0) = 2,         v = 0.2,                x = 0.8
    # t2: g = 2(0.8 − 0.1) = 1.4,   v = 0.1 + 0.14 = 0.24,  x = 0.56
    # t3: g = 2(0.56 − 0.12) = 0.88, v = 0.12 + 0.088 = 0.208, x = 0.352
    assert three_steps("nag", 1.0, lr=0.1, momentum=0.5) == pytest.approx([0.8, 0.56, 0.352],
                                                                          rel=1e-14)


def test_adam_three_steps_by_hand():
    # Kingma & Ba, Algorithm 1, lr 0.1, β1 0.9, β2 0.999, ε 1e-8, g = 2x
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    x, m, v, expected = 1.0, 0.0, 0.0, []
    for t in (1, 2, 3):
        g = 2 * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
        expected.append(x)
    # the first step of Adam is lr·sign(g) (up to ε): x1 = 0.9
    assert expected[0] == pytest.approx(0.9, rel=1e-9)
    assert three_steps("adam", 1.0, lr=lr) == pytest.approx(expected, rel=1e-14)


def test_adam_amsgrad_keeps_largest_second_moment():
    # On f = x² from 1 the gradients shrink, so v_t may fall: AMSGrad divides by max_s v_s.
    lr, b1, b2, eps = 0.1, 0.9, 0.5, 1e-8
    x, m, v, v_max, expected = 1.0, 0.0, 0.0, 0.0, []
    for t in (1, 2, 3):
        g = 2 * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = max(v_max, v)
        x = x - lr * (m / (1 - b1**t)) / (math.sqrt(v_max / (1 - b2**t)) + eps)
        expected.append(x)
    got = three_steps("adam", 1.0, lr=lr, beta2=b2, amsgrad=True)
    assert got == pytest.approx(expected, rel=1e-14)
    assert got != pytest.approx(three_steps("adam", 1.0, lr=lr, beta2=b2), rel=1e-6)


def test_adagrad_three_steps_by_hand():
    # Duchi et al.: G ← G + g², x ← x − lr g / (√G + ε), lr 0.5
    # t1: g = 2, G = 4, x = 1 − 0.5·2/2 = 0.5
    # t2: g = 1, G = 5, x = 0.5 − 0.5/√5
    x2 = 0.5 - 0.5 / math.sqrt(5)
    g3 = 2 * x2
    x3 = x2 - 0.5 * g3 / math.sqrt(5 + g3 * g3)
    assert three_steps("adagrad", 1.0, lr=0.5, eps=1e-300) == pytest.approx([0.5, x2, x3],
                                                                           rel=1e-14)


def test_adagrad_initial_accumulator():
    # G_0 = 1: t1: G = 5, x = 1 − 0.5·2/√5
    assert three_steps("adagrad", 1.0, lr=0.5, eps=1e-300, initial_accumulator=1.0)[0] == (
        pytest.approx(1 - 1 / math.sqrt(5), rel=1e-14)
    )


@pytest.mark.parametrize("name, hp, steps", [
    ("nag", {"lr": 0.1, "momentum": 0.5}, 300),
    ("adam", {"lr": {"cosine": {"lr": 0.05, "steps": 3000}}}, 3000),
    ("adagrad", {"lr": 0.5}, 3000),
])
def test_first_order_reaches_minimum_of_quadratic(name, hp, steps):
    q = Quadratic(a=(1.0, 2.0, 3.0))
    x = run(optimizers.make(name, **hp), PlainOracle(q), np.array([1.0, -2.0, 0.5]), steps)
    assert np.linalg.norm(x) < 1e-6


def test_tol_stops_first_order_methods():
    opt = optimizers.make("nag", lr=0.1, momentum=0.5, tol=1e-3)
    x = run(opt, PlainOracle(Quadratic()), np.array([1.0]), 10_000)
    assert opt.converged and "tol" in opt.message
    assert opt.nit < 100 and abs(x[0]) < 1e-2


# -- schedules -----------------------------------------------------------------------------------
def test_piecewise_is_the_seeds_lr():
    lr = schedule("nag", "lr", {"piecewise": {"boundaries": [5, 10], "values": [1e-4, 1e-2, 0.1]}})
    seed = lambda t: 1e-4 if t < 5 else 1e-2 if t < 10 else 0.1  # noqa: E731 - the seed's lr_(t)
    for t in (1, 4, 5, 6, 9, 10, 11, 5000):
        assert lr(t) == seed(t)


def test_decays_at_their_boundaries():
    exp = schedule("adam", "lr", {"exponential": {"lr": 0.1, "rate": 0.5, "steps": 100}})
    assert exp(1) == 0.1 and exp(101) == pytest.approx(0.05) and exp(201) == pytest.approx(0.025)
    inv = schedule("adam", "lr", {"inverse_time": {"lr": 0.1, "rate": 1.0, "steps": 10}})
    assert inv(1) == 0.1 and inv(11) == pytest.approx(0.05) and inv(31) == pytest.approx(0.025)
    cos = schedule("adam", "lr", {"cosine": {"lr": 0.1, "steps": 100, "final": 0.01}})
    assert cos(1) == 0.1 and cos(51) == pytest.approx(0.055) and cos(101) == pytest.approx(0.01)
    assert cos(10_000) == pytest.approx(0.01)
    assert schedule("adam", "lr", 0.3)(7) == 0.3
    assert schedule("adam", "lr", {"constant": 0.3})(7) == 0.3


@pytest.mark.parametrize("name, hp, words", [
    ("adam", {"lr": -0.1}, ["adam", "'lr'", "> 0", "-0.1"]),
    ("nag", {"momentum": 1.0}, ["nag", "'momentum'", "< 1"]),
    ("nag", {"momentum": -0.1}, ["nag", "'momentum'", ">= 0"]),
    ("adam", {"beta2": 1.5}, ["adam", "'beta2'", "< 1"]),
    ("adam", {"learning_rate": 0.1}, ["adam", "unknown parameter 'learning_rate'", "lr"]),
    ("adam", {"amsgrad": "yes"}, ["adam", "'amsgrad'", "true or false"]),
    ("adagrad", {"eps": 0}, ["adagrad", "'eps'", "> 0"]),
    ("lbfgsb", {"maxcor": 0}, ["lbfgsb", "'maxcor'", "integer >= 1"]),
    ("lbfgsb", {"m": 5}, ["lbfgsb", "unknown parameter 'm'", "maxcor"]),
    ("nelder-mead", {"xatol": -1}, ["nelder-mead", "'xatol'", ">= 0"]),
    ("nelder-mead", {"initial_simplex": [[0, 0], [1, 0]]}, ["'initial_simplex'", "n+1"]),
    ("nelder-mead", {"initial_simplex": [[0, 0], [1, 0], [0, "a"]]},
     ["nelder-mead", "'initial_simplex'", "(n+1) x n list of finite numbers", "'a'"]),
    ("nelder-mead", {"initial_simplex": [[0, 0], [1], [0, 1]]},
     ["nelder-mead", "'initial_simplex'", "(n+1) x n list"]),
    ("nag", {"lr": {"piecewise": {"boundaries": [5, 10], "values": [1e-4, 0.1]}}},
     ["nag", "'lr.piecewise'", "one more value than boundaries", "2 boundaries and 2 values"]),
    ("nag", {"lr": {"piecewise": {"boundaries": [10, 5], "values": [1, 2, 3]}}},
     ["'lr.piecewise.boundaries'", "increase"]),
    ("nag", {"lr": {"linear": {"lr": 1}}}, ["nag", "'lr'", "piecewise", "cosine"]),
    ("nag", {"lr": {"cosine": {"lr": 0.1}}}, ["'lr.cosine'", "steps"]),
])
def test_bad_hyperparameters_are_named(name, hp, words):
    with pytest.raises(ParameterError) as err:
        optimizers.make(name, **hp)
    for word in words:
        assert word in str(err.value)


def test_registry_lists_every_optimizer_with_documented_parameters():
    assert set(optimizers.registry) >= {"nag", "adam", "adagrad", "lbfgsb", "nelder-mead"}
    # the shipped ones: file plugins other tests loaded stay registered in this process
    shipped = [n for n in optimizers.registry if optimizers.registry.source(n) == "built-in"]
    assert len(shipped) >= 5
    for name in shipped:
        params = optimizers.registry.params(name)
        assert params and all(p.doc for p in params), name
        assert all(not p.required for p in params), name  # every hyperparameter has a default


# -- scipy parity --------------------------------------------------------------------------------
def _scipy(problem, method, x0, options, calls, callback=None):
    def fun(x):
        calls[0] += 1
        return problem.value_and_grad(x) if method == "L-BFGS-B" else problem.value(x)

    bounds = so.Bounds(*problem.bounds) if problem.bounds is not None else None
    return so.minimize(fun, x0, jac=method == "L-BFGS-B", method=method, bounds=bounds,
                       options=options, callback=callback)


def _stepped(problem, name, x0, maxiter, hp):
    oracle = Counting(problem)
    opt = optimizers.make(name, **hp)
    opt.start(oracle, x0)
    iterates = []
    while not opt.converged and opt.nit < maxiter:
        iterates.append(opt.step())
    opt.close()
    return opt, oracle.calls, iterates


CASES = {
    "ackley-2d": (lambda: make("ackley", dim=2, x0=[25, 20]), 15_000),
    "autoencoder": (lambda: make("autoencoder", hidden=25), 30),
    "bounded": (BoundedRosenbrock, 15_000),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name, method, hp", [
    ("lbfgsb", "L-BFGS-B", {}),
    ("lbfgsb", "L-BFGS-B", {"maxcor": 3, "gtol": 1e-8, "ftol": 1e-12, "maxls": 10}),
    ("nelder-mead", "Nelder-Mead", {}),
    ("nelder-mead", "Nelder-Mead", {"adaptive": True, "xatol": 1e-8, "fatol": 1e-10}),
])
def test_parity_with_scipy(case, name, method, hp):
    build, maxiter = CASES[case]
    problem = build()
    if case == "autoencoder" and name == "nelder-mead":
        problem = make("autoencoder", hidden=25, samples=100)  # 3,290 simplex points: keep f cheap
    x0 = problem.initial_point(np.random.default_rng(7))
    calls = [0]
    ref = _scipy(problem, method, x0, {"maxiter": maxiter, **hp}, calls)
    opt, n_calls, iterates = _stepped(problem, name, x0, maxiter, hp)
    assert opt.nit == ref.nit
    assert n_calls == ref.nfev == calls[0]
    np.testing.assert_array_equal(iterates[-1], ref.x)  # bit for bit, not merely close
    if ref.status == 0:  # scipy's own test stopped it: so must ours, with scipy's words
        assert opt.converged and opt.message == ref.message
    if case == "bounded":
        low, high = problem.bounds
        assert all(((low <= x) & (x <= high)).all() for x in iterates)
        assert np.isclose(iterates[-1][0], 0.5, atol=1e-3)  # the bound x ≤ 0.5 binds


ITERATE_CASES = {
    "ackley-2d": lambda: make("ackley", dim=2, x0=[25, 20]),
    "ackley-3d": lambda: make("ackley", dim=3),  # in 2-D adaptive Nelder-Mead is the plain one
    "bounded": BoundedRosenbrock,
}


@pytest.mark.parametrize("case", list(ITERATE_CASES))
@pytest.mark.parametrize("name, method, hp", [
    ("lbfgsb", "L-BFGS-B", {}),
    ("lbfgsb", "L-BFGS-B", {"maxcor": 3, "gtol": 1e-8, "ftol": 1e-12, "maxls": 10}),
    ("nelder-mead", "Nelder-Mead", {}),
    ("nelder-mead", "Nelder-Mead", {"adaptive": True}),
])
def test_every_iterate_matches_scipy_callback(case, name, method, hp):
    problem = ITERATE_CASES[case]()
    x0 = problem.initial_point(np.random.default_rng(7))
    seen, calls = [], [0]
    ref = _scipy(problem, method, x0, hp, calls,
                 callback=lambda intermediate_result: seen.append(intermediate_result.x.copy()))
    assert ref.status == 0 and seen
    oracle, opt = Counting(problem), optimizers.make(name, **hp)
    opt.start(oracle, x0)
    iterates = []  # one per iteration, as scipy calls back; the step that only stops adds none
    while not opt.converged:
        nit, x = opt.nit, opt.step()
        if opt.nit > nit:
            iterates.append(x)
        else:
            final = x
    assert len(iterates) == len(seen)
    np.testing.assert_array_equal(np.array(iterates), np.array(seen))  # bit for bit
    np.testing.assert_array_equal(final, ref.x)
    assert opt.nit == ref.nit and oracle.calls == ref.nfev == calls[0]
    assert opt.message == ref.message
    if case == "bounded":
        assert seen[-1][0] == 0.5  # the bound x <= 0.5 binds (the minimizer (1, 1) is outside)



class Stairs(Problem):
    """Σ ⌊2|x_i|⌋ + slope·Σ x_i², from a start drawn in a box, bounded by it if ``bounded``.

    Flat treads between kinks, where Nelder-Mead shrinks; with ``slope = 0`` the simplex holds
    ties, which scipy orders by its argsort, unstable on ties.
    """

    name = "stairs"

    def __init__(self, dim, slope=0.0, box=(-2.0, 2.0), bounded=False):
        self.dim, self.slope, self.box = dim, slope, box
        if bounded:
            self.bounds = tuple(np.full(dim, b) for b in box)

    def initial_point(self, rng):
        return rng.uniform(*self.box, self.dim)

    def value(self, x):
        return float(np.sum(np.floor(2 * np.abs(x))) + self.slope * np.sum(x * x))


class NaNBeyond(Stairs):
    """Stairs, but NaN where Σ x_i > 30, as at the start: NaN sorts last and stays a while."""

    def initial_point(self, rng):
        x0 = super().initial_point(rng)
        x0[:20] = 1.9
        return x0

    def value(self, x):
        return np.nan if np.sum(x) > 30 else super().value(x)


HIGH_DIM = {  # case: (problem, maxiter); None: until scipy's own test stops the run
    "ackley-50": (lambda: make("ackley", dim=50), 1000),
    "ackley-200": (lambda: make("ackley", dim=200), 500),
    # the start has coordinates above 2 / 1.05: scipy reflects those simplex points inside
    "stairs-50-bounded": (lambda: Stairs(50, 1e-3, box=(0.25, 2.0), bounded=True), 3000),
    "stairs-200": (lambda: Stairs(200, 1e-3), 800),
    "nan-50": (lambda: NaNBeyond(50, 1e-3), 500),
    "plateaus-50": (lambda: Stairs(50), None),
    "plateaus-200": (lambda: Stairs(200), None),
}


@pytest.mark.parametrize("case, adaptive", [
    *((case, adaptive) for case in HIGH_DIM for adaptive in (False, True)
      if (case, adaptive) != ("plateaus-200", True)),  # 1,378 shrinks of 200 points: too slow
])
def test_nelder_mead_in_high_dimension_keeps_scipy_bits_through_shrinks_and_ties(case, adaptive):
    build, maxiter = HIGH_DIM[case]
    problem = build()
    x0 = problem.initial_point(np.random.default_rng(7))
    hp = {"adaptive": adaptive}
    seen, calls = [], [0]
    ref = _scipy(problem, "Nelder-Mead", x0, {**hp, "maxiter": maxiter or 10**6}, calls,
                 callback=lambda intermediate_result: seen.append(intermediate_result.x.copy()))
    oracle, opt = Counting(problem), optimizers.make("nelder-mead", **hp)
    opt.start(oracle, x0)
    iterates, shrinks, ties, nans = [], 0, 0, 0
    while not opt.converged and opt.nit < (maxiter or np.inf):
        nit, nfev, x = opt.nit, oracle.calls, opt.step()
        iterates += [x] if opt.nit > nit else []
        shrinks += oracle.calls - nfev > 2  # reflect, contract, then n points
        ties += bool(np.any(opt.fsim[1:] == opt.fsim[:-1]))
        nans += bool(np.isnan(opt.fsim).any())
    np.testing.assert_array_equal(np.array(iterates), np.array(seen))  # bit for bit
    np.testing.assert_array_equal(x, ref.x)
    np.testing.assert_array_equal(opt.sim, ref.final_simplex[0])  # every vertex, in rank order
    np.testing.assert_array_equal(opt.fsim, ref.final_simplex[1])
    assert opt.nit == ref.nit and oracle.calls == ref.nfev == calls[0]
    assert opt.converged == (ref.status == 0) == (maxiter is None)
    assert shrinks  # every case goes through shrinks, some through ties or NaNs as well
    assert bool(ties) == case.startswith("plateaus") and bool(nans) == case.startswith("nan")
    if problem.bounds is not None:
        low, high = problem.bounds
        assert all(((low <= x) & (x <= high)).all() for x in iterates)
        assert (iterates[-1] == low).any()  # the bound x >= 0.25 binds (the minimizer is 0)


class Walls(Problem):
    """Σ x_i², but +∞ where x_0 > 1 (a wall) and −∞ where x_0 < −3 (a pit), from x_0 = start."""

    name = "walls"

    def __init__(self, start, dim=6):
        self.start, self.dim = start, dim

    def initial_point(self, rng):
        return np.concatenate([[self.start], rng.uniform(-1, 1, self.dim - 1)])

    def value(self, x):
        return np.inf if x[0] > 1 else -np.inf if x[0] < -3 else float(np.sum(x * x))


# 0.98: a vertex starts behind the wall, then the run converges; -2.9: one starts in the pit,
# f_0 stays −∞ (so |f_0 − f_i| is ∞ or NaN, never <= fatol) and the run ends at maxiter
@pytest.mark.parametrize("start, maxiter", [(0.98, None), (-2.9, 400)])
@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # −∞ − (−∞), as in scipy
def test_nelder_mead_keeps_scipy_bits_among_infinite_values(start, maxiter, adaptive):
    problem = Walls(start)
    x0 = problem.initial_point(np.random.default_rng(7))
    seen, calls = [], [0]
    ref = _scipy(problem, "Nelder-Mead", x0, {"adaptive": adaptive, "maxiter": maxiter or 10**4},
                 calls, callback=lambda intermediate_result: seen.append(
                     intermediate_result.x.copy()))
    oracle, opt = Counting(problem), optimizers.make("nelder-mead", adaptive=adaptive)
    opt.start(oracle, x0)
    iterates, infinite = [], {value: bool(np.any(opt.fsim == value)) for value in (np.inf, -np.inf)}
    while not opt.converged and opt.nit < (maxiter or np.inf):
        nit, x = opt.nit, opt.step()
        iterates += [x] if opt.nit > nit else []
        for value in infinite:
            infinite[value] |= bool(np.any(opt.fsim == value))
    np.testing.assert_array_equal(np.array(iterates), np.array(seen))  # bit for bit
    np.testing.assert_array_equal(opt.sim, ref.final_simplex[0])
    np.testing.assert_array_equal(opt.fsim, ref.final_simplex[1])
    assert opt.nit == ref.nit and oracle.calls == ref.nfev == calls[0]
    assert opt.converged == (ref.status == 0) == (maxiter is None)
    assert infinite == {np.inf: start > 0, -np.inf: start < 0}


def test_lbfgsb_abnormal_termination_names_the_likely_causes():
    # The L-BFGS-B thread: a closure that evaluates a captured theta, not the x it is given.
    problem = make("autoencoder", hidden=5, samples=20)
    theta = problem.initial_point(np.random.default_rng(0))

    class IgnoresX:
        bounds = None

        def value_and_grad(self, x):
            return problem.value_and_grad(theta)

    opt = optimizers.make("lbfgsb")
    opt.start(IgnoresX(), theta + 0.1)
    for _ in range(50):
        opt.step()
        if opt.converged:
            break
    assert opt.converged
    # scipy >= 1.15 stops the same run with just "ABNORMAL: "; we keep that word and say why
    ref = so.minimize(IgnoresX().value_and_grad, theta + 0.1, jac=True, method="L-BFGS-B")
    assert ref.message == "ABNORMAL: "
    assert opt.message == (
        "ABNORMAL: the line search failed (scipy's ABNORMAL_TERMINATION_IN_LNSRCH); this usually "
        "means the gradient does not match the value (check it with 'optbench check PROBLEM') "
        "or the objective ignores its argument x (a closure over a captured variable)"
    )


@pytest.mark.parametrize("name", sorted(optimizers.registry))
def test_stopping_early_leaves_nothing_running(name):
    threads, children = threading.active_count(), len(multiprocessing.active_children())
    problem = make("ackley", dim=4)
    hp = {"lr": 0.01} if name in ("nag", "adam", "adagrad") else {}
    opt = optimizers.make(name, **hp)
    opt.start(PlainOracle(problem), problem.initial_point(np.random.default_rng(0)))
    for _ in range(3):
        opt.step()
    assert threading.active_count() == threads  # nothing started on the side, even mid-run
    opt.close()
    assert threading.active_count() == threads
    assert len(multiprocessing.active_children()) == children


@pytest.mark.parametrize("name", ["nag", "adam", "adagrad", "lbfgsb", "nelder-mead"])
def test_step_before_start_says_what_to_do(name):
    with pytest.raises(AttributeError, match=rf"^{name}: no '\w+' yet: call start\(oracle, x0\) "
                                             r"before step\(\)$"):
        optimizers.make(name).step()
