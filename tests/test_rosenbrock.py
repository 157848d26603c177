"""The Rosenbrock problem against scipy.optimize.rosen/rosen_der and hand-worked values."""

import numpy as np
import pytest
import scipy.optimize as so
from helpers import central_diff, rel_err

from optbench import problems
from optbench.problems.rosenbrock import Rosenbrock


@pytest.mark.parametrize("n", [2, 3, 10, 57])
def test_value_and_gradient_are_scipys(rng, n):
    p = problems.make("rosenbrock", dim=n)
    for _ in range(5):
        x = rng.uniform(-2, 2, n)
        f, g = p.value_and_grad(x)
        assert f == pytest.approx(so.rosen(x), rel=1e-14) and p.value(x) == f
        np.testing.assert_allclose(g, so.rosen_der(x), rtol=1e-13, atol=1e-12)


def test_hand_worked_values():
    p = Rosenbrock(dim=2)
    assert p.value(np.array([1.0, 1.0])) == 0.0 == p.f_opt
    assert p.value(np.array([0.0, 0.0])) == 1.0  # (1 − 0)²
    assert p.value(np.array([-1.2, 1.0])) == pytest.approx(24.2, rel=1e-14)  # 100·0.44² + 2.2²
    np.testing.assert_array_equal(p.value_and_grad(np.array([1.0, 1.0]))[1], [0.0, 0.0])


def test_b_is_a_parameter():
    p = Rosenbrock(dim=3, b=10.0)
    assert p.value(p.x_opt) == 0.0
    x = np.array([0.5, -1.0, 2.0])
    # b (x2 − x1²)² + (1 − x1)² + b (x3 − x2²)² + (1 − x2)²
    assert p.value(x) == pytest.approx(10 * 1.25**2 + 0.5**2 + 10 * 1.0**2 + 2.0**2, rel=1e-14)
    assert rel_err(p.value_and_grad(x)[1], central_diff(p.value, x)) < 1e-8


def test_start_is_x0_or_drawn_from_the_seed():
    assert list(Rosenbrock(dim=2, x0=[-1.2, 1]).initial_point(None)) == [-1.2, 1.0]
    a = Rosenbrock(dim=4).initial_point(np.random.default_rng(1))
    b = Rosenbrock(dim=4).initial_point(np.random.default_rng(1))
    assert np.array_equal(a, b) and (np.abs(a) <= 2).all()


@pytest.mark.parametrize("params, words", [
    ({"dim": 1}, "'dim' must be an integer >= 2"),
    ({"dim": 2, "x0": [1, 2, 3]}, "'x0' must be a list of 2 finite numbers"),
    ({"dim": 2, "x0": [1, "a"]}, "'x0' must be a list of 2 finite numbers"),
    ({"b": 0}, "'b' must be a number > 0"),
])
def test_bad_parameters_are_named(params, words):
    with pytest.raises(ValueError, match=words):
        problems.make("rosenbrock", **params)
