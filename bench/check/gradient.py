"""Compare a problem's gradient with five-point differences, coordinate by coordinate and along
random directions (the directions after scipy's ``check_grad(direction="random")``, which reports
the absolute error |g·v − D_v f| along a Gaussian v; here it is made relative, as below).

The error of one block (a named slice of x, e.g. the autoencoder's W1) at one point is

    ‖g_B − d_B‖ / max(‖g_B‖, ‖d_B‖),   or 0 when every |g_i − d_i| <= ν_i,

over the checked coordinates, with g the analytic gradient, d the differences and ν_i the
rounding floor of d_i: 6·eps·max(1, |f|)/h, the stencil's weights (1 + 8 + 8 + 1)/12 times an
error of 4 ulps of f per evaluation, over the step h. Disagreements that are all within their
floors are what the differences cannot resolve, so they count as agreement: a gradient that is
exactly zero (a parameter that cannot matter) is not failed for the noise of its differences.
Once one coordinate is beyond its floor the error is measured in full, noise included, so the
floor never shrinks an error that the differences do resolve.

Along a random unit direction u the error is |g·u − D_u f| / max(|g·u|, |D_u f|, ‖g‖/sqrt(n)),
or 0 within the floor ν. ‖g‖/sqrt(n) is the root-mean-square of g·u over random unit u, so the
ratio estimates the whole gradient's relative error ‖g − ∇f‖/‖g‖ whatever coordinates the error
sits in, and does not explode where g·u happens to be near 0 (dividing by ‖g‖ alone would be
sqrt(n) times less sensitive: 1/128 for the LSTM).

The step starts at h = eps^(1/5) (absolute, see ``five_point``). Where that first estimate
disagrees (the block's or direction's error exceeds tol), the entries beyond their floors are
redone, worst first, with h/4, h/16, ... down to h/4^10: each while the next step's floor is
below the disagreement left (a smaller step can still resolve it), until two successive
estimates agree within their floors (converged: a smaller step would only add rounding). The
last estimate counts, in full: a floor excuses only the first step's disagreements, so
refining never makes the check more lenient. A block is refined no further once one converged
coordinate disagrees by more than 1% of max(‖g_B‖, ‖d_B‖) (or tol, if larger) on its own: it
fails whatever the rest give, and their first-step truncation barely moves its error. Smooth
functions curved on a scale near h (Ackley close to its kink, a safe norm near zero) so pass,
while a wrong gradient stays wrong at every step: a gross error costs about one extra step per
failing block, a subtle one an extra step per disagreeing coordinate.

Large problems are checked on a random sample of coordinates per block plus random directions,
where one directional difference tests every coordinate at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from optbench.bench.check.value import SMOOTH_TOL, ValueCheck, check_values
from optbench.bench.errors import describe
from optbench.problems.base import Problem

_EPS = np.finfo(float).eps
# Five-point differences, error O(h⁴): with h = eps^(1/5) rounding and truncation balance near
# eps^(4/5) ≈ 3e-13, so gradients of 1e-4 relative to f (an LSTM at its start) still resolve to
# 1e-8, where the plain central difference of the FD fallback would stall near 1e-6.
_STEP = _EPS ** (1 / 5)
# Rounding floor of one five-point difference, _NOISE·max(1, |f|)/h: the stencil's weights
# (1 + 8 + 8 + 1)/12 times 4 ulps of f per evaluation (a long sum rounds to a few ulps; on the
# built-in problems the differences' noise reaches about half of this at small steps).
_NOISE = 1.5 * 4 * _EPS
_SHRINK = 4  # each refinement divides the step by 4: the truncation error by 256
_REFINEMENTS = 10  # down to h/4^10 ≈ 7e-10: the stencil clears a kink 1e-7 away from x
_GROSS = 1e-2  # a converged disagreement this large (relative to its block) ends its refinement


def _check_value_only(problem, xs, rng, result: GradientCheck) -> GradientCheck:
    try:
        result.broken = _contract(problem, xs[0], problem.value(xs[0]), xs[0])
        if not result.broken:
            result.values = check_values(problem.value, xs, rng, _stencil, _STEP, _NOISE)
    except Exception as e:  # the problem's own bug: report it as the check's finding
        result.broken = f"evaluating it raised {describe(e)}"
    if result.broken:
        result.values = ValueCheck()
    return result


def five_point(value, x: np.ndarray, idx: np.ndarray, h: float = _STEP,
               bar=None) -> np.ndarray:
    """∂f/∂x_i for i in idx by (8 (f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / 12h.

    h is absolute, not scaled by |x_i|: a step of 0.02 at x_i = 30 would blur Ackley's ripples
    (period 1), while the rounding of x_i + h costs only |x_i|·eps/h ≈ 1e-11 relative there.
    """
    d = np.empty(len(idx))
    for n, i in enumerate(idx):
        d[n] = _stencil(value, x, _unit(x.size, i), h)
        if bar is not None:
            bar.update()
    return d


def _unit(n: int, i: int) -> np.ndarray:
    return np.eye(1, n, i)[0]


def _stencil(value, x: np.ndarray, u: np.ndarray, h: float) -> float:
    # differences first: f(x+h) − f(x−h) is exact when the two are close (Sterbenz), so a
    # function that does not change gives exactly 0, not the rounding of 8f − 8f
    f2, f1, m1, m2 = (float(value(x + k * h * u)) for k in (2, 1, -1, -2))
    return (8.0 * (f1 - m1) - (f2 - m2)) / (12.0 * h)


def _ladder(value, x: np.ndarray, u: np.ndarray, a: float, d: float,
            floor: float) -> tuple[float, float, bool]:
    """Redo the estimate d of a (floor ``floor`` at step _STEP) with smaller steps, as the module
    docstring says. Returns the last estimate, its step, and whether it converged."""
    h = _STEP
    for _ in range(_REFINEMENTS):
        if floor * _STEP / (h / _SHRINK) >= abs(a - d):
            break  # the next step could not resolve what is left
        h /= _SHRINK
        new = _stencil(value, x, u, h)
        converged = abs(new - d) <= floor * _STEP / h * (1 + 1 / _SHRINK)  # both floors
        d = new
        if converged:
            return d, h, True
    return d, h, False


def _block_error(a: np.ndarray, d: np.ndarray, nu: np.ndarray) -> float:
    miss = np.abs(a - d)
    if (miss <= nu).all():
        return 0.0
    return float(np.linalg.norm(miss)) / max(float(np.linalg.norm(a)), float(np.linalg.norm(d)))


def _direction_error(gd: float, dd: float, nu: float, rms: float) -> float:
    miss = abs(gd - dd)
    if miss <= nu:
        return 0.0
    return miss / max(abs(gd), abs(dd), rms)


@dataclass(frozen=True)
class Worst:
    """Where analytic and differenced gradients differ most, in the block (and point) with the
    largest error: so a FAIL names a coordinate of the failing block."""

    point: int
    block: str
    index: int  # within the block
    analytic: float
    differenced: float


@dataclass
class GradientCheck:
    """What a gradient check found: ``passed``, the worst relative ``error``, per block
    ``table`` (a DataFrame), the CLI's text as ``str()``, and an HTML view in notebooks."""

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
    finest_step: float = _STEP  # the smallest step any refined estimate used
    values: ValueCheck | None = None  # for a value-only problem: what could be checked

    @property
    def error(self) -> float:
        return max([*self.block_error.values(), self.direction_error])

    @property
    def passed(self) -> bool:
        if self.values is not None:
            return not (self.values.failure or self.broken or self.nonfinite)
        return not (self.nonfinite or self.broken or self.mismatch) and self.error <= self.tol

    @property
    def table(self):
        """One row per block (and one for the random directions): coordinates checked of the
        block's total, and the worst relative error over the points."""
        import pandas as pd

        rows = [{"block": b, "checked": self.block_coords[b][0], "coords": self.block_coords[b][1],
                 "error": e, "passed": e <= self.tol} for b, e in self.block_error.items()]
        if self.block_error:
            rows.append({"block": "random directions", "checked": None, "coords": None,
                         "error": self.direction_error,
                         "passed": self.direction_error <= self.tol})
        return pd.DataFrame(rows, columns=["block", "checked", "coords", "error", "passed"])

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __bool__(self) -> bool:
        return self.passed

    def _repr_html_(self) -> str:
        import html

        colour = "#1b7837" if self.passed else "#b2182b"
        lines = self.lines()
        body = "\n".join(html.escape(line) for line in lines[:-1])
        return (f"<pre>{body}\n<b style='color:{colour}'>{html.escape(lines[-1])}</b></pre>")

    def _value_lines(self, out: list[str]) -> list[str]:
        out[0] = (f"{self.problem} (dim {self.dim}), no gradient: optbench differences value(x) "
                  f"(2·dim evaluations per gradient), {self.points} points")
        if self.broken or self.nonfinite:
            out.append(f"FAIL: {self.broken or self.nonfinite}")
            return out
        out += self.values.lines(_STEP)
        if self.values.failure:
            out.append(f"FAIL: {self.values.failure}")
        else:
            out.append("PASS: value(x) reads x and gives the same value for the same x"
                       + (" (but see the note on smoothness above)"
                          if self.values.rough > SMOOTH_TOL else ""))
        return out

    def lines(self) -> list[str]:
        out = [
            f"{self.problem} (dim {self.dim}), {self.gradient} gradient, {self.points} points, "
            f"five-point differences with h = {_STEP:.1e}"
            + (f", down to {self.finest_step:.1e} where that disagreed"
               if self.finest_step < _STEP else "")
        ]
        if self.values is not None:
            return self._value_lines(out)
        if self.broken or self.nonfinite:
            out.append(f"FAIL: {self.broken or self.nonfinite}")
            return out
        width = max(len(b) for b in self.block_error)
        for block, err in self.block_error.items():
            checked, total = self.block_coords[block]
            out.append(f"  {block:<{width}}  {checked:>6}/{total:<6} coords  {_shown(err)}")
        out.append(f"  {'random directions':<{width}}  {_shown(self.direction_error)}")
        if self.worst:
            w = self.worst
            out.append(
                f"worst coordinate: {w.block}[{w.index}] at point {w.point}: "
                f"analytic {w.analytic:.10g}, differences {w.differenced:.10g}"
            )
        sampled = any(checked < total for checked, total in self.block_coords.values())
        if sampled and self.direction_error > self.tol >= max(self.block_error.values()):
            out.append("the sampled coordinates agree but the random directions do not: the "
                       "error sits in coordinates outside the sample; check every coordinate "
                       "(--coords all, or coords='all') to find it")
        if self.mismatch:
            out.append(f"value and value_and_grad disagree: {self.mismatch}")
        verdict = "PASS" if self.passed else "FAIL"
        sign = "<=" if self.passed else ">"
        if self.passed and self.error == 0:
            out.append(f"PASS: every difference agrees with the gradient to rounding "
                       f"(tol {self.tol:.0e})")
        else:
            out.append(f"{verdict}: worst relative error {self.error:.1e} {sign} "
                       f"tol {self.tol:.0e}")
        return out


def _shown(err: float) -> str:
    # 0 means every difference sat within the stencil's rounding floor: say so, not "0.0e+00"
    return "rel. error 0 (agrees to rounding)" if err == 0 else f"rel. error {err:.1e}"


def _contract(problem: Problem, x: np.ndarray, f, g) -> str:
    """What is wrong with the types and shapes a problem returns at x, or ''."""
    n = problem.dim
    if np.shape(x) != (n,):
        return f"initial_point returned shape {np.shape(x)}, expected ({n},)"
    v = problem.value(x)
    # value first: it may be all the problem defines (the base builds value_and_grad on it)
    for method, out in (("value", v), ("value_and_grad", f)):
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


def check_gradient(
    problem: Problem,
    points: int = 3,
    seed: int = 0,
    tol: float = 1e-6,
    max_coords: int = 64,
    directions: int = 2,
    label: str | None = None,
    progress: bool = False,
) -> GradientCheck:
    """Check ``problem``'s gradient at its initial point and ``points`` perturbed random points.

    ``label`` names the problem in the result (default: its ``name``); ``progress`` shows a
    bar on stderr when more than PROGRESS_FROM coordinates are to be differenced.
    """
    name = label or problem.name or type(problem).__name__
    result = GradientCheck(name, problem.dim, problem.gradient, tol)
    rng = np.random.default_rng(seed)
    xs = [problem.initial_point(np.random.default_rng(seed))]
    for _ in range(points):
        x = problem.initial_point(rng)
        xs.append(x + 0.1 * rng.standard_normal(x.shape) * np.maximum(1.0, np.abs(x)))
    result.points = len(xs)
    if problem.gradient == "finite-difference":
        return _check_value_only(problem, xs, rng, result)
    with _progress(problem, len(xs), max_coords, progress) as bar:
        _check_points(problem, xs, rng, result, tol, max_coords, directions, bar)
    return result


PROGRESS_FROM = 2000  # coordinates to difference before a progress bar is worth showing


def _progress(problem, points: int, max_coords: float, show: bool):
    import contextlib

    total = points * sum(min(sl.stop - sl.start, max_coords) for sl in problem.blocks.values())
    if not show or total < PROGRESS_FROM:
        return contextlib.nullcontext()
    from tqdm import tqdm

    return tqdm(total=int(total), unit="coord", desc="differences", leave=False)


def _check_points(problem, xs, rng, result: GradientCheck, tol: float, max_coords: float,
                  directions: int, bar) -> None:
    worst_key = (-1.0, -1.0)  # (block error, |g_j − d_j|) of result.worst
    for k, x in enumerate(xs):
        try:
            f, g = problem.value_and_grad(x)
            result.broken = _contract(problem, x, f, g)
            if not (result.broken or result.mismatch):
                result.mismatch = _disagreement(problem, x, f, k)
        except Exception as e:  # the problem's own bug: report it as the check's finding
            result.broken = f"evaluating at point {k} raised {describe(e)}"
        if result.broken:
            return
        if not math.isfinite(f) or not np.isfinite(g).all():
            part = "value" if not math.isfinite(f) else "gradient"
            result.nonfinite = f"non-finite {part} at point {k}"
            return
        floor = _NOISE * max(1.0, abs(f)) / _STEP
        for block, sl in problem.blocks.items():
            idx = np.arange(sl.start, sl.stop)
            if idx.size > max_coords:
                idx = np.sort(rng.choice(idx, max_coords, replace=False))
            d = five_point(problem.value, x, idx, bar=bar)
            a = g[idx]
            nu = np.full(idx.size, floor)
            err = _block_error(a, d, nu)
            if err > tol:  # worst first; a block proven grossly wrong is not refined further
                scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(d)))
                for n in np.argsort(-np.abs(a - d)):
                    if abs(a[n] - d[n]) <= floor:
                        break  # and so do the rest
                    d[n], step, converged = _ladder(
                        problem.value, x, _unit(problem.dim, idx[n]), a[n], d[n], floor)
                    if step < _STEP:  # a refined estimate counts in full: no floor excuses it
                        nu[n] = 0.0
                        result.finest_step = min(result.finest_step, step)
                    if converged and abs(a[n] - d[n]) > max(tol, _GROSS) * scale:
                        break
                err = _block_error(a, d, nu)
            result.block_error[block] = max(result.block_error.get(block, 0.0), err)
            result.block_coords[block] = (idx.size, sl.stop - sl.start)
            j = int(np.argmax(np.abs(a - d) - nu))  # the one furthest beyond its floor
            if err > tol and (err, abs(a[j] - d[j])) > worst_key:  # name only a disagreement
                worst_key = (err, abs(a[j] - d[j]))
                result.worst = Worst(k, block, int(idx[j] - sl.start), float(a[j]), float(d[j]))
        rms = float(np.linalg.norm(g)) / math.sqrt(g.size)  # of g·u over random unit u
        for _ in range(directions):
            u = rng.standard_normal(x.shape)
            u /= np.linalg.norm(u)
            gd = float(g @ u)
            dd = _stencil(problem.value, x, u, _STEP)
            err = _direction_error(gd, dd, floor, rms)
            if err > tol:
                dd, step, _ = _ladder(problem.value, x, u, gd, dd, floor)
                if step < _STEP:
                    result.finest_step = min(result.finest_step, step)
                    err = _direction_error(gd, dd, 0.0, rms)
            result.direction_error = max(result.direction_error, err)
