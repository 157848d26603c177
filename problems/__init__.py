"""Problems: objectives with value and gradient, found by name.

``problems.make("ackley", dim=2)`` builds one; ``problems.registry`` lists them (built-ins and
plugins alike) with their parameters. ``new_registry()`` is a registry of the built-ins alone,
for a harness (or a test) that keeps its plugins apart from this one.
"""

from __future__ import annotations

from typing import Any

from optbench.registry import Registry, check_list_params, check_method, constructor, declared

from .base import ParameterError, Problem, check_number

__all__ = ["ParameterError", "Problem", "check_number", "make", "new_registry", "registry"]

BUILTINS = {
    "ackley": "optbench.problems.ackley:Ackley",
    "autoencoder": "optbench.problems.autoencoder:Autoencoder",
    "group_lasso": "optbench.problems.group_lasso:GroupLasso",
    "lstm": "optbench.problems.lstm:LSTM",
    "discriminative": "optbench.problems.discriminative:Discriminative",
    "bbob": "optbench.problems.bbob:BBOB",  # needs cocoex (optbench[coco]) when built
    "rosenbrock": "optbench.problems.rosenbrock:Rosenbrock",
    "jax": "optbench.problems.jax_problem:JaxLoss",  # needs jax (optbench[jax]) when built
}

# (method, its arguments after self, what they are): the calls the harness makes
METHODS = (
    ("value", ("x",), "the point x"),
    ("grad", ("x",), "the point x"),
    ("value_and_grad", ("x",), "the point x"),
    ("initial_point", ("rng",), "the random generator rng"),
)


def _check(cls: type) -> str | None:
    """Why ``cls`` is not a problem the harness can use, or None (see ``Problem``)."""
    if not isinstance(cls, type):
        return f"it is not a class but {type(cls).__name__}"
    if not callable(getattr(cls, "value", None)) or (
            issubclass(cls, Problem) and cls.value is Problem.value):
        return "it defines no value(x) method"
    for method, args, what in METHODS:
        why = check_method(cls, method, args, what)
        if why:
            return why
    seeded = declared(cls, Problem, "run_seeded")
    if seeded is not None:
        ctor = constructor(cls)
        if not isinstance(seeded, str) or (seeded not in ctor.names and not ctor.takes_any):
            valid = ", ".join(ctor.names) or "none"
            return (f"run_seeded must be None or the name of a constructor parameter "
                    f"({valid}), got {seeded!r}")
    return check_list_params(cls, declared(cls, Problem, "list_params"))


def new_registry() -> Registry:
    """A registry holding the built-in problems alone (imported when first used)."""
    fresh = Registry("problem", _check)
    for name, target in BUILTINS.items():
        fresh.add(name, target)
    return fresh


registry = new_registry()


def make(name: str, **params: Any) -> Problem:
    """Build the problem registered as ``name`` with ``params`` (validated by its constructor)."""
    return registry.build(name, params)
