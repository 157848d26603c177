"""The trace: a run's rows on a log-spaced schedule, measured as cheaply as the run allows.

A row holds the iteration, the evaluation counts, the optimizer's time so far, f, best f, ‖∇f‖,
‖x − x*‖ (when x* is known) and, for a problem of dimension ≤ 2, x itself. f and ‖∇f‖ at the
recorded iterate come, in this order of preference:

1. from the run's own evaluation at that very point during the iteration that ended at it
   (L-BFGS-B's accepted point, Nelder-Mead's new best vertex on a value-only problem), or from
   the row before when the iterate has not moved (Nelder-Mead's best vertex often stays): free;
2. from the run's next evaluation when it is at that point (Adam, Adagrad and optax evaluate
   their iterate at the start of the next step; every method but one evaluates x0 first): the
   row waits for it, and is free;
3. otherwise from the oracle's ``monitor`` (one value and gradient, or one value on a value-only
   problem, whose ‖∇f‖ is then NaN: it is never differenced for the trace): counted in
   ``n_monitor``, not charged to the run, not timed. NAG's iterates (it evaluates only its
   look-ahead points) and Nelder-Mead's on a problem with a gradient pay this.

Numbers are the same either way: the problem is a deterministic function of x, compared bitwise.
A value-only problem's ‖∇f‖ comes from the run's own central differences where the run took
them at the iterate (case 1 or 2), else it is NaN.

The oracle calls ``before`` and ``after`` around an evaluation only while the recorder waits
for one (``oracle.keep_from`` ≤ the iteration): one integer comparison a call otherwise. A way
(1 or 2) that served none of a run's first three rows it was tried on is dropped for the rest of
the run (NAG's look-ahead never serves 2; Adam's iterates never serve 1), so that a cheap problem
does not pay more for the bookkeeping than for the monitor's evaluation.
"""

from __future__ import annotations

import functools
import math
from time import perf_counter

import numpy as np

from optbench.bench.results.records import INTEGER_TRACE_COLUMNS, TRACE_COLUMNS

EVERY_STEP_UNTIL = 20  # record each of the first iterations, then geometrically
RECORD_GROWTH = 1.1  # ~24 records per decade of iterations: 1e6 steps keep ~150 rows
F, BEST, GNORM, DIST, MONITOR = 6, 7, 8, 9, 4  # positions in a row (TRACE_COLUMNS' order)
NEVER = math.inf
TRIES = 3


class Recorder:
    """The trace of one run through ``oracle`` (see the module docstring)."""

    def __init__(self, problem, oracle, keep_x: bool = False):
        self.oracle = oracle
        self.x_opt = problem.x_opt
        self.x_cols = problem.dim if problem.dim <= 2 else 0
        self.rows: list[list] = []
        self.xs: list[np.ndarray] | None = [] if keep_x else None  # every recorded iterate
        self.next = 0
        self.best = math.inf
        self._best_then = math.inf  # the oracle's best f when the waiting row was taken
        self._wanted: np.ndarray | None = None  # the waiting row's iterate
        self._last: tuple | None = None  # (x, f, ‖g‖ or None) of the due iteration's last call
        self._lowest: tuple | None = None  # ... and of its lowest value
        self._previous: tuple | None = None  # (x, f, ‖g‖) of the row before
        # each way of having a row free (keeping the due iteration's evaluations, waiting for
        # the next one) is dropped for the rest of the run after TRIES rows it did not serve
        self._kept = self._waited = 0  # rows tried, or -1 once a row was served
        oracle.recorder = self
        oracle.keep_from = NEVER

    # -- the runner's side ---------------------------------------------------------------------
    def record(self, iteration: int, x: np.ndarray) -> None:
        o = self.oracle
        start = perf_counter()
        if self._wanted is not None:
            self._measure()
        x_opt = self.x_opt
        dist = float(np.linalg.norm(x - x_opt)) if x_opt is not None else math.nan
        self.rows.append([iteration, o.evaluations, o.n_fev, o.n_gev, o.monitor.n,
                          start - o.t0 - o.paused, math.nan, math.nan, math.nan, dist,
                          *x[: self.x_cols]])
        x = np.array(x, dtype=float)  # the optimizer may reuse its array
        if self.xs is not None:
            self.xs.append(x)
        self._best_then = o.best_f
        self.next = iteration + 1 if iteration < EVERY_STEP_UNTIL else max(
            iteration + 1, int(iteration * RECORD_GROWTH))
        if self._last is not None and self._kept >= 0:
            self._kept += 1
        seen = self._seen_at(x)
        self._last = self._lowest = None
        self._wanted = x
        if seen is not None:
            self._fill(*seen)
        elif self._waited < TRIES:  # wait for the run's next evaluation
            self._waited += self._waited >= 0
            o.keep_from = 0
        else:
            self._measure()
        o.paused += perf_counter() - start

    @property
    def last(self) -> tuple[float, float, float]:
        """f, ‖∇f‖ and ‖x − x*‖ of the last row (NaN where they cannot be had)."""
        self.resolve()
        row = self.rows[-1]
        return row[F], row[GNORM], row[DIST]

    def trace(self) -> dict[str, np.ndarray]:
        self.resolve()
        names = _names(self.x_cols)
        # one column a row of one array (counts below 2⁵³ go through float exactly)
        table = np.ascontiguousarray(
            np.array(self.rows, dtype=float).reshape(len(self.rows), len(names)).T)
        counts = table[:INTEGERS].astype(np.int64)
        return {name: counts[i] if i < INTEGERS else table[i] for i, name in enumerate(names)}

    # -- the oracle's side ---------------------------------------------------------------------
    def before(self, x: np.ndarray, gradient: bool) -> None:
        """The run is about to evaluate at x (a gradient too when ``gradient``)."""
        wanted = self._wanted
        if wanted is not None and not (
                (gradient or self.oracle.differences) and _same(x, wanted)):
            self.resolve()  # this call will not give the waiting row what it needs

    def after(self, x: np.ndarray, f: float, g: np.ndarray | None) -> None:
        """The run evaluated f (and g) at x; ``before`` was called with the same x."""
        gnorm = None if g is None else _norm(g)
        if self._wanted is not None:
            self._waited = -1
            self._fill(f, math.nan if gnorm is None else gnorm)
        if self._kept < TRIES and self.oracle.iteration >= self.next - 1:
            # the due iteration: its iterate may be x
            seen = (np.array(x, dtype=float), f, gnorm)
            self._last = seen
            if self._lowest is None or f < self._lowest[1]:
                self._lowest = seen

    def resolve(self) -> None:
        """Measure the waiting row, if any, through the monitor (its time not the run's)."""
        if self._wanted is not None:
            start = perf_counter()
            self._measure()
            self.oracle.paused += perf_counter() - start

    # -- inside --------------------------------------------------------------------------------
    def _measure(self) -> None:
        """f and ‖∇f‖ of the waiting row through the monitor (a value alone, ‖∇f‖ NaN, on a
        value-only problem)."""
        o = self.oracle
        try:
            if not o.differences:
                f, g = o.monitor.value_and_grad(self._wanted)
                f, gnorm = float(f), _norm(g)
            else:
                f, gnorm = float(o.monitor.value(self._wanted)), math.nan
        except Exception:  # the run's own evaluation reports the failure; the trace shows NaN
            f, gnorm = math.nan, math.nan
        self.rows[-1][MONITOR] = o.monitor.n
        self._fill(f, gnorm)

    def _seen_at(self, x: np.ndarray) -> tuple[float, float] | None:
        """f and ‖∇f‖ at x from the due iteration's own evaluations, when one was at x and
        gave what the row needs (a gradient's norm, unless the problem is value-only)."""
        for seen in (self._last, self._lowest, self._previous):
            if seen is not None and _same(x, seen[0]):
                if seen[2] is None and not self.oracle.differences:
                    continue
                if seen is not self._previous:
                    self._kept = -1
                return seen[1], math.nan if seen[2] is None else seen[2]
        return None

    def _fill(self, f: float, gnorm: float) -> None:
        o = self.oracle
        row = self.rows[-1]
        f = float(f)
        row[F], row[GNORM] = f, gnorm
        # best over every point seen: the oracle's evaluations and the recorded iterates (NAG
        # evaluates only look-ahead points, never its iterates); non-increasing by construction
        self.best = min(self.best, self._best_then, f) if math.isfinite(f) else min(
            self.best, self._best_then)
        row[BEST] = self.best
        if len(self.rows) == 1:
            o.start_value(f)  # the divergence bound, from the start's f
        self._previous = (self._wanted, f, gnorm)
        self._wanted = None
        o.keep_from = self.next - 1 if self._kept < TRIES else NEVER


INTEGERS = len(INTEGER_TRACE_COLUMNS)
assert TRACE_COLUMNS[:INTEGERS] == INTEGER_TRACE_COLUMNS  # the counts come first


@functools.cache
def _names(x_cols: int) -> tuple[str, ...]:
    return TRACE_COLUMNS + tuple(f"x_{i}" for i in range(x_cols))


def _same(x, point: np.ndarray) -> bool:
    """x is ``point``, bitwise (NaN is never the same); an x that is not an array is not."""
    return getattr(x, "shape", None) == point.shape and bool((x == point).all())


def _norm(g) -> float:
    """‖g‖ as numpy's norm computes it (the square root of g·g), without its checks."""
    g = np.ravel(g)
    return math.sqrt(float(g.dot(g))) if g.dtype == float else float(np.linalg.norm(g))
