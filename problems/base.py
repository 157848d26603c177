"""The problem contract: what every objective offers the optimizers and the harness.

A problem is a class whose constructor takes its parameters (validated there) and whose
instances give ``value(x)`` and, when known, ``grad(x)`` or a fused ``value_and_grad(x)``.
A problem that defines only ``value`` gets a central finite-difference gradient from this base
and says so through ``gradient == "finite-difference"``; such a gradient costs ``2 * dim``
evaluations of ``value``, which ``grad_cost`` reports so that a counting oracle can charge it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from optbench.registry import ParameterError, check_number

__all__ = ["ParameterError", "Problem", "central_difference", "check_number"]

# Step for central differences: cbrt(machine eps) balances truncation (h^2) and rounding (eps/h).
_FD_STEP = np.finfo(float).eps ** (1 / 3)


def central_difference(
    value, x: np.ndarray, idx: np.ndarray | None = None, step: float = _FD_STEP
) -> np.ndarray:
    """Central-difference derivatives of the scalar function ``value`` at ``x``.

    Along the coordinates ``idx`` (default: all). The step is scaled per coordinate,
    h_i = step * max(1, |x_i|), and the denominator is the representable difference
    (x_i + h_i) - (x_i - h_i), not 2 h_i.
    """
    x = np.asarray(x, dtype=float)
    idx = np.arange(x.size) if idx is None else np.asarray(idx)
    h = step * np.maximum(1.0, np.abs(x[idx]))
    up, down = x[idx] + h, x[idx] - h
    span = up - down
    d = np.empty(idx.size)
    xp = x.copy()
    for n, i in enumerate(idx):
        xp[i] = up[n]
        f_up = value(xp)
        xp[i] = down[n]
        f_down = value(xp)
        xp[i] = x[i]
        d[n] = (f_up - f_down) / span[n]
    return d


class Problem:
    """Base class and contract of a problem (see DESIGN.md, "Problem contract").

    Subclasses set ``name`` and ``dim`` and define ``value``; they define ``grad`` and/or
    ``value_and_grad`` when the gradient is known. Optional: ``bounds``, ``x_opt``, ``f_opt``,
    ``blocks`` (named slices of x, for per-block gradient checks), ``smooth`` (False when the
    objective has kinks where smooth methods may stall), ``param_docs`` (for ``optbench list``),
    and what the harness reads from the class before building it: ``run_seeded`` and
    ``list_params`` (below), and the class methods ``run_seed_value``, ``expand`` and
    ``title``. The registry checks the method signatures and the two attributes when the class
    is registered; the three class methods are asked of Problem subclasses only.
    """

    name: ClassVar[str] = ""
    gradient: ClassVar[str] = "analytic"  # or "finite-difference", set automatically
    smooth: ClassVar[bool] = True
    param_docs: ClassVar[dict[str, str]] = {}
    run_seeded: ClassVar[str | None] = None
    """The constructor parameter that the run's seed fills when a sweep config leaves it null
    (or out), so that each seed of a sweep gets its own instance (the LSTM's minibatch:
    ``"seed"``). None: the seed only draws the initial point."""
    object_params: ClassVar[tuple[str, ...]] = ()
    """Constructor parameters that take Python objects (a function, an array), which a sweep
    config names as a string, ``module:name`` or ``file.py:name`` (relative to the config):
    the harness imports the object and passes it (the ``jax`` problem's ``loss``)."""
    list_params: ClassVar[dict[str, int]] = {}
    """Constructor parameters that take a list as one value, and how many list levels make one
    value (a point ``x0: [1, 2]``: 1; a matrix: 2). In a sweep config a list nested deeper than
    that sweeps over its items; a parameter not named here takes no list, so any list sweeps."""

    @classmethod
    def run_seed_value(cls, seed: int) -> Any:
        """The value the run's seed gives the ``run_seeded`` parameter: the seed itself by
        default (bbob: seed + 1, since COCO's instances start at 1)."""
        return seed

    @classmethod
    def expand(cls, param: str, value: Any) -> list | None:
        """The values ``param: value`` in a sweep config stands for, when it names several
        (bbob's ``function: all`` is its 24 functions): the grid sweeps over them as over a
        list written out. None (the default): the value is taken as written."""
        return None

    @classmethod
    def title(cls, params: dict[str, Any]) -> str | None:
        """The name tables and figures give the problem built from ``params`` (as the config
        writes them, defaults left out), e.g. ``bbob f8 Rosenbrock original (moderate), 2-D``.
        None (the default): ``name(param=value, ...)``. It must tell apart every two parameter
        sets of one sweep, since the report groups runs by it."""
        return None

    dim: int
    bounds: tuple[np.ndarray, np.ndarray] | None = None
    x_opt: np.ndarray | None = None
    f_opt: float | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        has_grad = _defines(cls, "grad")
        has_vg = _defines(cls, "value_and_grad")
        if has_vg and not has_grad:
            cls.grad = _grad_from_value_and_grad
        if not (has_grad or has_vg):
            cls.gradient = "finite-difference"
            cls.grad = _finite_difference_grad

    # -- the contract ------------------------------------------------------------------------
    def value(self, x: np.ndarray) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not define value(x)")

    def grad(self, x: np.ndarray) -> np.ndarray:
        return _finite_difference_grad(self, x)

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        return self.value(x), self.grad(x)

    def initial_point(self, rng: np.random.Generator) -> np.ndarray:
        """A start drawn from ``rng``: uniform in the bounds when there are bounds."""
        if self.bounds is None:
            raise NotImplementedError(
                f"{type(self).__name__} has no bounds: define initial_point(rng)"
            )
        low, high = self.bounds
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            # rng.uniform cannot draw from an infinite interval (it raises a bare OverflowError)
            raise NotImplementedError(
                f"{type(self).__name__} has infinite bounds, so no uniform start can be drawn: "
                "define initial_point(rng) or give finite bounds"
            )
        return rng.uniform(low, high)

    def as_point(self, x) -> np.ndarray:
        """``x`` as a float64 array of shape (dim,), else ValueError naming that shape.

        Free for a float64 array of the right shape (np.asarray does not copy it), so problems
        call it first thing in ``value``/``value_and_grad``, the hot path of every run.
        """
        x = np.asarray(x, dtype=float)
        if x.shape != (self.dim,):
            raise ValueError(
                f"{self.name or type(self).__name__}: x must have shape ({self.dim},), "
                f"got shape {x.shape}"
            )
        return x

    # -- helpers the harness uses --------------------------------------------------------------
    @property
    def grad_cost(self) -> int:
        """Evaluations of ``value`` one gradient costs: 0 when analytic, 2*dim by differences."""
        return 2 * self.dim if self.gradient == "finite-difference" else 0

    @property
    def blocks(self) -> dict[str, slice]:
        """Named parts of x (the autoencoder's W1, W2, b1, b2); one block "x" by default."""
        return {"x": slice(0, self.dim)}

    def describe(self) -> str:
        return f"{self.name} (dim {self.dim})"


def _defines(cls: type, attr: str) -> bool:
    """Whether ``cls`` or a base below Problem defines ``attr`` itself."""
    for klass in cls.__mro__:
        if klass is Problem:
            return False
        if attr in vars(klass) and vars(klass)[attr] not in _FALLBACKS:
            return True
    return False


def _finite_difference_grad(self: Problem, x: np.ndarray) -> np.ndarray:
    return central_difference(self.value, x)


def _grad_from_value_and_grad(self: Problem, x: np.ndarray) -> np.ndarray:
    return self.value_and_grad(x)[1]


_FALLBACKS = (_finite_difference_grad, _grad_from_value_and_grad)
