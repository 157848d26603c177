"""Optimizers behind one step interface, found by name.

``optimizers.make("adam", lr=0.01)`` builds one, and so does ``optimizers.make("scipy:BFGS")``
for the families that wrap libraries (scipy, cma, nevergrad, optax); ``optimizers.registry``
lists them (built-ins and plugins alike) with their hyperparameters, defaults and valid ranges.
``new_registry()`` is a registry of the built-ins alone, for a harness (or a test) that keeps
its plugins apart.
"""

from __future__ import annotations

from typing import Any

from optbench.registry import Registry, check_list_params, check_method, declared

from .base import BudgetExhausted, Optimizer, ParameterError, PlainOracle, check_number, run

__all__ = [
    "BudgetExhausted",
    "Optimizer",
    "ParameterError",
    "PlainOracle",
    "check_number",
    "make",
    "new_registry",
    "registry",
    "run",
]

BUILTINS = {
    "nag": "optbench.optimizers.nag:NAG",
    "adam": "optbench.optimizers.adam:Adam",
    "adagrad": "optbench.optimizers.adagrad:Adagrad",
    "lbfgsb": "optbench.optimizers.lbfgsb:LBFGSB",
    "nelder-mead": "optbench.optimizers.nelder_mead:NelderMead",
}

# families: names spelled PREFIX:MEMBER (cma alone), classes made from the wrapped library
FAMILIES = {
    "scipy": "optbench.optimizers.scipy_family:family",
    "cma": "optbench.optimizers.cma_es:family",
    "nevergrad": "optbench.optimizers.nevergrad_family:family",
    "optax": "optbench.optimizers.optax_family:family",
}

# (method, its arguments after self, what they are): the calls the runner makes
METHODS = (
    ("start", ("oracle", "x0"), "the oracle and the start point x0"),
    ("step", (), ""),
)


def _check(cls: type) -> str | None:
    """Why ``cls`` is not an optimizer the runner can drive, or None (see ``Optimizer``)."""
    if not isinstance(cls, type):
        return f"it is not a class but {type(cls).__name__}"
    for method, _, _ in METHODS:
        if not callable(getattr(cls, method, None)):
            return f"it defines no {method}() method"
    if issubclass(cls, Optimizer) and cls.step is Optimizer.step:
        return "it defines no step() method"
    for method, args, what in METHODS:
        why = check_method(cls, method, args, what)
        if why:
            return why
    return check_list_params(cls, declared(cls, Optimizer, "list_params"))


def new_registry() -> Registry:
    """A registry holding the built-in optimizers alone (imported when first used)."""
    fresh = Registry("optimizer", _check)
    for name, target in BUILTINS.items():
        fresh.add(name, target)
    for prefix, target in FAMILIES.items():
        fresh.add_family(prefix, target)
    return fresh


registry = new_registry()


def make(name: str, **hyperparameters: Any) -> Optimizer:
    """Build the optimizer registered as ``name``; hyperparameters are validated."""
    return registry.build(name, hyperparameters)
