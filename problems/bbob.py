"""COCO's bbob suite: 24 noiseless black-box functions, evaluated by cocoex (optbench[coco]).

    problems:
      - bbob: {function: 8, dim: 10, instance: 3}   # one function, one instance
      - bbob: {function: all, dim: [2, 5, 10]}       # the suite: 24 functions × 3 dimensions

Values come from ``cocoex.BareProblem``, the C code of COCO's own experiments; f* is its
``best_value()`` and x* its ``best_parameter()`` (cocoex's public accessors of the instance's
optimum; value(x*) == f* exactly for every function). No COCO observer is ever attached: it
would log evaluations the optimizer never asked for (the harness's own records, the gradient
check) and write a folder per problem built; ``optbench export --coco`` writes COCO's format
from what the runs paid for instead.

Value only: the harness differences the gradient and charges it 2·dim evaluations, as for any
black-box problem. Bounds [-5, 5]^d, COCO's search domain, where each run's start is drawn
uniformly from its seed.

``function`` is 1..24; in a sweep config it may also be ``all`` (the 24) or a group's name, which
the grid expands (``expand``): separable (f1–f5), moderate (f6–f9: low or moderate
conditioning), ill-conditioned (f10–f14), multi-modal (f15–f19: adequate global structure),
weakly-structured (f20–f24). Tables and figures name the function and its group (``title``).

``instance`` is COCO's instance number, 1..100,000 (cocoex seeds its random transformations
with f + 10,000·instance; larger instances wrap around to earlier ones). Left null, each run
takes instance = seed + 1 (``run_seeded``): seeds 0..14 are instances 1..15, each with its own
x* and f*, and a configuration's runs average over instances as COCO's trials do. Built outside
a run (``optbench check bbob``), a null instance is instance 1.

Reference: N. Hansen, S. Finck, R. Ros, A. Auger, "Real-parameter black-box optimization
benchmarking 2009: noiseless functions definitions", INRIA RR-6829, 2009; N. Hansen et al.,
"COCO: a platform for comparing continuous optimizers in a black-box setting", Optimization
Methods and Software 36(1), 2021.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optbench._coco import FUNCTIONS, GROUPS, group_of
from optbench.errors import ParameterError, UsageError

from .base import Problem, check_number

DOMAIN = 5.0
MAX_INSTANCE = 100_000
EXTRA = "problem 'bbob' needs cocoex (COCO's experiment module): pip install 'optbench[coco]'"
SUITE = ("all", *GROUPS)


def _cocoex():
    try:
        import cocoex
    except ImportError:
        raise UsageError(EXTRA) from None
    return cocoex


class BBOB(Problem):
    name = "bbob"
    run_seeded = "instance"  # null: instance = seed + 1 (run_seed_value)
    param_docs = {
        "function": "1..24 (" + ", ".join(f"{k} {v}" for k, v in FUNCTIONS.items()) + "); in a "
                    "sweep also 'all' or a group: " + ", ".join(GROUPS),
        "dim": "dimension d >= 2",
        "instance": f"COCO's instance 1..{MAX_INSTANCE:,}; null: the run's seed + 1 (1 outside "
                    "a run)",
    }

    def __init__(self, function: int | str = 1, dim: int = 2, instance: int | None = None):
        if isinstance(function, str) and function in SUITE:
            raise ParameterError(
                f"bbob: parameter 'function': {function!r} stands for several functions in a "
                "sweep config's grid; one problem takes one function, 1..24", "function")
        self.function = check_number(self.name, "function", function, low=1, high=24,
                                     integer=True)
        self.dim = check_number(self.name, "dim", dim, low=2, integer=True)
        self.instance = 1 if instance is None else check_number(
            self.name, "instance", instance, low=1, high=MAX_INSTANCE, integer=True)
        self._fn = _cocoex().BareProblem("bbob", self.function, self.dim, self.instance)
        self.f_opt = float(self._fn.best_value())
        self.x_opt = np.array(self._fn.best_parameter(), dtype=float)
        self.bounds = (np.full(self.dim, -DOMAIN), np.full(self.dim, DOMAIN))

    def value(self, x: np.ndarray) -> float:
        return float(self._fn(self.as_point(x)))

    def __reduce__(self):  # cocoex's C object does not pickle: rebuild it from the parameters
        return type(self), (self.function, self.dim, self.instance)

    # -- what the harness asks of the class ----------------------------------------------------
    @classmethod
    def run_seed_value(cls, seed: int) -> int:
        """A null instance takes the run's seed + 1: seeds start at 0, COCO's instances at 1."""
        return seed + 1

    @classmethod
    def expand(cls, param: str, value: Any) -> list | None:
        """``function: all`` is the 24 functions, ``function: separable`` its group's."""
        if param != "function" or not isinstance(value, str):
            return None
        if value == "all":
            return list(FUNCTIONS)
        return list(GROUPS[value]) if value in GROUPS else None

    @classmethod
    def title(cls, params: dict[str, Any]) -> str | None:
        """``bbob f8 Rosenbrock original (moderate), 2-D`` (and ``, instance 3`` when fixed)."""
        function, dim = params.get("function", 1), params.get("dim", 2)
        if function not in FUNCTIONS:
            return None
        text = f"bbob f{function} {FUNCTIONS[function]} ({group_of(function)}), {dim}-D"
        instance = params.get("instance")
        return text if instance is None else f"{text}, instance {instance}"

    def describe(self) -> str:
        return (f"bbob f{self.function} {FUNCTIONS[self.function]} "
                f"({group_of(self.function)}), {self.dim}-D, instance {self.instance}")
