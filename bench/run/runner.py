"""execute(spec) -> RunRecord: one run, a pure function of its spec.

The runner owns the loop (budget, timing, stopping, recording, failure capture); the optimizer
owns one step. All randomness comes from the spec's seed, and BLAS runs on one thread, so a spec
gives the same numbers in-process, in a process pool or on a Dask worker.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import pickle
from time import perf_counter
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from optbench.bench.errors import describe
from optbench.bench.plugins import make_optimizer, make_problem
from optbench.bench.results.records import TRACE_COLUMNS, RunRecord
from optbench.bench.results.status import Status
from optbench.bench.run.oracle import CountingOracle, RunStopped
from optbench.bench.sweep.spec import RunSpec, canonical
from optbench.optimizers.base import BudgetExhausted

EVERY_STEP_UNTIL = 20  # record each of the first iterations, then geometrically
RECORD_GROWTH = 1.1  # ~24 records per decade of iterations: 1e6 steps keep ~150 rows
IDLE_STEPS = 1000  # this many steps without one evaluation: the optimizer is not optimizing
IDLE_MESSAGE = (f"the optimizer made {IDLE_STEPS} steps without evaluating the problem once "
                "(step() never calls the oracle?): stopped")


class Recorder:
    """The trace, on a log-spaced schedule; its evaluations are not charged to the run."""

    def __init__(self, problem, oracle: CountingOracle, keep_x: bool = False):
        self.problem = problem
        self.oracle = oracle
        self.x_cols = problem.dim if problem.dim <= 2 else 0
        self.rows: list[tuple] = []
        self.xs: list[np.ndarray] | None = [] if keep_x else None  # every recorded iterate
        self.next = 0
        self.last: tuple[float, float, float] = (math.nan, math.nan, math.nan)
        self.best = math.inf

    def record(self, iteration: int, x: np.ndarray) -> None:
        o = self.oracle
        start = perf_counter()
        elapsed = start - o.t0 - o.paused
        f, gnorm, dist = self.measure(x)
        # best over every point seen: the oracle's evaluations and the recorded iterates (NAG
        # evaluates only look-ahead points, never its iterates); non-increasing by construction
        self.best = min(self.best, o.best_f, f) if math.isfinite(f) else min(self.best, o.best_f)
        self.rows.append((
            iteration, o.evaluations, o.n_fev, o.n_gev, elapsed, f, self.best, gnorm, dist,
            *x[: self.x_cols],
        ))
        if self.xs is not None:
            self.xs.append(np.array(x, dtype=float))
        self.next = max(iteration + 1, int(iteration * RECORD_GROWTH))
        if iteration < EVERY_STEP_UNTIL:
            self.next = iteration + 1
        o.paused += perf_counter() - start

    def measure(self, x: np.ndarray) -> tuple[float, float, float]:
        """f, ‖∇f‖ and ‖x − x*‖ at x, NaN where they cannot be had."""
        try:
            f, g = self.problem.value_and_grad(x)
            f, gnorm = float(f), float(np.linalg.norm(g))
        except Exception:  # the run's own evaluation reports the failure; the trace shows NaN
            f, gnorm = math.nan, math.nan
        x_opt = self.problem.x_opt
        dist = float(np.linalg.norm(x - x_opt)) if x_opt is not None else math.nan
        self.last = (f, gnorm, dist)
        return self.last

    def trace(self) -> dict[str, np.ndarray]:
        names = TRACE_COLUMNS + tuple(f"x_{i}" for i in range(self.x_cols))
        cols = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(names)
        return {
            name: np.asarray(col, dtype=np.int64 if i < 4 else float)
            for i, (name, col) in enumerate(zip(names, cols, strict=True))
        }


def execute(spec: RunSpec, problem=None, keep_x: bool = False) -> RunRecord:
    """Run ``spec`` to its end and return its record; never raises for a failing run.

    ``problem`` is the spec's problem when the caller holds it already (``optbench.run``);
    ``keep_x`` keeps every recorded iterate in ``record.iterates`` (in memory, not stored).
    """
    with threadpool_limits(1):
        optimizer = None
        try:
            if problem is None:
                problem = build_problem(spec)
            optimizer = make_optimizer(spec.optimizer, spec.optimizer_kwargs, spec.base_dir,
                                       spec.seed)
            x0 = np.asarray(problem.initial_point(np.random.default_rng(spec.seed)), dtype=float)
        except Exception as e:
            return RunRecord(spec, Status.ERROR, f"setting up the run: {describe(e)}",
                             **described(spec, problem, optimizer))
        return _run(spec, problem, optimizer, x0, keep_x)


def build_problem(spec: RunSpec):
    """The spec's problem: a fresh copy of an in-memory one, or built from the registry."""
    if spec.payload is not None:
        return pickle.loads(spec.payload)  # written by cloudpickle; plain pickle reads it
    return make_problem(spec.problem, spec.problem_kwargs, spec.base_dir, spec.seed)


def described(spec: RunSpec, problem, optimizer) -> dict[str, Any]:
    """What the record says of the problem and optimizer, so the report need not build them:
    f*, x*, dimension, gradient kind, smoothness, and every hyperparameter with its default.
    What was not built (a set-up that failed half-way) is left out."""
    facts: dict[str, Any] = {}
    if problem is not None:
        smooth = getattr(problem, "smooth", True)
        facts.update(
            f_opt=getattr(problem, "f_opt", None), dim=getattr(problem, "dim", 0),
            gradient=getattr(problem, "gradient", None),
            smooth=bool(smooth) if isinstance(smooth, bool | np.bool_) else None,
            x_opt=_json_or_none(lambda: [float(v) for v in np.ravel(problem.x_opt)]
                                if getattr(problem, "x_opt", None) is not None else None),
        )
    if optimizer is not None:
        facts["optimizer_resolved"] = _json_or_none(
            lambda: resolved_hyperparameters(type(optimizer), spec.optimizer_kwargs))
    return facts


def resolved_hyperparameters(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` and the constructor's default for every hyperparameter it leaves out.

    The defaults are those ``optbench list`` shows (the signature of ``cls.__init__``); a
    default JSON cannot hold (an object, inf) is kept as its text.
    """
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):  # no signature to read (a builtin's __init__)
        params = []
    defaults = {p.name: _plain(p.default) for p in params
                if p.default is not p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return {**defaults, **given}


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars and arrays unpacked, anything else as text."""
    if isinstance(value, np.generic | np.ndarray):
        value = value.tolist()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)


def _json_or_none(make) -> str | None:
    """The canonical JSON of what ``make()`` returns; None when it is None or cannot be had."""
    try:
        value = make()
        return None if value is None else canonical(_plain(value))
    except Exception:  # a problem's odd x_opt must not cost the run its record
        return None


def _run(spec: RunSpec, problem, optimizer, x0: np.ndarray, keep_x: bool = False) -> RunRecord:
    f0 = _safe_value(problem, x0)
    oracle = CountingOracle(problem, spec, f0)
    rec = Recorder(problem, oracle, keep_x)
    stop_at_target = spec.stop_at_target and spec.targets.any()
    status, message, k, x = _loop(spec, optimizer, oracle, rec, x0, stop_at_target)
    wall = oracle.elapsed()
    x = np.asarray(x, dtype=float)
    if status is not Status.ERROR and not np.isfinite(x).all():
        status = Status.NAN
        message = oracle.nonfinite_gradient() or f"iterate is not finite at iteration {k}"
    last = rec.rows[-1]
    if last[0] != k or last[1] != oracle.evaluations or status is Status.TARGET:
        # the stop's own row: also when evaluations were spent inside an unfinished iteration
        # (Nelder-Mead building its simplex), so the curve runs out to what was charged
        rec.record(k, x)
    f_final, g_final, d_final = rec.last
    if status in (Status.CONVERGED, Status.BUDGET) and not math.isfinite(g_final):
        bad = oracle.nonfinite_gradient()
        if bad:
            status, message = Status.NAN, bad
    if status in (Status.DIVERGED, Status.NAN) and oracle.iteration > k:
        # The message names the iteration whose evaluation failed; the record ends at the
        # last completed one: say both, so the message and n_iter / f_final agree.
        message += (f" (stopped before iteration {oracle.iteration} completed: n_iter = {k}, "
                    f"f_final = {f_final:.3g} at the last iterate)")
    if oracle.target_at is not None and status is not Status.TARGET and stop_at_target:
        status = Status.TARGET
    if status is Status.CONVERGED and "ABNORMAL" in message.upper():
        message += _gradient_check_note(problem, x)
    hit = oracle.target_at
    return RunRecord(
        spec, status, message, n_iter=k, n_eval=oracle.evaluations, n_fev=oracle.n_fev,
        n_gev=oracle.n_gev, wall_time_s=wall, f_final=f_final,
        f_best=min(rec.best, oracle.best_f),
        dist_final=d_final, grad_norm_final=g_final,
        target_hit=hit is not None, fev_to_target=hit[0] if hit else None,
        time_to_target=hit[1] if hit else None, hits=oracle.hits, trace=rec.trace(),
        x_final=x, iterates=rec.xs, **described(spec, problem, optimizer),
    )


def _loop(spec: RunSpec, optimizer, oracle: CountingOracle, rec: Recorder, x0: np.ndarray,
          stop_at_target: bool) -> tuple[Status, str, int, np.ndarray]:
    """Step until something ends the run; returns (status, message, iterations, last x).

    Per step, besides the step: a type and shape test of the iterate and integer comparisons
    (the Adam benchmark holds this loop to 1.2x a hand-written one).
    """
    max_iter = spec.budget.iterations or math.inf
    max_seconds = spec.budget.seconds or math.inf
    timed = max_seconds < math.inf
    k, x, shape = 0, x0, x0.shape
    try:
        rec.record(0, x0)
        optimizer.start(oracle, x0.copy())
        idle_at, idle_evals = IDLE_STEPS, oracle.evaluations
        while True:
            if k >= max_iter:
                return Status.BUDGET, f"iteration budget of {spec.budget.iterations} used up", k, x
            oracle.iteration = k + 1
            x_before, x = x, optimizer.step()
            if not isinstance(x, np.ndarray) or x.shape != shape:  # would hang in the problem
                return Status.ERROR, _bad_iterate(x, shape), k, x_before
            if optimizer.converged:
                if not np.array_equal(x, x_before):  # a last step that also moved counts
                    k += 1
                return Status.CONVERGED, optimizer.message, k, x
            k += 1
            if oracle.target_at is not None and stop_at_target:
                return Status.TARGET, "", k, x
            if k >= rec.next:  # the next record is due (a bare comparison: the hot path)
                rec.record(k, x)
            if timed and oracle.elapsed() >= max_seconds:  # no clock read without a time budget
                return Status.BUDGET, f"time budget of {spec.budget.seconds:g} s used up", k, x
            if k >= idle_at:  # no budget can stop a method that never evaluates
                if oracle.evaluations == idle_evals:
                    return Status.ERROR, IDLE_MESSAGE, k, x
                idle_at, idle_evals = k + IDLE_STEPS, oracle.evaluations
    except RunStopped as e:
        return Status(e.status), str(e), k, x
    except BudgetExhausted as e:
        return Status.BUDGET, str(e) or "evaluation budget used up", k, x
    except Exception as e:
        return Status.ERROR, describe(e), k, x
    finally:
        _close(optimizer)


def _bad_iterate(x, shape: tuple[int, ...]) -> str:
    if isinstance(x, np.ndarray):
        return f"step() returned shape {x.shape}, expected {shape}"
    return f"step() returned {type(x).__name__}, expected an array of shape {shape}"


def _safe_value(problem, x: np.ndarray) -> float:
    try:
        return float(problem.value(x))
    except Exception:
        return math.nan


def _close(optimizer) -> None:
    with contextlib.suppress(Exception):  # closing must not hide how the run ended
        optimizer.close()


def _gradient_check_note(problem, x: np.ndarray) -> str:
    """L-BFGS-B's line search fails mostly on gradients that disagree with the value."""
    from optbench.bench.check.gradient import check_gradient

    class AtFinalPoint:  # check at the final point only, where the method gave up
        def __init__(self):
            self.name, self.dim, self.gradient = problem.name, problem.dim, problem.gradient
            self.value, self.value_and_grad, self.blocks = (
                problem.value, problem.value_and_grad, problem.blocks,
            )

        def initial_point(self, rng):
            return x

    try:
        result = check_gradient(AtFinalPoint(), points=0, max_coords=16, directions=1)
    except Exception as e:
        return f" (gradient check at the final point failed to run: {describe(e)})"
    verdict = "agrees with" if result.passed else "DISAGREES with"
    return (
        f" (gradient check at the final point: the gradient {verdict} central differences, "
        f"worst relative error {result.error:.1e})"
    )
