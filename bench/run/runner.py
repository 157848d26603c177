"""execute(spec) -> RunRecord: one run, a pure function of its spec.

The runner owns the loop (budget, timing, stopping, recording, failure capture); the optimizer
owns one step; ``verdict.decide`` turns how the loop ended into the run's status. All
randomness comes from the spec's seed, and BLAS runs on one thread, so a spec gives the same
numbers in-process, in a process pool or on a Dask worker.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import math
import pickle
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from optbench.bench.errors import describe
from optbench.bench.plugins import make_optimizer, make_problem
from optbench.bench.results.records import RunRecord
from optbench.bench.run.oracle import CountingOracle, RunStopped
from optbench.bench.run.recorder import Recorder
from optbench.bench.run.verdict import End, Signals, decide
from optbench.bench.sweep.spec import RunSpec, canonical
from optbench.optimizers.base import BudgetExhausted

IDLE_STEPS = 1000  # this many steps without one evaluation: the optimizer is not optimizing
IDLE_MESSAGE = (f"the optimizer made {IDLE_STEPS} steps without evaluating the problem once "
                "(step() never calls the oracle?): stopped")


def execute(spec: RunSpec, problem=None, keep_x: bool = False) -> RunRecord:
    """Run ``spec`` to its end and return its record; never raises for a failing run.

    ``problem`` is the spec's problem when the caller holds it already (``optbench.run``);
    ``keep_x`` keeps every recorded iterate in ``record.iterates`` (in memory, not stored).
    BLAS runs on one thread: held for the whole sweep or worker (``one_blas_thread``), else
    limited for this run alone.
    """
    if _held is not None:
        _held.refresh()
        return _execute(spec, problem, keep_x)
    with threadpool_limits(1):
        return _execute(spec, problem, keep_x)


def _execute(spec: RunSpec, problem, keep_x: bool) -> RunRecord:
    optimizer = None
    try:
        if problem is None:
            problem = build_problem(spec)
        optimizer = make_optimizer(spec.optimizer, spec.optimizer_kwargs, spec.base_dir,
                                   spec.seed)
        x0 = np.asarray(problem.initial_point(np.random.default_rng(spec.seed)), dtype=float)
    except Exception as e:
        verdict = decide(Signals(End.SETUP, describe(e)))
        return RunRecord(spec, verdict.status, verdict.message,
                         **described(spec, problem, optimizer))
    return _run(spec, problem, optimizer, x0, keep_x)


class _BlasLimit:
    """One BLAS (and OpenMP) thread while held. Limiting scans every loaded library (~2 ms),
    so it is done when the hold starts and again only after an import (which may have loaded
    another library), not at every run."""

    def __init__(self):
        self.limits: list = []
        self.modules = -1  # len(sys.modules) when last applied

    def refresh(self) -> None:
        if len(sys.modules) != self.modules:
            self.limits.append(threadpool_limits(1))
            self.modules = len(sys.modules)

    def release(self) -> None:
        for limits in reversed(self.limits):
            limits.restore_original_limits()
        self.limits.clear()


_held: _BlasLimit | None = None  # the limit held by this process's sweep or worker


def hold_one_blas_thread() -> None:
    """A worker process's start: one BLAS thread for every run it executes, for good."""
    global _held
    if _held is None:
        _held = _BlasLimit()
        _held.refresh()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Every run executed in this process inside the block uses one BLAS thread, limited once
    (``execute`` then skips its own per-run limit); released after. Nested: the outer one."""
    global _held
    if _held is not None:
        yield
        return
    hold_one_blas_thread()
    try:
        yield
    finally:
        limit, _held = _held, None
        limit.release()


def build_problem(spec: RunSpec):
    """The spec's problem: a fresh copy of an in-memory one, or built from the registry."""
    if spec.payload is not None:
        return pickle.loads(spec.payload)  # written by cloudpickle; plain pickle reads it
    return make_problem(spec.problem, spec.problem_kwargs, spec.base_dir, spec.seed)


def check_problem(spec: RunSpec) -> list[str] | None:
    """The entry check of the problem of ``spec`` (``sweep._entry_checks`` runs it in a child):
    None, or why it is refused."""
    from optbench.bench.check.gradient import check_gradient

    try:
        problem = build_problem(spec)
    except Exception as e:  # its runs would all be errors
        return [f"building it raised {describe(e)}"]
    try:
        with threadpool_limits(1):
            result = check_gradient(problem, points=0, seed=spec.seed, max_coords=16,
                                    directions=1)
    except Exception as e:  # not "building it": it built, the check's evaluation failed
        return [f"it built, but the gradient check at its first start point raised "
                f"{describe(e)}"]
    if result.passed:  # a value-only problem: its value reads x and is deterministic
        return None
    return result.lines()[1:]


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
            x_opt=_x_opt_json(problem),
        )
    if optimizer is not None:
        facts["optimizer_resolved"] = _resolved_json(type(optimizer), spec.optimizer_params)
    return facts


def _x_opt_json(problem) -> str | None:
    """The problem's known minimizer as a JSON list; None when it has none (or an odd one)."""
    try:
        x = problem.x_opt
        return None if x is None else _vector_json(np.asarray(x, dtype=float).tobytes())
    except Exception:  # a problem's odd x_opt must not cost the run its record
        return None


@functools.lru_cache(maxsize=256)  # a sweep's runs mostly share a few minimizers
def _vector_json(raw: bytes) -> str | None:
    return _json_or_none(lambda: np.frombuffer(raw).tolist())


@functools.lru_cache(maxsize=1024)  # once per configuration, not per run
def _resolved_json(cls: type, optimizer_params: str) -> str | None:
    return _json_or_none(lambda: resolved_hyperparameters(cls, json.loads(optimizer_params)))


def resolved_hyperparameters(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` and the constructor's default for every hyperparameter it leaves out.

    The defaults are those ``optbench list`` shows (the signature of ``cls.__init__``); a
    default JSON cannot hold (an object, inf) is kept as its text.
    """
    return {**_defaults(cls), **given}


@functools.lru_cache(maxsize=256)  # read once per class, not per run (inspect is slow)
def _defaults(cls: type) -> dict[str, Any]:
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):  # no signature to read (a builtin's __init__)
        params = []
    return {p.name: _plain(p.default) for p in params
            if p.default is not p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


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
    oracle = CountingOracle(problem, spec)
    rec = Recorder(problem, oracle, keep_x)
    rec.record(0, x0)  # its f, once had, sets the oracle's divergence bound
    ending, x = _loop(spec, optimizer, oracle, rec, x0)
    wall = oracle.elapsed()
    x = np.asarray(x, dtype=float)
    k = oracle.iteration
    at_target = oracle.target_at is not None and spec.stop_at_target
    last = rec.rows[-1]
    if last[0] != k or last[1] != oracle.evaluations or at_target:
        # the stop's own row: also when evaluations were spent inside an unfinished iteration
        # (Nelder-Mead building its simplex), so the curve runs out to what was charged
        rec.record(k, x)
    f_final, g_final, d_final = rec.last
    signals = replace(
        ending, target_reached=oracle.target_at is not None, stop_at_target=spec.stop_at_target,
        iterate_finite=bool(np.isfinite(x).all()), nonfinite_gradient=oracle.nonfinite_gradient(),
        iterations=k, f_final=f_final,
    )
    verdict = decide(signals, lambda: _final_check(oracle, x, spec.seed))
    hit = oracle.target_at
    return RunRecord(
        spec, verdict.status, verdict.message,
        gradient_check_failed=verdict.gradient_check_failed, n_iter=k,
        n_eval=oracle.evaluations, n_fev=oracle.n_fev, n_gev=oracle.n_gev,
        n_monitor=oracle.monitor.n, wall_time_s=wall, f_final=f_final,
        f_best=min(rec.best, oracle.best_f),
        dist_final=d_final, grad_norm_final=g_final,
        target_hit=hit is not None, fev_to_target=hit[0] if hit else None,
        time_to_target=hit[1] if hit else None, hits=oracle.hits, trace=rec.trace(),
        x_final=x, iterates=rec.xs, **described(spec, problem, optimizer),
    )


def _loop(spec: RunSpec, optimizer, oracle: CountingOracle, rec: Recorder,
          x0: np.ndarray) -> tuple[Signals, np.ndarray]:
    """Step until something ends the run; returns how it ended and the last iterate.

    ``oracle.iteration`` counts the iterations: a step completes one unless it only reports
    that the method has stopped (``converged`` with the iterate unchanged). Per step, besides
    the step: a type and shape test of the iterate and integer comparisons (the Adam benchmark
    holds this loop to 1.2x a hand-written one).
    """
    max_iter = spec.budget.iterations or math.inf
    max_seconds = spec.budget.seconds or math.inf
    timed = max_seconds < math.inf
    stop_at_target = spec.stop_at_target and spec.targets.any()
    o, x, shape = oracle, x0, x0.shape
    try:
        optimizer.start(o, x0.copy())
        o.starting = False
        idle_at, idle_evals = IDLE_STEPS, o.evaluations
        while True:
            if o.iteration >= max_iter:
                return Signals(End.BUDGET, f"iteration budget of {spec.budget.iterations} "
                                           "used up"), x
            x_before, x = x, optimizer.step()
            if not isinstance(x, np.ndarray) or x.shape != shape:  # would hang in the problem
                return Signals(End.GUARD, _bad_iterate(x, shape)), x_before
            if optimizer.converged:
                if not np.array_equal(x, x_before):  # a last step that also moved counts
                    o.iteration += 1
                success = bool(getattr(optimizer, "success", True))
                return Signals(End.STOPPED, optimizer.message, success=success), x
            o.iteration += 1
            k = o.iteration
            if o.target_at is not None and stop_at_target:
                return Signals(End.TARGET), x
            if k >= rec.next:  # the next record is due (a bare comparison: the hot path)
                rec.record(k, x)
            if timed and o.elapsed() >= max_seconds:  # no clock read without a time budget
                return Signals(End.BUDGET, f"time budget of {spec.budget.seconds:g} s "
                                           "used up"), x
            if k >= idle_at:  # no budget can stop a method that never evaluates
                if o.evaluations == idle_evals:
                    return Signals(End.GUARD, IDLE_MESSAGE), x
                idle_at, idle_evals = k + IDLE_STEPS, o.evaluations
    except RunStopped as e:
        return Signals(End.ORACLE, str(e), stop_status=e.status,
                       unfinished=o.current_iteration() or None), x
    except BudgetExhausted as e:
        return Signals(End.BUDGET, str(e) or "evaluation budget used up",
                       unfinished=o.current_iteration() or None), x
    except Exception as e:
        return Signals(End.RAISED, describe(e), unfinished=o.current_iteration() or None), x
    finally:
        _close(optimizer)


def _bad_iterate(x, shape: tuple[int, ...]) -> str:
    if isinstance(x, np.ndarray):
        return f"step() returned shape {x.shape}, expected {shape}"
    return f"step() returned {type(x).__name__}, expected an array of shape {shape}"


def _close(optimizer) -> None:
    with contextlib.suppress(Exception):  # closing must not hide how the run ended
        optimizer.close()


def _final_check(oracle: CountingOracle, x: np.ndarray, seed: int):
    """The gradient check where a method gave up, its evaluations counted as monitoring."""
    from optbench.bench.check.final import check_final_point

    return check_final_point(oracle.monitor, x, seed)
