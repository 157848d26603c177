"""optbench: check a loss's gradient, benchmark optimizers on it, and show the results.

The names a script or notebook types are the ones listed in ``__all__``; each is imported on
first use, so ``import optbench`` (and ``optbench --help``) stays cheap::

    import optbench
    p = optbench.problem(lambda x: float(x @ x), grad=lambda x: 2 * x, x0=[1.0, 2.0])
    print(optbench.check_gradient(p))
    result = optbench.run(p, "adam", lr=0.1, budget={"iterations": 200})
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import _legacy

__version__ = "0.2.0"

# public name -> the module that defines it (imported when the name is first used)
_EXPORTS = {
    "problem": "optbench.problems.function",
    "jax_problem": "optbench.problems.jax_problem",
    "check_gradient": "optbench.bench.check.api",
    "GradientCheck": "optbench.bench.check.api",
    "run": "optbench.bench.api.single",
    "RunResult": "optbench.bench.api.single",
    "sweep": "optbench.bench.api.results",
    "load": "optbench.bench.api.results",
    "tune": "optbench.bench.api.tune",
    "TuneResults": "optbench.bench.api.tune",
    "Results": "optbench.bench.api.results",
    "Status": "optbench.bench.results.status",
    "Problem": "optbench.problems.base",
    "Optimizer": "optbench.optimizers.base",
    "check_number": "optbench.registry",
    "OptbenchError": "optbench.errors",
    "ConfigError": "optbench.errors",
    "UsageError": "optbench.errors",
    "ParameterError": "optbench.errors",
    "RegistryError": "optbench.errors",
    "DataError": "optbench.errors",
    "ResultsError": "optbench.errors",
}

__all__ = [
    "ConfigError", "DataError", "GradientCheck", "OptbenchError", "Optimizer", "ParameterError",
    "Problem", "RegistryError", "Results", "ResultsError", "RunResult", "Status", "TuneResults",
    "UsageError", "__version__", "check_gradient", "check_number", "jax_problem", "load",
    "optimizers", "problem", "problems", "run", "sweep", "tune",
]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily
    from optbench import optimizers, problems
    from optbench.bench.api.results import Results, load, sweep
    from optbench.bench.api.single import RunResult, run
    from optbench.bench.api.tune import TuneResults, tune
    from optbench.bench.check.api import GradientCheck, check_gradient
    from optbench.bench.results.status import Status
    from optbench.errors import (
        ConfigError,
        DataError,
        OptbenchError,
        ParameterError,
        RegistryError,
        ResultsError,
        UsageError,
    )
    from optbench.optimizers.base import Optimizer
    from optbench.problems.base import Problem
    from optbench.problems.function import problem
    from optbench.problems.jax_problem import jax_problem
    from optbench.registry import check_number


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # looked up once
        return value
    if name in ("optimizers", "problems", "bench"):
        return importlib.import_module(f"optbench.{name}")
    raise AttributeError(f"module 'optbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


_legacy.install()
