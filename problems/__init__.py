"""Problems: objectives with value and gradient, found by name.

``problems.make("ackley", dim=2)`` builds one; ``problems.registry`` lists them (built-ins and
plugins alike) with their parameters.
"""

from __future__ import annotations

from typing import Any

from optbench.registry import Registry

from .base import ParameterError, Problem, check_number

__all__ = ["ParameterError", "Problem", "check_number", "make", "registry"]


def _check(cls: type) -> str | None:
    if not isinstance(cls, type) or not issubclass(cls, Problem):
        value = getattr(cls, "value", None)
        if not callable(value):
            return "it defines no value(x) method"
        return None
    if cls.value is Problem.value:
        return "it defines no value(x) method"
    return None


registry = Registry("problem", _check)
for _name, _target in {
    "ackley": "optbench.problems.ackley:Ackley",
    "autoencoder": "optbench.problems.autoencoder:Autoencoder",
    "group_lasso": "optbench.problems.group_lasso:GroupLasso",
    "lstm": "optbench.problems.lstm:LSTM",
    "discriminative": "optbench.problems.discriminative:Discriminative",
}.items():
    registry.add(_name, _target)


def make(name: str, **params: Any) -> Problem:
    """Build the problem registered as ``name`` with ``params`` (validated by its constructor)."""
    return registry.build(name, params)
