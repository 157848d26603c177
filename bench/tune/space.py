"""Search spaces: what a tune config lets the sampler choose, and how a choice becomes parameters.

Each hyperparameter of an optimizer entry is a fixed value (as in a sweep) or a distribution::

    lr: {loguniform: [1.0e-4, 1.0]}        # log-uniform on [low, high], low > 0
    momentum: {uniform: [0.0, 0.99]}       # uniform on [low, high]
    maxcor: {int: [3, 30]}                 # an integer in [low, high]; `log: true` for log-spaced
    adaptive: {choice: [true, false]}      # one of these values
    lr: {search: [constant, exponential, cosine, piecewise]}   # a schedule family and its ranges

A ``search`` may also map families to the ranges that replace their defaults
(``{search: {cosine: {steps: {int: [100, 5000]}}, constant: null}}``). The families and their
default ranges (B is the run's budget: iterations, else evaluations, else 10,000):

- constant: lr ~ loguniform[1e-4, 1]; runs ``lr``.
- exponential: lr; rate ~ uniform[0.05, 0.95]; steps ~ log-int[10, B].
- inverse_time: lr; rate ~ loguniform[0.01, 100]; steps ~ log-int[10, B].
- cosine: lr; steps ~ log-int[10, B] (down to 0).
- piecewise: lr; hold ~ int[1, B]; every ~ log-int[10, B/10]; drops ~ int[1, 8];
  factor ~ uniform[0.05, 0.9]: lr until step ``hold``, then × factor every ``every`` steps,
  ``drops`` times (run as ``{piecewise: {boundaries, values}}``).

Sampled floats are rounded to 4 significant digits before they are run, so the runs' labels
read like a person's config; the study keeps the sampler's own values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from optbench.bench.errors import ConfigError

DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice", "search")
FAMILIES = ("constant", "exponential", "inverse_time", "cosine", "piecewise")
SIGNIFICANT = 4


class SpaceError(ValueError):
    """A mistake in a space; ``where`` is its key path below the hyperparameter."""

    def __init__(self, where: str, message: str):
        super().__init__(message)
        self.where = where


# -- distributions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Fixed:
    value: Any

    def draw(self, name: str, draw: Draw) -> Any:
        return self.value

    def corners(self) -> list[Any]:
        return [self.value]

    def describe(self) -> Any:
        return self.value


@dataclass(frozen=True)
class Float:
    low: float
    high: float
    log: bool = False

    def distribution(self):
        from optuna.distributions import FloatDistribution

        return FloatDistribution(self.low, self.high, log=self.log)

    def draw(self, name: str, draw: Draw) -> float:
        return _round(float(draw(name, self.distribution())))

    def corners(self) -> list[Any]:
        return [self.low, self.high]

    def describe(self) -> Any:
        return {"loguniform" if self.log else "uniform": [self.low, self.high]}


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    log: bool = False

    def distribution(self):
        from optuna.distributions import IntDistribution

        return IntDistribution(self.low, self.high, log=self.log)

    def draw(self, name: str, draw: Draw) -> int:
        return int(draw(name, self.distribution()))

    def corners(self) -> list[Any]:
        return [self.low, self.high]

    def describe(self) -> Any:
        return {"int": [self.low, self.high], **({"log": True} if self.log else {})}


@dataclass(frozen=True)
class Choice:
    values: tuple

    def distribution(self):
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.values)

    def draw(self, name: str, draw: Draw) -> Any:
        return draw(name, self.distribution())

    def corners(self) -> list[Any]:
        return list(self.values)

    def describe(self) -> Any:
        return {"choice": list(self.values)}


@dataclass(frozen=True)
class Family:
    """A schedule family: its parameters' spaces, and how a draw becomes a schedule mapping."""

    name: str
    params: tuple[tuple[str, Any], ...]  # (parameter, Fixed | Float | Int | Choice)

    def schedule(self, values: dict[str, Any]) -> Any:
        if self.name == "constant":
            return values["lr"]
        if self.name == "piecewise":
            return piecewise(**values)
        return {self.name: values}


@dataclass(frozen=True)
class Search:
    """A learning-rate schedule searched over families (each with its parameters' spaces)."""

    families: tuple[Family, ...]

    def draw(self, name: str, draw: Draw) -> Any:
        names = tuple(f.name for f in self.families)
        chosen = draw(name, Choice(names).distribution()) if len(names) > 1 else names[0]
        family = self.families[names.index(chosen)]
        values = {p: space.draw(f"{name}.{family.name}.{p}", draw) for p, space in family.params}
        return family.schedule(values)

    def corners(self) -> list[Any]:
        out = []
        for family in self.families:
            for end in (0, -1):
                values = {p: s.corners()[end] for p, s in family.params}
                out.append(family.schedule(values))
        return out

    def describe(self) -> Any:
        return {"search": {f.name: {p: s.describe() for p, s in f.params}
                           for f in self.families}}


Draw = Callable[[str, Any], Any]  # (Optuna parameter name, distribution) -> value


def piecewise(lr: float, hold: int, every: int, drops: int, factor: float) -> dict[str, Any]:
    """lr until step ``hold``, then multiplied by ``factor`` every ``every`` steps, ``drops``
    times: the piecewise schedule this family stands for."""
    boundaries = [int(hold) + k * int(every) for k in range(int(drops))]
    values = [_round(lr * factor**k) for k in range(int(drops) + 1)]
    return {"piecewise": {"boundaries": boundaries, "values": values}}


def _round(x: float) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{SIGNIFICANT}g}")


def default_families(horizon: int) -> dict[str, dict[str, Any]]:
    """Each family's parameters and their default spaces, for runs of ``horizon`` steps."""
    horizon = max(int(horizon), 1000)
    lr = Float(1e-4, 1.0, log=True)
    steps = Int(10, horizon, log=True)
    return {
        "constant": {"lr": lr},
        "exponential": {"lr": lr, "rate": Float(0.05, 0.95), "steps": steps},
        "inverse_time": {"lr": lr, "rate": Float(0.01, 100.0, log=True), "steps": steps},
        "cosine": {"lr": lr, "steps": steps},
        "piecewise": {"lr": lr, "hold": Int(1, horizon), "every": Int(10, horizon // 10, log=True),
                      "drops": Int(1, 8), "factor": Float(0.05, 0.9)},
    }


# -- a whole space ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Space:
    """An optimizer entry's hyperparameters: name -> Fixed or a distribution, in config order."""

    params: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    @property
    def searched(self) -> list[str]:
        return [name for name, p in self.params if not isinstance(p, Fixed)]

    def draw(self, draw: Draw) -> dict[str, Any]:
        """The optimizer's parameters for one trial (``draw`` asks the sampler, in order)."""
        return {name: p.draw(name, draw) for name, p in self.params}

    def suggest(self, trial) -> dict[str, Any]:
        """Draw through an Optuna trial (its stored values come back as they are)."""
        return self.draw(lambda name, dist: _suggest(trial, name, dist))

    def from_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters of a finished trial, from its Optuna params."""
        return self.draw(lambda name, _dist: params[name])

    def fixed(self) -> dict[str, Any]:
        return {name: p.value for name, p in self.params if isinstance(p, Fixed)}

    def describe(self) -> dict[str, Any]:
        """The space as data (stored with the study: an edited space is a different study)."""
        return {name: p.describe() for name, p in self.params}


def parse_space(params: Mapping[str, Any], horizon: int,
                is_value_list: Callable[[str, Any], bool]) -> Space:
    """A Space from an optimizer entry's mapping; raises SpaceError (key path below the entry).

    ``is_value_list(name, value)`` says whether a list is that parameter's value (Nelder-Mead's
    initial_simplex) rather than a grid, which a tune config does not take.
    """
    out = []
    for name, value in params.items():
        if isinstance(value, list) and not is_value_list(name, value):
            raise SpaceError(name, "a list is a grid, which a tune config does not sweep; "
                                   f"write {{choice: {_flow(value)}}} to let the sampler pick "
                                   "among these values")
        out.append((name, parse_param(name, value, horizon)))
    return Space(tuple(out))


def parse_param(where: str, value: Any, horizon: int) -> Any:
    if not (isinstance(value, Mapping) and len(value) >= 1 and next(iter(value)) in DISTRIBUTIONS):
        return Fixed(value)
    kind = next(iter(value))
    extra = [k for k in value if k != kind]
    if extra and not (kind == "int" and extra == ["log"]):
        allowed = "only `log: true` beside `int`" if kind == "int" else f"only the key {kind}"
        raise SpaceError(f"{where}.{extra[0]}", f"unknown key beside {kind!r}; {allowed}")
    args = value[kind]
    if kind == "search":
        return _search(f"{where}.search", args, horizon)
    if kind == "choice":
        return _choice(f"{where}.choice", args)
    low, high = _bounds(f"{where}.{kind}", kind, args)
    if kind == "int":
        log = value.get("log", False)
        if not isinstance(log, bool):
            raise SpaceError(f"{where}.log", f"must be true or false, got {log!r}")
        if log and low < 1:
            raise SpaceError(f"{where}.int", f"a log-spaced range needs low >= 1, got {low}")
        return Int(low, high, log)
    return Float(float(low), float(high), log=kind == "loguniform")


def _bounds(where: str, kind: str, args: Any) -> tuple:
    what = "integers" if kind == "int" else "numbers"
    shape = f"[low, high] with low < high, {what}" + (", low > 0" if kind == "loguniform" else "")
    if not (isinstance(args, list) and len(args) == 2):
        raise SpaceError(where, f"must be {shape}, got {args!r}")
    ok = (lambda v: isinstance(v, int) and not isinstance(v, bool)) if kind == "int" else \
        (lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
    if not all(ok(v) for v in args):
        raise SpaceError(where, f"must be {shape}, got {args!r}")
    low, high = args
    if not low < high:
        raise SpaceError(where, f"needs low < high, got {args!r}")
    if kind == "loguniform" and low <= 0:
        raise SpaceError(where, f"a log-uniform range needs low > 0, got {args!r}")
    return low, high


def _choice(where: str, args: Any) -> Choice:
    if not (isinstance(args, list) and args):
        raise SpaceError(where, f"must be a non-empty list of values, got {args!r}")
    for i, v in enumerate(args):
        if not (v is None or isinstance(v, bool | int | float | str)):
            raise SpaceError(f"{where}[{i}]", "each choice must be a number, true/false, a "
                                              f"string or null, got {v!r}")
        if isinstance(v, float) and not math.isfinite(v):
            raise SpaceError(f"{where}[{i}]", f"must be a finite number, got {v!r}")
    seen = []
    for i, v in enumerate(args):
        if any(v == s and type(v) is type(s) for s in seen):
            raise SpaceError(f"{where}[{i}]", f"{v!r} is listed twice")
        seen.append(v)
    return Choice(tuple(args))


def _search(where: str, args: Any, horizon: int) -> Search:
    valid = ", ".join(FAMILIES)
    if isinstance(args, list):
        args = dict.fromkeys(args)
        if not args:
            raise SpaceError(where, f"must name at least one family of {valid}")
    if not isinstance(args, Mapping) or not args:
        raise SpaceError(where, f"must be a list of families ({valid}) or a mapping from "
                                f"families to ranges, got {args!r}")
    defaults = default_families(horizon)
    families = []
    for name, overrides in args.items():
        if name not in defaults:
            raise SpaceError(f"{where}.{name}" if isinstance(name, str) else where,
                             f"unknown schedule family {name!r}; valid: {valid}")
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, Mapping):
            raise SpaceError(f"{where}.{name}", "must be a mapping from parameters to ranges "
                                                f"or values, or null, got {overrides!r}")
        params = dict(defaults[name])
        for key, spec in overrides.items():
            if key not in params:
                raise SpaceError(f"{where}.{name}.{key}", f"unknown parameter of the {name} "
                                                          f"family; valid: {', '.join(params)}")
            if isinstance(spec, Mapping) and spec and next(iter(spec)) == "search":
                raise SpaceError(f"{where}.{name}.{key}", "a family's parameter cannot be "
                                                          "searched over families")
            params[key] = parse_param(f"{where}.{name}.{key}", spec, horizon)
        families.append(Family(name, tuple(params.items())))
    return Search(tuple(families))


def _suggest(trial, name: str, dist) -> Any:
    from optuna.distributions import FloatDistribution, IntDistribution

    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    return trial.suggest_categorical(name, dist.choices)


def _flow(value: Any) -> str:
    import json

    return json.dumps(value)


def space_error(path, entry_where: str, e: SpaceError) -> ConfigError:
    return ConfigError(f"{path}: {entry_where}.{e.where}: {e}")
