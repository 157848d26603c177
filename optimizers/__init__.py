"""Optimizers behind one step interface, found by name.

``optimizers.make("adam", lr=0.01)`` builds one; ``optimizers.registry`` lists them (built-ins
and plugins alike) with their hyperparameters, defaults and valid ranges.
"""

from __future__ import annotations

from typing import Any

from optbench.registry import Registry

from .base import BudgetExhausted, Optimizer, ParameterError, PlainOracle, check_number, run

__all__ = [
    "BudgetExhausted",
    "Optimizer",
    "ParameterError",
    "PlainOracle",
    "check_number",
    "make",
    "registry",
    "run",
]


def _check(cls: type) -> str | None:
    for method in ("start", "step"):
        if not callable(getattr(cls, method, None)):
            return f"it defines no {method}() method"
    if issubclass(cls, Optimizer) and cls.step is Optimizer.step:
        return "it defines no step() method"
    return None


registry = Registry("optimizer", _check)
for _name, _target in {
    "nag": "optbench.optimizers.nag:NAG",
    "adam": "optbench.optimizers.adam:Adam",
    "adagrad": "optbench.optimizers.adagrad:Adagrad",
    "lbfgsb": "optbench.optimizers.lbfgsb:LBFGSB",
    "nelder-mead": "optbench.optimizers.nelder_mead:NelderMead",
}.items():
    registry.add(_name, _target)


def make(name: str, **hyperparameters: Any) -> Optimizer:
    """Build the optimizer registered as ``name``; hyperparameters are validated."""
    return registry.build(name, hyperparameters)
