"""Compare a problem's gradient with central differences, coordinate by coordinate and along
random directions (after scipy's ``check_grad``).

The error of one block (a named slice of x, e.g. the autoencoder's W1) at one point is

    ‖g_B − d_B‖ / max(‖g_B‖, ‖d_B‖, noise·sqrt(n_B))

over the checked coordinates, with g the analytic gradient, d the central differences and
``noise`` the differences' own resolution, ~1.5·eps^(4/5)·max(1, |f|): a gradient smaller than what
differences can resolve cannot be told wrong. Large problems are checked on a random sample of
coordinates per block plus random directions, where one directional difference tests every
coordinate at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from problems.base import Problem

_EPS = np.finfo(float).eps
# Five-point differences, error O(h⁴): with h = eps^(1/5) rounding and truncation balance near
# eps^(4/5) ≈ 3e-13, so gradients of 1e-4 relative to f (an LSTM at its start) still resolve to
# 1e-8, where the plain central difference of the FD fallback would stall near 1e-6.
_STEP = _EPS ** (1 / 5)
_NOISE = 1.5 * _EPS ** (4 / 5)  # (1 + 8 + 8 + 1)/12 · eps/h, relative to max(1, |f|)


def five_point(value, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """∂f/∂x_i for i in idx by (−f(x+2h) + 8f(x+h) − 8f(x−h) + f(x−2h)) / 12h.

    h is absolute, not scaled by |x_i|: a step of 0.02 at x_i = 30 would blur Ackley's ripples
    (period 1), while the rounding of x_i + h costs only |x_i|·eps/h ≈ 1e-11 relative there.
    """
    d = np.empty(idx.size)
    for n, i in enumerate(idx):
        d[n] = _stencil(value, x, np.eye(1, x.size, i)[0], _STEP)
    return d


def _stencil(value, x: np.ndarray, u: np.ndarray, h: float) -> float:
    f = [value(x + k * h * u) for k in (2, 1, -1, -2)]
    return (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h)


@dataclass(frozen=True)
class Worst:
    """The coordinate where analytic and differenced gradients differ most."""

    point: int
    block: str
    index: int  # within the block
    analytic: float
    differenced: float


@dataclass
class GradCheck:
    problem: str
    dim: int
    gradient: str
    tol: float
    points: int = 0
    block_error: dict[str, float] = field(default_factory=dict)  # worst over points
    block_coords: dict[str, tuple[int, int]] = field(default_factory=dict)  # checked, total
    direction_error: float = 0.0
    worst: Worst | None = None
    nonfinite: str = ""  # where a NaN or inf appeared, if anywhere
    broken: str = ""  # how the problem breaks the contract (shapes, types), if it does
    mismatch: str = ""  # where value and value_and_grad give different values, if anywhere

    @property
    def error(self) -> float:
        return max([*self.block_error.values(), self.direction_error])

    @property
    def passed(self) -> bool:
        return not (self.nonfinite or self.broken or self.mismatch) and self.error <= self.tol

    def lines(self) -> list[str]:
        out = [
            f"{self.problem} (dim {self.dim}), {self.gradient} gradient, {self.points} points, "
            f"five-point differences with h = {_STEP:.1e}"
        ]
        if self.gradient == "finite-difference":
            out.append("it defines no gradient: optbench differences value(x); nothing to check")
            return out
        if self.broken or self.nonfinite:
            out.append(f"FAIL: {self.broken or self.nonfinite}")
            return out
        width = max(len(b) for b in self.block_error)
        for block, err in self.block_error.items():
            checked, total = self.block_coords[block]
            out.append(f"  {block:<{width}}  {checked:>6}/{total:<6} coords  rel. error {err:.1e}")
        out.append(f"  {'random directions':<{width}}  rel. error {self.direction_error:.1e}")
        if self.worst:
            w = self.worst
            out.append(
                f"worst coordinate: {w.block}[{w.index}] at point {w.point}: "
                f"analytic {w.analytic:.10g}, differences {w.differenced:.10g}"
            )
        if self.mismatch:
            out.append(f"value and value_and_grad disagree: {self.mismatch}")
        verdict = "PASS" if self.passed else "FAIL"
        sign = "<=" if self.passed else ">"
        out.append(f"{verdict}: worst relative error {self.error:.1e} {sign} tol {self.tol:.0e}")
        return out


def _contract(problem: Problem, x: np.ndarray, f, g) -> str:
    """What is wrong with the types and shapes a problem returns at x, or ''."""
    n = problem.dim
    if np.shape(x) != (n,):
        return f"initial_point returned shape {np.shape(x)}, expected ({n},)"
    v = problem.value(x)
    for method, out in (("value_and_grad", f), ("value", v)):
        if np.ndim(out) != 0 or not np.isrealobj(out) or isinstance(out, bool | str):
            return f"{method} returned a value of type {type(out).__name__}, expected a float"
    if np.shape(g) != (n,):
        return f"the gradient has shape {np.shape(g)}, expected ({n},) (the shape of x)"
    return ""


def _disagreement(problem: Problem, x: np.ndarray, f: float, k: int) -> str:
    """value(x) and value_and_grad(x) must be one function; say where they are not."""
    v = float(problem.value(x))
    if v == f or abs(v - f) <= 1e-12 * max(1.0, abs(f)) or (v != v and f != f):
        return ""
    return f"value(x) = {v!r} but value_and_grad(x) gives {f!r} at point {k}"


def _ratio(diff: float, a: float, b: float, floor: float) -> float:
    return diff / max(a, b, floor) if diff > 0 else 0.0


def check_gradient(
    problem: Problem,
    points: int = 3,
    seed: int = 0,
    tol: float = 1e-6,
    max_coords: int = 64,
    directions: int = 2,
    label: str | None = None,
) -> GradCheck:
    """Check ``problem``'s gradient at its initial point and ``points`` perturbed random points.

    ``label`` names the problem in the result (default: its ``name``).
    """
    name = label or problem.name or type(problem).__name__
    result = GradCheck(name, problem.dim, problem.gradient, tol)
    if problem.gradient == "finite-difference":
        return result
    rng = np.random.default_rng(seed)
    xs = [problem.initial_point(np.random.default_rng(seed))]
    for _ in range(points):
        x = problem.initial_point(rng)
        xs.append(x + 0.1 * rng.standard_normal(x.shape) * np.maximum(1.0, np.abs(x)))
    result.points = len(xs)
    worst_diff = -1.0
    for k, x in enumerate(xs):
        try:
            f, g = problem.value_and_grad(x)
            result.broken = _contract(problem, x, f, g)
            if not (result.broken or result.mismatch):
                result.mismatch = _disagreement(problem, x, f, k)
        except Exception as e:  # the problem's own bug: report it as the check's finding
            result.broken = f"evaluating at point {k} raised {type(e).__name__}: {e}"
        if result.broken:
            return result
        if not math.isfinite(f) or not np.isfinite(g).all():
            part = "value" if not math.isfinite(f) else "gradient"
            result.nonfinite = f"non-finite {part} at point {k}"
            return result
        noise = _NOISE * max(1.0, abs(f))
        for block, sl in problem.blocks.items():
            idx = np.arange(sl.start, sl.stop)
            if idx.size > max_coords:
                idx = np.sort(rng.choice(idx, max_coords, replace=False))
            d = five_point(problem.value, x, idx)
            a = g[idx]
            err = _ratio(
                float(np.linalg.norm(a - d)), float(np.linalg.norm(a)), float(np.linalg.norm(d)),
                noise * math.sqrt(idx.size),
            )
            result.block_error[block] = max(result.block_error.get(block, 0.0), err)
            result.block_coords[block] = (idx.size, sl.stop - sl.start)
            j = int(np.argmax(np.abs(a - d)))
            if abs(a[j] - d[j]) > worst_diff:
                worst_diff = abs(a[j] - d[j])
                result.worst = Worst(k, block, int(idx[j] - sl.start), float(a[j]), float(d[j]))
        for _ in range(directions):
            u = rng.standard_normal(x.shape)
            u /= np.linalg.norm(u)
            dd = _stencil(problem.value, x, u, _STEP)
            gd = float(g @ u)
            err = _ratio(abs(gd - dd), abs(gd), abs(dd), noise)
            result.direction_error = max(result.direction_error, err)
    return result
