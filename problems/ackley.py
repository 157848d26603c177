"""Ackley's function, n-dimensional.

    f(x) = -a exp(-b sqrt(mean(x_i^2))) - exp(mean(cos(c x_i))) + a + e

with a = 20, b = 0.2, c = 2π; minimum f(0) = 0. Domain [-32.768, 32.768]^n.

Reference: D. H. Ackley, *A connectionist machine for genetic hillclimbing*, Kluwer, 1987;
the n-dimensional form as in Jamil & Yang, "A literature survey of benchmark functions for
global optimisation problems", 2013 (function 1).

Gradient, with r = sqrt(mean(x^2)) and s = mean(cos(c x)):

    df/dx_i = a b exp(-b r) x_i / (n r) + c exp(s) sin(c x_i) / n

The first term is a x/|x| kink at the origin (r = 0): its limit along any ray has norm
a b / sqrt(n), so f is not differentiable there. We return 0 for that term at r = 0, the
minimum-norm subgradient, which keeps the gradient finite and makes the origin stationary.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Problem, check_number

DOMAIN = 32.768


class Ackley(Problem):
    name = "ackley"
    list_params = {"x0": 1}  # one point
    param_docs = {
        "dim": "dimension n >= 1",
        "x0": "fixed start (list of n numbers); default: uniform in the domain from the seed",
        "a": "depth of the outer well",
        "b": "decay of the outer well",
        "c": "frequency of the cosine ripples",
    }

    def __init__(
        self,
        dim: int = 2,
        x0: list[float] | None = None,
        a: float = 20.0,
        b: float = 0.2,
        c: float = 2 * math.pi,
    ):
        self.dim = check_number(self.name, "dim", dim, low=1, integer=True)
        self.a = check_number(self.name, "a", a)
        self.b = check_number(self.name, "b", b, low=0, low_open=True)
        self.c = check_number(self.name, "c", c)
        self.x0 = None
        if x0 is not None:
            self.x0 = self._start_point(x0)
        self.bounds = None  # the domain only says where starts are drawn; runs are unbounded
        self.x_opt = np.zeros(self.dim)
        self.f_opt = 0.0

    def _start_point(self, x0) -> np.ndarray:
        try:
            x = np.asarray(x0, dtype=float)
        except (TypeError, ValueError):  # [1, 'a']
            x = None
        if x is None or x.shape != (self.dim,) or not np.isfinite(x).all():
            raise ValueError(
                f"ackley: parameter 'x0' must be a list of {self.dim} finite numbers, got {x0!r}"
            )
        return x

    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        if self.x0 is not None:
            return self.x0.copy()
        return rng.uniform(-DOMAIN, DOMAIN, self.dim)

    def value(self, x: np.ndarray) -> float:
        return self.value_and_grad(x, need_grad=False)[0]

    def value_and_grad(self, x: np.ndarray, need_grad: bool = True):
        # f = -a·expm1(-b r) - e·expm1(s - 1), with s - 1 = -2·mean(sin²(c x / 2)): the same
        # function written without cancellation, so f keeps full relative accuracy near 0.
        x = self.as_point(x)  # a list or float32 input would else fail or give float32 g
        a, b, c, n = self.a, self.b, self.c, self.dim
        r = math.sqrt(float(x @ x) / n)
        half = (0.5 * c) * x
        sin_half = np.sin(half)
        s_minus_1 = -2.0 * float(sin_half @ sin_half) / n
        f = -a * math.expm1(-b * r) - math.e * math.expm1(s_minus_1)
        if not need_grad:
            return f, None
        g = np.cos(half)
        g *= sin_half  # sin(c x) / 2
        g *= 2.0 * c * math.exp(s_minus_1 + 1.0) / n
        if r > 0.0:
            g += (a * b * math.exp(-b * r) / (n * r)) * x
        return f, g

    def values(self, points: np.ndarray) -> np.ndarray:
        """f at each row of ``points`` (m×n), the same formula vectorised (for landscape maps)."""
        X = np.asarray(points, dtype=float)
        n = self.dim
        r = np.sqrt(np.einsum("ij,ij->i", X, X) / n)
        sin_half = np.sin((0.5 * self.c) * X)
        s_minus_1 = -2.0 * np.einsum("ij,ij->i", sin_half, sin_half) / n
        return -self.a * np.expm1(-self.b * r) - math.e * np.expm1(s_minus_1)

    def describe(self) -> str:
        return f"Ackley {self.dim}-D"
