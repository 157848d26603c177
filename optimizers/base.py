"""The step contract every optimizer follows, and a plain oracle to use it without the runner.

The runner owns the loop (budget, time, recording, stopping); an optimizer owns one step::

    opt = optimizers.make("adam", lr=0.1)
    opt.start(PlainOracle(problem), x0)
    while not opt.converged:
        x = opt.step()
    opt.close()
    opt.success, opt.message   # met its own test, or gave up (and why)

``run(opt, oracle, x0, steps)`` does exactly that for a fixed number of steps.

An optimizer reaches the problem only through the oracle: any object with ``value(x)``,
``grad(x)``, ``value_and_grad(x)`` and ``bounds`` (``None`` or a pair of arrays). An oracle may
raise ``BudgetExhausted`` from any call; optimizers let it through.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np

from optbench.registry import ParameterError, check_number

__all__ = [
    "BudgetExhausted",
    "Optimizer",
    "Oracle",
    "ParameterError",
    "PlainOracle",
    "check_number",
    "run",
]


class BudgetExhausted(Exception):
    """Raised by an oracle when the run may not evaluate any more."""


class Oracle(Protocol):
    bounds: tuple[np.ndarray, np.ndarray] | None

    def value(self, x: np.ndarray) -> float: ...
    def grad(self, x: np.ndarray) -> np.ndarray: ...
    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]: ...


class PlainOracle:
    """The problem's own methods, nothing counted: for using an optimizer without the runner."""

    def __init__(self, problem: Any):
        self.problem = problem
        self.bounds = getattr(problem, "bounds", None)

    def value(self, x: np.ndarray) -> float:
        return self.problem.value(x)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self.problem.grad(x)

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        return self.problem.value_and_grad(x)


class Optimizer:
    """Base class of the step contract (see DESIGN.md, "Optimizer contract").

    Subclasses set ``name``, validate their hyperparameters in ``__init__`` (explicit keyword
    parameters with defaults: ``optbench list`` and the YAML validation read the signature) and
    define ``_start`` and ``step``.

    What an optimizer reports, besides its iterate:

    - ``converged``: the method has stopped by its own test; the runner ends the run;
    - ``success``: whether that stop met the method's criterion, as scipy's ``success`` says
      (True by default). False means it gave up: L-BFGS-B's abnormal line search. The runner
      then records ``failed`` and checks the gradient where the method stopped;
    - ``message``: why, in the method's words;
    - ``nit``: the method's own iteration count, in its authors' convention (scipy's for
      L-BFGS-B and Nelder-Mead, which starts at 1), for parity tests. The run's iteration
      count (``n_iter``, the trace) is the runner's: steps that completed an iteration.
    The registry checks the signatures of ``start`` and ``step`` and ``list_params`` when the
    class is registered.
    """

    name: ClassVar[str] = ""
    param_docs: ClassVar[dict[str, str]] = {}
    list_params: ClassVar[dict[str, int]] = {}
    """Hyperparameters that take a list as one value, and how many list levels make one value
    (Nelder-Mead's ``initial_simplex``, n+1 points of n coordinates: 2). In a sweep config a
    list nested deeper than that sweeps over its items; a hyperparameter not named here takes
    no list, so any list sweeps."""

    converged: bool = False
    success: bool = True
    message: str = ""
    nit: int = 0

    def start(self, oracle: Oracle, x0: np.ndarray) -> None:
        """Begin a run at ``x0``; a second call starts afresh."""
        self.oracle = oracle
        self.converged, self.success, self.message, self.nit = False, True, "", 0
        self._start(np.array(x0, dtype=float).ravel())

    def _start(self, x0: np.ndarray) -> None:
        raise NotImplementedError

    def __getattr__(self, attr: str):
        # reached only for attributes never set: the iteration state before start() is one
        if not attr.startswith("__") and "oracle" not in self.__dict__:
            raise AttributeError(f"{self.name}: no {attr!r} yet: call start(oracle, x0) "
                                 "before step()")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def step(self) -> np.ndarray:
        """One iteration of the method; returns the new iterate (not to be modified)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``start`` took; nothing by default."""

    def _check(self, name: str, value: Any, **interval: Any) -> float | int:
        return check_number(self.name, name, value, **interval)

    def _flag(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ParameterError(
                f"{self.name}: parameter {name!r} must be true or false, got {value!r}", name
            )
        return value


class FirstOrder(Optimizer):
    """NAG, Adam and Adagrad: one gradient per step and one shared stopping test.

    The test is the NAG-on-Ackley thread's: stop when a step moves x by at most ``tol`` in the
    Euclidean norm. ``tol = 0`` (the default) turns it off, leaving the budget to stop the run.
    """

    def __init__(self, tol: float):
        self.tol = self._check("tol", tol, low=0)

    def _moved(self, x_new: np.ndarray, x_old: np.ndarray) -> np.ndarray:
        if self.tol and np.linalg.norm(x_new - x_old) <= self.tol:
            self.converged = True
            self.message = f"step length <= tol = {self.tol:g}"
        return x_new


def box(oracle: Oracle, n: int, owner: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The oracle's bounds as two float arrays of length n (infinite where absent), or None."""
    if oracle.bounds is None:
        return None
    low, high = (np.broadcast_to(np.asarray(b, dtype=float), (n,)) for b in oracle.bounds)
    if (low > high).any():
        raise ValueError(f"{owner}: a lower bound is greater than its upper bound")
    return low, high


def differences_note(oracle: Oracle, method: str) -> str:
    """What a gradient method says when the problem gives no gradient (the base class's central
    differences, charged 2·dim evaluations each), or '' when it does."""
    problem = getattr(oracle, "problem", None)
    if getattr(problem, "gradient", None) != "finite-difference":
        return ""
    return (f" ({method} ran on central differences: the problem gives no gradient; each costs "
            "2·dim evaluations)")


def noted(error: BudgetExhausted, note: str) -> BudgetExhausted:
    """The same stop (a budget, or the runner's RunStopped) with ``note`` after its message."""
    if not note:
        return error
    try:
        return type(error)(f"{error}{note}")
    except Exception:  # a stop whose constructor takes something else: as it is
        return error


def run(optimizer: Optimizer, oracle: Oracle, x0: np.ndarray, steps: int) -> np.ndarray:
    """Start ``optimizer`` at ``x0`` and take up to ``steps`` steps; return the last iterate."""
    optimizer.start(oracle, x0)
    x = np.array(x0, dtype=float)
    try:
        for _ in range(steps):
            x = optimizer.step()
            if optimizer.converged:
                break
    finally:
        optimizer.close()
    return x
