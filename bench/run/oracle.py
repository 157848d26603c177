"""The runner's oracle: the one door between an optimizer and the problem.

It counts evaluations (value and gradient apart; ``evaluations`` counts oracle calls, a
finite-difference gradient as its 2·dim calls of value), enforces the evaluation budget before
evaluating, watches every value for NaN, divergence and targets, and notes the first evaluation
count at which f − f* fell below each precision of a ladder (COCO's 10^2 … 10^-8).

A value-only problem's gradient (central differences) is computed here, not by the problem, so
each of its evaluations is charged once and watched like any other: a target counts as reached
at any evaluation the method paid for, difference probes included (as COCO counts), and the
best f, the NaN watch and the ignores-its-argument test see them too.

Evaluations made only to watch the run (the trace, the probe that confirms a suspicion, the
check at a failed run's final point) go through ``monitor``: counted there (the record's
``n_monitor``), never charged, timed or watched.

``iteration`` is the run's one iteration counter: iterations completed (the record's
``n_iter``), advanced by the runner after each step that completed one. Messages name the
iteration under way (``iteration + 1``), or iteration 0 while the optimizer starts.

The hot path is one counter update, two float comparisons and one integer comparison (is the
trace's recorder waiting for this evaluation? see ``recorder.py``) per call, plus the
ignores-its-argument test of the first few calls: gradients are not scanned for NaN on every
call.
A non-finite gradient shows up as a non-finite iterate at the next call, or as the method
stopping; both lead to ``nonfinite_gradient()``, which names the iteration of that gradient.
"""

from __future__ import annotations

import math
from time import perf_counter

import numpy as np

from optbench.bench.results.status import Status
from optbench.bench.sweep.spec import RunSpec
from optbench.optimizers.base import BudgetExhausted
from optbench.problems.base import central_difference

DIVERGE = 1e8  # a value this many times the start (|f0| + 1) counts as divergence
LADDER = tuple(10.0 ** (2 - 0.2 * k) for k in range(51))  # 1e2 … 1e-8, five per decade
EARLY = 3  # evaluations checked for an objective that ignores its argument
IGNORES = "it seems to ignore its argument (a closure using a captured variable instead of x?)"


class RunStopped(BudgetExhausted):
    """Raised inside an evaluation to end the run; optimizers let it through like a budget.
    ``status`` is the run's status it carries."""

    status = Status.ERROR


class NonFinite(RunStopped):
    status = Status.NAN


class Diverged(RunStopped):
    status = Status.DIVERGED


class IgnoresArgument(RunStopped):
    status = Status.ERROR


class Monitor:
    """``problem`` as the harness sees it to watch a run: each evaluation counted in ``n`` (in
    the budget's units: a gradient by differences is 1 + 2·dim), none charged to the run."""

    def __init__(self, problem):
        self._problem = problem
        self._grad_cost = 1 + problem.grad_cost
        self.n = 0

    def __getattr__(self, attr: str):
        return getattr(self._problem, attr)

    def value(self, x: np.ndarray) -> float:
        self.n += 1
        return self._problem.value(x)

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.n += self._grad_cost
        return self._problem.value_and_grad(x)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self.value_and_grad(x)[1]


class CountingOracle:
    """Counts, checks and watches the evaluations an optimizer asks of ``problem``."""

    def __init__(self, problem, spec: RunSpec, f0: float = math.nan):
        self.problem = problem
        self.bounds = problem.bounds
        self._value = problem.value
        self.differences = problem.gradient == "finite-difference"  # computed here, watched
        self._value_and_grad = problem.value_and_grad
        self._grad_cost = 1 + problem.grad_cost  # evaluations charged for one gradient call
        self.limit = spec.budget.evaluations or math.inf
        self.evaluations = self.n_fev = self.n_gev = 0
        self.iteration = 0  # completed: the run's one iteration counter (module docstring)
        self.starting = True  # the optimizer's start() is under way: its evaluations are
        #                       iteration 0's
        self.best_f = math.inf
        self.f_opt = problem.f_opt
        shift = self.f_opt if self.f_opt is not None else 0.0
        self._shift = shift
        t = spec.targets
        # with only distance or gradient targets every value must be inspected (+inf); none: -inf
        self._target_f = (
            t.value + shift if t.value is not None else math.inf if t.any() else -math.inf
        )
        self._target_dist = t.distance
        self._target_grad = t.grad_norm
        self._x_opt = problem.x_opt
        self.target_at: tuple[int, float] | None = None  # (evaluations, seconds)
        self.hits: list[tuple[float, int, float]] = []
        self._ladder = list(LADDER) if self.f_opt is not None else []
        self._next_hit = self._ladder[0] + shift if self._ladder else -math.inf
        self.start_value(f0)
        self._watch = max(self._next_hit, self._target_f)
        self._last_grad: np.ndarray | None = None
        self._last_grad_iteration = 0
        # the trace's recorder, told of evaluations while the iteration is >= keep_from
        self.recorder = None
        self.keep_from: float = math.inf
        self._early: list[tuple[np.ndarray, float, np.ndarray]] = []
        self._early_values: list[tuple[np.ndarray, float]] | None = []
        self.monitor = Monitor(problem)
        self.t0 = perf_counter()
        self.paused = 0.0  # seconds spent monitoring, not charged to the optimizer

    def start_value(self, f0: float) -> None:
        """f at the start: divergence is f above DIVERGE·(|f0| + 1) (none if f0 is not finite)."""
        self._diverge = (abs(f0) + 1) * DIVERGE if math.isfinite(f0) else math.inf

    # -- the oracle interface ------------------------------------------------------------------
    def value(self, x: np.ndarray) -> float:
        if self.evaluations >= self.limit:
            raise BudgetExhausted("evaluation budget used up")
        self.n_fev += 1
        if self.iteration < self.keep_from:
            return self._watched(x)
        self.recorder.before(x, False)
        f = self._watched(x)
        self.recorder.after(x, f, None)
        return f

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        return self._with_grad(x, 1)

    def grad(self, x: np.ndarray) -> np.ndarray:
        # The value comes with the gradient in one fused pass: watched, not charged as a value.
        return self._with_grad(x, 0)[1]

    def _watched(self, x: np.ndarray) -> float:
        """One evaluation of the value: charged, checked and watched."""
        self.evaluations += 1
        f = self._value(x)
        if self._early_values is not None:
            self._check_value_uses_argument(x, f)
        if not (self._watch < f < self._diverge):  # NaN fails every comparison
            self._inspect(x, f, None)
        elif f < self.best_f:
            self.best_f = f
        return f

    def _with_grad(self, x: np.ndarray, values: int) -> tuple[float, np.ndarray]:
        if self.evaluations >= self.limit:
            raise BudgetExhausted("evaluation budget used up")
        if self.differences and self.evaluations + self._grad_cost > self.limit:
            # its 1 + 2·dim values would overrun the budget: end here, within it
            raise BudgetExhausted("evaluation budget used up (too few left for a gradient by "
                                  f"differences, {self._grad_cost} evaluations)")
        self.n_fev += values
        self.n_gev += 1
        recording = self.iteration >= self.keep_from
        if recording:
            self.recorder.before(x, True)
        if self.differences:
            f, g = self._differenced(x)
        else:
            self.evaluations += self._grad_cost
            f, g = self._value_and_grad(x)
            if self.n_gev <= EARLY:
                self._check_argument_used(x, f, g)
            if not (self._watch < f < self._diverge):
                self._inspect(x, f, g)
            elif f < self.best_f:
                self.best_f = f
        if recording:
            self.recorder.after(x, f, g)
        # Kept only once this call passed: when it stops the run at a non-finite x, the
        # gradient to blame is the one before, which made x (not this one, computed at it).
        self._last_grad = g
        self._last_grad_iteration = self.current_iteration()
        return f, g

    def _differenced(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """f and its central differences at x (the problem's own finite-difference gradient,
        the same numbers), every evaluation charged once and watched."""
        f = self._watched(x)
        g = central_difference(self._watched, x)
        if self._target_grad is not None and self.target_at is None and f <= self._target_f:
            self._inspect(x, f, g)  # a gradient-norm target can be told only now
        return f, g

    # -- the slow path -------------------------------------------------------------------------
    def elapsed(self) -> float:
        return perf_counter() - self.t0 - self.paused

    def current_iteration(self) -> int:
        """The iteration under way (0 during the optimizer's start)."""
        return 0 if self.starting else self.iteration + 1

    def _inspect(self, x: np.ndarray, f: float, g: np.ndarray | None) -> None:
        if not math.isfinite(f) and f != -math.inf:
            where = self.nonfinite_gradient() if not np.isfinite(x).all() else ""
            raise NonFinite(where or f"value is {f} at iteration {self.current_iteration()}")
        if f >= self._diverge or f == -math.inf:
            raise Diverged(f"f = {f:.3g} at iteration {self.current_iteration()}: diverged")
        self.best_f = min(self.best_f, f)
        while f < self._next_hit:
            self.hits.append((self._ladder[0], self.evaluations, self.elapsed()))
            self._ladder.pop(0)
            self._next_hit = self._ladder[0] + self._shift if self._ladder else -math.inf
        if f <= self._target_f and self.target_at is None and self._other_targets(x, g):
            self.target_at = (self.evaluations, self.elapsed())
            self._target_f = -math.inf
        self._watch = max(self._next_hit, self._target_f)

    def _other_targets(self, x: np.ndarray, g: np.ndarray | None) -> bool:
        far = (self._target_dist is not None and self._x_opt is not None
               and float(np.linalg.norm(x - self._x_opt)) > self._target_dist)
        steep = self._target_grad is not None and (
            g is None or float(np.linalg.norm(g)) > self._target_grad)
        return not (far or steep)

    def nonfinite_gradient(self) -> str:
        """Where the last gradient was not finite, as a message; '' when it was finite."""
        g = self._last_grad
        if g is None or np.isfinite(g).all():
            return ""
        return f"gradient is not finite at iteration {self._last_grad_iteration}"

    def _check_argument_used(self, x: np.ndarray, f: float, g: np.ndarray) -> None:
        """The L-BFGS-B thread's bug: a closure that ignores x gives the same f and g everywhere.
        (A gradient by differences says nothing more than the values: those are checked by
        ``_check_value_uses_argument``, difference probes included.)"""
        for x_seen, f_seen, g_seen in self._early:
            if f == f_seen and not np.array_equal(x, x_seen) and np.array_equal(g, g_seen) \
                    and self._same_value_far_away(x, f):
                raise IgnoresArgument(
                    "the objective returned the same value and gradient at two different "
                    f"points: {IGNORES}"
                )
        self._early.append((np.array(x, copy=True), f, np.array(g, copy=True)))

    def _same_value_far_away(self, x: np.ndarray, f: float) -> bool:
        """Confirm with one probe that moves every coordinate: points that differ in a few
        coordinates only (Nelder-Mead's first vertices, difference probes) may all miss what f
        reads (a pixel that is 0 in every image). The probe is monitoring: counted in
        ``monitor``, not charged, not timed, not watched."""
        start = perf_counter()
        rng = np.random.default_rng(0)
        probe = x + rng.uniform(0.5, 1.0, x.shape) * np.maximum(1.0, np.abs(x))
        try:
            same = self.monitor.value(probe) == f
        except Exception:  # it fails away from here: it does read x
            same = False
        self.paused += perf_counter() - start
        return bool(same)

    def _check_value_uses_argument(self, x: np.ndarray, f: float) -> None:
        """The same bug, seen in values alone (Nelder-Mead; any method on a value-only problem,
        whose first gradient's difference probes are the points). One equal pair proves nothing
        without a gradient (a symmetric function at mirrored simplex vertices), so it takes
        EARLY values at pairwise different points, all bitwise equal, and the probe. The test
        ends at the first value that differs."""
        seen = self._early_values
        if any(np.array_equal(x, xs) for xs, _ in seen):
            return
        if seen and f != seen[0][1]:
            self._early_values = None  # it does depend on x: no more checks
            return
        seen.append((np.array(x, copy=True), f))
        if len(seen) == EARLY:
            if not self._same_value_far_away(x, f):
                self._early_values = None  # only coordinates it does not read were moved
                return
            raise IgnoresArgument(
                f"the objective returned the same value at {EARLY} different points: {IGNORES}"
            )
