"""``optbench.check_gradient``: the check ``optbench check`` runs, on a function or a problem."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from optbench.errors import UsageError
from optbench.problems.base import Problem
from optbench.problems.function import as_problem

from .gradient import GradientCheck

__all__ = ["GradientCheck", "check_gradient"]


def check_gradient(fun_or_problem: Callable | Problem, x0: Any = None, *,
                   grad: Callable | None = None, jac: bool = False,
                   blocks: Mapping[str, Any] | None = None, points: int = 3, tol: float = 1e-6,
                   coords: int | str = 64, seed: int = 0) -> GradientCheck:
    """Compare a gradient with five-point differences, per block and along random directions.

    ``fun_or_problem`` is a problem object or a plain function in scipy's convention (see
    ``optbench.problem``: ``fun(x) -> f`` with ``grad=``, or ``fun(x) -> (f, g)`` with
    ``jac=True``). The check runs at ``x0`` (default: the problem's start) and at ``points``
    random points near it; ``coords`` coordinates per block are sampled (``"all"`` checks every
    one), besides random directions that test every coordinate at once.

    Example::

        check = optbench.check_gradient(cost_and_grad, theta0, jac=True)
        check.passed, check.error, check.table
        print(check)   # the text `optbench check` prints
    """
    if not (isinstance(tol, int | float) and math.isfinite(tol) and tol > 0):
        raise UsageError(f"check_gradient: tol must be a number > 0 (a relative error), got "
                         f"{tol!r}")
    if not (isinstance(points, int) and points >= 0):
        raise UsageError(f"check_gradient: points must be an integer >= 0, got {points!r}")
    max_coords = _coords(coords)
    kwargs = {k: v for k, v in (("grad", grad), ("jac", jac), ("blocks", blocks)) if v}
    if x0 is not None and not isinstance(fun_or_problem, Problem) and \
            callable(fun_or_problem):
        kwargs["x0"] = x0
    problem = as_problem(fun_or_problem, **kwargs)
    if x0 is not None and "x0" not in kwargs:  # a problem object, checked at the given point
        problem = _AtPoint(problem, x0)
    return _check(problem, points=points, seed=seed, tol=tol, max_coords=max_coords)


def _check(problem, **kwargs) -> GradientCheck:
    from threadpoolctl import threadpool_limits

    from .gradient import check_gradient as run_check

    with threadpool_limits(1):  # small products: a second BLAS thread only adds contention
        return run_check(problem, **kwargs)


def _coords(coords: int | str) -> float:
    if coords == "all":
        return math.inf
    if isinstance(coords, int) and not isinstance(coords, bool) and coords >= 1:
        return coords
    raise UsageError(f"check_gradient: coords must be an integer >= 1 or 'all', got {coords!r}")


class _AtPoint:
    """``problem`` with its start replaced by ``x0`` (the check starts there)."""

    def __init__(self, problem: Problem, x0: Any):
        import numpy as np

        self._problem, self._x0 = problem, np.array(x0, dtype=float).ravel()

    def __getattr__(self, attr: str):
        return getattr(self._problem, attr)

    def initial_point(self, rng):
        return self._x0.copy()
