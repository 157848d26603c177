import math

import numpy as np
import pytest
from helpers import central_diff, rel_err

from optbench import problems
from optbench.problems.ackley import Ackley


def test_value_at_origin_is_exactly_zero():
    for n in (1, 2, 7):
        assert Ackley(dim=n).value(np.zeros(n)) == 0.0


def test_values_at_hand_worked_points():
    p = Ackley(dim=2)
    # x = (1, 0): r = sqrt(1/2), cos(2π) = cos(0) = 1 so the cosine term is e^1 = e.
    expected = 20 * (1 - math.exp(-0.2 * math.sqrt(0.5)))
    assert p.value(np.array([1.0, 0.0])) == pytest.approx(expected, rel=1e-14)
    # x = (1/2, 1/2): r = 1/2, cos(π) = -1, the cosine term is e^-1.
    expected = 20 - 20 * math.exp(-0.1) + math.e - math.exp(-1)
    assert p.value(np.array([0.5, 0.5])) == pytest.approx(expected, rel=1e-14)
    # the seed's start (25, 20): integers, so every cosine is 1.
    r = math.sqrt((25**2 + 20**2) / 2)
    assert p.value(np.array([25.0, 20.0])) == pytest.approx(20 - 20 * math.exp(-0.2 * r), rel=1e-14)


def test_constants_are_parameters():
    p = Ackley(dim=1, a=10.0, b=0.5, c=math.pi)
    # x = 2: r = 2, cos(2π) = 1.
    assert p.value(np.array([2.0])) == pytest.approx(10 - 10 * math.exp(-1.0), rel=1e-14)


@pytest.mark.parametrize("scale", [30.0, 1.0, 1e-3, 1e-6])
def test_gradient_matches_central_differences(rng, scale):
    p = Ackley(dim=5)
    for _ in range(5):
        x = rng.uniform(-scale, scale, 5)
        h = min(1e-6, scale * 1e-3)
        assert rel_err(p.grad(x), central_diff(p.value, x, h)) < 1e-6


def test_gradient_at_origin_is_the_minimum_norm_subgradient():
    g = Ackley(dim=3).grad(np.zeros(3))
    assert np.array_equal(g, np.zeros(3))


def test_value_and_grad_agree_with_separate_calls(rng):
    p = Ackley(dim=4)
    x = rng.normal(size=4)
    f, g = p.value_and_grad(x)
    assert f == p.value(x) and np.array_equal(g, p.grad(x))


def test_x0_and_random_start(rng):
    p = problems.make("ackley", dim=2, x0=[25, 20])
    assert p.initial_point(rng).tolist() == [25.0, 20.0]
    q = problems.make("ackley", dim=3)
    a = q.initial_point(np.random.default_rng(1))
    b = q.initial_point(np.random.default_rng(1))
    assert np.array_equal(a, b) and np.all(np.abs(a) <= 32.768)


@pytest.mark.parametrize(
    "params, needle",
    [
        ({"dim": 0}, "'dim' must be an integer >= 1"),
        ({"dim": 2.5}, "'dim'"),
        ({"b": -1}, "'b' must be a number > 0"),
        ({"dim": 2, "x0": [1, 2, 3]}, "'x0' must be a list of 2"),
        ({"dim": 2, "x0": [1, "a"]}, "'x0' must be a list of 2 finite numbers, got \\[1, 'a'\\]"),
    ],
)
def test_bad_parameters(params, needle):
    with pytest.raises(ValueError, match=needle):
        problems.make("ackley", **params)


def test_lists_and_float32_are_cast_to_float64():
    p = Ackley(dim=2)
    # (1/2, 1/2) is exact in float32: r = 1/2, cos(π) = -1, as in the hand-worked values above
    expected = 20 - 20 * math.exp(-0.1) + math.e - math.exp(-1)
    for x in ([0.5, 0.5], (0.5, 0.5), np.array([0.5, 0.5], dtype=np.float32)):
        assert p.value(x) == pytest.approx(expected, rel=1e-14)
        f, g = p.value_and_grad(x)
        assert f == pytest.approx(expected, rel=1e-14)
        assert g.dtype == np.float64 and p.grad(x).dtype == np.float64
        # sin(π) vanishes, so only the outer well pulls: a b e^{-b r} x_i / (n r) = 2 e^{-0.1}
        assert g == pytest.approx(np.full(2, 2 * math.exp(-0.1)), rel=1e-12)
    x32 = np.array([0.3, -1.7], dtype=np.float32)
    assert p.grad(x32) == pytest.approx(central_diff(p.value, x32.astype(float)), rel=1e-7)


@pytest.mark.parametrize("x", [np.zeros(3), np.zeros(1), np.zeros((1, 2)), np.zeros((2, 1)), 1.0])
def test_wrong_shape_is_refused(x):
    p = Ackley(dim=2)
    for method in (p.value, p.grad, p.value_and_grad):
        with pytest.raises(ValueError, match=r"ackley: x must have shape \(2,\), got shape"):
            method(x)


def test_vectorised_values_equal_the_textbook_formula():
    """``values`` (the landscape's map, m points at once) against the module docstring's
    formula written plainly, point by point (cancellation near 0: absolute 1e-12 there)."""
    rng = np.random.default_rng(3)
    for n in (1, 2, 5):
        a, b, c = 15.0, 0.3, 2 * math.pi
        p = Ackley(dim=n, a=a, b=b)
        points = np.vstack([rng.uniform(-30, 30, (40, n)), np.zeros((1, n)),
                            1e-9 * np.ones((1, n))])
        expected = [-a * math.exp(-b * math.sqrt(sum(v * v for v in x) / n))
                    - math.exp(sum(math.cos(c * v) for v in x) / n) + a + math.e
                    for x in points]
        np.testing.assert_allclose(p.values(points), expected, rtol=1e-13, atol=1e-12)
