"""A plain Python function as a problem, in scipy's convention.

``fun(x) -> f``; with ``jac=True``, ``fun(x) -> (f, g)`` (as ``scipy.optimize.minimize(fun, x0,
jac=True)`` takes it); or ``fun(x) -> f`` with a separate ``grad(x) -> g``. Without a gradient
the problem gets the central finite differences every problem gets (charged as 2·dim
evaluations by the runner)::

    import numpy as np, optbench
    p = optbench.problem(lambda x: float(np.sum((x - 1) ** 2)), x0=np.zeros(3))
    p.value(np.ones(3))   # 0.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from optbench.errors import ParameterError

from .base import Problem, central_difference

__all__ = ["FunctionProblem", "problem"]

Start = np.ndarray | Callable[[np.random.Generator], np.ndarray]


class FunctionProblem(Problem):
    """A problem made of plain callables; see ``problem()`` for its arguments."""

    def __init__(self, fun: Callable, *, grad: Callable | None = None, jac: bool = False,
                 x0: Start | None = None, bounds: Any = None, f_opt: float | None = None,
                 x_opt: Any = None, blocks: Mapping[str, Any] | None = None,
                 name: str | None = None):
        self.name = name or _name_of(fun)
        owner = f"problem {self.name!r}"
        if not callable(fun):
            raise ParameterError(f"{owner}: fun must be callable, got {type(fun).__name__}",
                                 "fun")
        if grad is not None and jac:
            raise ParameterError(f"{owner}: give grad= or jac=True, not both", "jac")
        if grad is not None and not callable(grad):
            raise ParameterError(f"{owner}: grad must be callable, got {type(grad).__name__}",
                                 "grad")
        self.fun, self.grad_fun, self.jac = fun, grad, bool(jac)
        self.gradient = "analytic" if (grad is not None or jac) else "finite-difference"
        self.bounds = _bounds(owner, bounds)
        self.x_opt = None if x_opt is None else np.array(x_opt, dtype=float).ravel()
        self.f_opt = None if f_opt is None else float(f_opt)
        self._x0 = x0 if x0 is None or callable(x0) else np.array(x0, dtype=float).ravel()
        self.dim = _dimension(owner, self._x0, self.bounds, self.x_opt)
        self._blocks = _blocks(owner, blocks, self.dim)

    # -- the contract ------------------------------------------------------------------------
    def value(self, x: np.ndarray) -> float:
        out = self.fun(x)
        return float(out[0] if self.jac else out)

    def grad(self, x: np.ndarray) -> np.ndarray:
        return self.value_and_grad(x)[1]

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        if self.jac:
            f, g = self.fun(x)
        elif self.grad_fun is not None:
            f, g = self.fun(x), self.grad_fun(x)
        else:  # what every value-only problem gets
            return float(self.fun(x)), central_difference(self.value, x)
        return float(f), np.asarray(g, dtype=float)

    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        if self._x0 is None:
            return super().initial_point(rng)  # uniform in the bounds, or says what to give
        if callable(self._x0):
            return np.array(self._x0(rng), dtype=float).ravel()
        return self._x0.copy()

    @property
    def blocks(self) -> dict[str, slice]:
        return self._blocks


def problem(fun: Callable, *, grad: Callable | None = None, jac: bool = False,
            x0: Start | None = None, bounds: Any = None, f_opt: float | None = None,
            x_opt: Any = None, blocks: Mapping[str, Any] | None = None,
            name: str | None = None) -> FunctionProblem:
    """A problem from a plain function, in scipy's convention.

    Args:
        fun: ``fun(x) -> f`` for a float64 array x of shape (dim,); with ``jac=True``,
            ``fun(x) -> (f, g)``.
        grad: ``grad(x) -> g``, when the gradient is a separate function.
        jac: whether ``fun`` returns the gradient with the value.
        x0: the start: an array, or a function of a ``numpy.random.Generator`` (each run's
            seed draws its own start). Without it, starts are drawn uniformly in ``bounds``.
        bounds: ``(low, high)`` arrays, or scipy's list of ``(low, high)`` pairs per
            coordinate (``None`` for no bound).
        f_opt, x_opt: the known minimum and minimizer, when known (targets on f − f* and on
            the distance to x* need them).
        blocks: named parts of x for the gradient check, ``{name: slice}`` or
            ``{name: size}`` (consecutive, in order; sizes must add up to dim).
        name: the name tables and figures show (default: the function's ``__name__``).
    """
    return FunctionProblem(fun, grad=grad, jac=jac, x0=x0, bounds=bounds, f_opt=f_opt,
                           x_opt=x_opt, blocks=blocks, name=name)


def as_problem(obj: Any, **kwargs: Any) -> Problem:
    """``obj`` if it is already a problem, else ``problem(obj, **kwargs)`` for a callable."""
    if isinstance(obj, Problem) or (not callable(obj) and hasattr(obj, "value")):
        if kwargs:
            raise ParameterError(f"{', '.join(kwargs)}: given with a problem object; these "
                                 "arguments describe a plain function", next(iter(kwargs)))
        return obj
    return problem(obj, **kwargs)


def _name_of(fun: Any) -> str:
    name = getattr(fun, "__name__", "") or type(fun).__name__
    return "function" if name == "<lambda>" else name


def _bounds(owner: str, bounds: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if bounds is None:
        return None
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):  # scipy.optimize.Bounds
        pair = (bounds.lb, bounds.ub)
    else:
        items = list(bounds)
        if len(items) == 2 and all(np.ndim(b) == 1 for b in items) and \
                not all(isinstance(b, tuple) for b in items):
            pair = (items[0], items[1])
        else:  # scipy's per-coordinate pairs, None meaning unbounded
            try:
                pair = tuple(np.array([[-np.inf if lo is None else lo for lo, _ in items],
                                       [np.inf if hi is None else hi for _, hi in items]],
                                      dtype=float))
            except (TypeError, ValueError):
                raise ParameterError(f"{owner}: bounds must be (low, high) arrays or a list "
                                     "of (low, high) pairs", "bounds") from None
    low, high = (np.array(b, dtype=float).ravel() for b in pair)
    if low.shape != high.shape or (low > high).any():
        raise ParameterError(f"{owner}: bounds need low <= high, of one length each",
                             "bounds")
    return low, high


def _dimension(owner: str, x0: Any, bounds: Any, x_opt: Any) -> int:
    if isinstance(x0, np.ndarray):
        return x0.size
    if bounds is not None:
        return bounds[0].size
    if x_opt is not None:
        return x_opt.size
    if callable(x0):  # a function of a Generator: its first draw tells the dimension
        return np.ravel(x0(np.random.default_rng(0))).size
    raise ParameterError(f"{owner}: give x0 (a start, or a function of a numpy Generator) or "
                         "bounds to draw starts from", "x0")


def _blocks(owner: str, blocks: Mapping[str, Any] | None, dim: int) -> dict[str, slice]:
    if blocks is None:
        return {"x": slice(0, dim)}
    out, at = {}, 0
    for name, part in blocks.items():
        if isinstance(part, slice):
            out[name] = slice(*part.indices(dim)[:2])
        elif isinstance(part, int | np.integer) and part > 0:
            out[name], at = slice(at, at + int(part)), at + int(part)
        else:
            raise ParameterError(f"{owner}: blocks[{name!r}] must be a slice or a size > 0, "
                                 f"got {part!r}", "blocks")
    if at and at != dim:
        raise ParameterError(f"{owner}: block sizes add up to {at}, but x has {dim} "
                             "coordinates", "blocks")
    return out
