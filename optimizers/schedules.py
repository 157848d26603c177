"""Learning-rate schedules: the rate to use at step t = 1, 2, 3, ...

Step numbers start at 1, as in the NAG-on-Ackley thread's ``lr_(t)``. In YAML a schedule is a plain
number (constant) or a mapping with one key naming the kind::

    lr: 0.01
    lr: {piecewise: {boundaries: [5, 10], values: [1.0e-4, 1.0e-2, 0.1]}}
    lr: {exponential: {lr: 0.1, rate: 0.5, steps: 1000}}
    lr: {inverse_time: {lr: 0.1, rate: 1.0, steps: 100}}
    lr: {cosine: {lr: 0.1, steps: 5000, final: 0.0}}

| kind | rate at step t |
| --- | --- |
| constant | lr |
| piecewise | values[i] for boundaries[i-1] <= t < boundaries[i] (values[0] before the first) |
| exponential | lr · rate^((t-1)/steps) |
| inverse_time | lr / (1 + rate · (t-1)/steps) |
| cosine | final + (lr - final) · (1 + cos(π · min(t-1, steps)/steps)) / 2 |

The decays count the steps already taken, t - 1, so step 1 uses ``lr`` itself.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from optbench.registry import ParameterError, check_number

__all__ = ["Constant", "Cosine", "Exponential", "InverseTime", "Piecewise", "Schedule", "schedule"]


class Schedule:
    """A learning rate as a function of the 1-based step number."""

    def __call__(self, t: int) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Schedule):
    lr: float

    def __call__(self, t: int) -> float:
        return self.lr


@dataclass(frozen=True)
class Piecewise(Schedule):
    boundaries: tuple[int, ...]
    values: tuple[float, ...]

    def __call__(self, t: int) -> float:
        return self.values[bisect.bisect_right(self.boundaries, t)]


@dataclass(frozen=True)
class Exponential(Schedule):
    lr: float
    rate: float
    steps: float = 1.0

    def __call__(self, t: int) -> float:
        return self.lr * self.rate ** ((t - 1) / self.steps)


@dataclass(frozen=True)
class InverseTime(Schedule):
    lr: float
    rate: float
    steps: float = 1.0

    def __call__(self, t: int) -> float:
        return self.lr / (1.0 + self.rate * (t - 1) / self.steps)


@dataclass(frozen=True)
class Cosine(Schedule):
    lr: float
    steps: float
    final: float = 0.0

    def __call__(self, t: int) -> float:
        progress = min(t - 1, self.steps) / self.steps
        return self.final + (self.lr - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress))


KINDS: dict[str, type[Schedule]] = {
    "constant": Constant,
    "piecewise": Piecewise,
    "exponential": Exponential,
    "inverse_time": InverseTime,
    "cosine": Cosine,
}


def schedule(owner: str, param: str, spec: Any) -> Schedule:
    """Turn a number or a one-key mapping into a validated Schedule.

    Errors name the optimizer (``owner``), the parameter and what is valid.
    """
    if isinstance(spec, Schedule):
        return spec
    if not isinstance(spec, Mapping):
        return Constant(_rate(owner, param, spec))
    if len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise ParameterError(
            f"{owner}: parameter {param!r} must be a number > 0 or a mapping with one key of "
            f"{', '.join(KINDS)}, got {dict(spec)!r}",
            param,
        )
    kind, args = next(iter(spec.items()))
    where = f"{param}.{kind}"
    if kind == "constant" and not isinstance(args, Mapping):
        args = {"lr": args}
    if not isinstance(args, Mapping):
        raise ParameterError(f"{owner}: parameter {where!r} must be a mapping, got {args!r}", where)
    builder = globals()[f"_{kind}"]
    try:
        return builder(owner, where, **args)
    except TypeError as e:  # a missing or unknown key
        fields = ", ".join(KINDS[kind].__dataclass_fields__)
        raise ParameterError(f"{owner}: parameter {where!r} takes {fields}: {e}", where) from None


def _rate(owner: str, param: str, value: Any) -> float:
    return check_number(owner, param, value, low=0, low_open=True)


def _constant(owner: str, where: str, lr: float) -> Schedule:
    return Constant(_rate(owner, f"{where}.lr", lr))


def _piecewise(owner: str, where: str, boundaries: list, values: list) -> Schedule:
    if not isinstance(boundaries, list) or not isinstance(values, list):
        raise ParameterError(
            f"{owner}: parameter {where!r} needs lists for boundaries and values", where
        )
    if len(values) != len(boundaries) + 1:
        raise ParameterError(
            f"{owner}: parameter {where!r} needs one more value than boundaries "
            f"(got {len(boundaries)} boundaries and {len(values)} values)",
            where,
        )
    steps = [check_number(owner, f"{where}.boundaries", b, low=1, integer=True)
             for b in boundaries]
    if steps != sorted(set(steps)):
        raise ParameterError(
            f"{owner}: parameter '{where}.boundaries' must increase strictly, got {boundaries}",
            f"{where}.boundaries",
        )
    rates = [_rate(owner, f"{where}.values", v) for v in values]
    return Piecewise(tuple(steps), tuple(rates))


def _exponential(owner: str, where: str, lr: float, rate: float, steps: float = 1.0) -> Schedule:
    return Exponential(
        _rate(owner, f"{where}.lr", lr),
        check_number(owner, f"{where}.rate", rate, low=0, high=1, low_open=True),
        _rate(owner, f"{where}.steps", steps),
    )


def _inverse_time(owner: str, where: str, lr: float, rate: float, steps: float = 1.0) -> Schedule:
    return InverseTime(
        _rate(owner, f"{where}.lr", lr),
        check_number(owner, f"{where}.rate", rate, low=0),
        _rate(owner, f"{where}.steps", steps),
    )


def _cosine(owner: str, where: str, lr: float, steps: float, final: float = 0.0) -> Schedule:
    lr = _rate(owner, f"{where}.lr", lr)
    return Cosine(
        lr,
        _rate(owner, f"{where}.steps", steps),
        check_number(owner, f"{where}.final", final, low=0, high=lr),
    )
