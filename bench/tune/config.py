"""A tune config: a sweep's problems, budget and targets; search spaces for the optimizers; and a
``tune:`` section. Validated as strictly as a sweep (``bench/sweep/config.py``): every mistake is
one ``ConfigError`` line, ``FILE: key.path: what is wrong; what is valid``.

    tune:
      trials: 60                 # per optimizer entry; an entry may say `trials: N` beside its name
      sampler: tpe               # tpe (default), sobol or random
      seed: 0                    # the sampler's seed
      objective: evals_to_target # or best_f
      penalty: 2                 # a miss costs penalty × budget.evaluations (+ its shortfall)
      seeds: 1                   # tuning seeds: a count (0..n-1) or a list
      held_out: 3                # seeds the best configuration and the defaults are re-run on
      pruner: none               # none, median or successive_halving
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BeforeValidator, Field, ValidationError
from pydantic.types import NonNegativeInt

from optbench.bench.errors import USER_ERRORS, ConfigError, describe
from optbench.bench.plugins import default
from optbench.bench.sweep.config import IN_MEMORY, Sweep, _placeholder, _printable, read_config
from optbench.bench.sweep.grid import (
    _build,
    _depth,
    _expand,
    _split_entry,
    list_params,
    refuse_unknown,
)
from optbench.bench.sweep.messages import pydantic_line
from optbench.bench.sweep.models import (
    Count,
    ExperimentModel,
    SweepModel,
    _seeds,
    _Strict,
)
from optbench.bench.sweep.spec import RunSpec, canonical
from optbench.bench.tune.space import Fixed, Search, Space, SpaceError, parse_space

SAMPLERS = ("tpe", "sobol", "random")
OBJECTIVES = ("evals_to_target", "best_f")
PRUNERS = ("none", "median", "successive_halving")
Seeds = Annotated[int | list[int], BeforeValidator(_seeds)]


class TuneSection(_Strict):
    trials: Count = 50
    sampler: Literal["tpe", "sobol", "random"] = "tpe"
    seed: NonNegativeInt = 0
    objective: Literal["evals_to_target", "best_f"] = "evals_to_target"
    penalty: Annotated[float, Field(ge=1.0, allow_inf_nan=False)] = 2.0
    seeds: Seeds = 1
    held_out: Seeds = 3
    pruner: Literal["none", "median", "successive_halving"] = "none"


class TuneModel(ExperimentModel):
    tune: TuneSection


@dataclass(frozen=True)
class Settings:
    """The ``tune:`` section, resolved (seeds as tuples)."""

    sampler: str
    seed: int
    objective: str
    penalty: float
    seeds: tuple[int, ...]
    held_out: tuple[int, ...]
    pruner: str
    evaluations: int | None  # the budget's evaluations: what a miss's penalty multiplies

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Plan:
    """One study: a problem × an optimizer entry, its space, its trials and its base runs."""

    study: str  # the study's name in the store
    problem_label: str
    optimizer: str
    entry: int  # index in the config's optimizers
    space: Space
    trials: int
    base: dict[int, RunSpec]  # seed -> the run of the optimizer's defaults on that seed

    def spec(self, seed: int, params: Mapping[str, Any]) -> RunSpec:
        return dataclasses.replace(self.base[seed], optimizer_params=canonical(dict(params)))


@dataclass(frozen=True)
class Tune:
    name: str
    path: Path
    text: str  # the config as written, stored beside the results
    settings: Settings
    plans: tuple[Plan, ...]
    sweep: Sweep  # the defaults' runs of every seed (for the entry checks)

    @property
    def equal_trials(self) -> bool:
        return len({p.trials for p in self.plans}) <= 1


def load_tune(path: str | Path) -> Tune:
    path = Path(path)
    text, raw = read_config(path)
    return _tune(raw, path, path.parent.resolve(), text, {})


def tune_from_mapping(config: Mapping[str, Any], base_dir: str | Path = ".") -> Tune:
    """A tune config from a dict of the YAML schema (``optbench.tune``); problems may be
    objects or functions, as in ``optbench.sweep``."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"{IN_MEMORY} config: must be a mapping with name, problems, "
                          f"optimizers, budget, tune (got {type(config).__name__})")
    raw = dict(config)
    opts = raw.get("optimizers")
    if isinstance(opts, list):
        raw["optimizers"] = [{o: {}} if isinstance(o, str) else o for o in opts]
    objects: dict[int, Any] = {}
    if isinstance(raw.get("problems"), list):
        raw["problems"] = [_placeholder(i, e, objects) for i, e in enumerate(raw["problems"])]
    text = yaml.safe_dump(_printable(raw, objects), sort_keys=False)
    return _tune(raw, Path(IN_MEMORY), Path(base_dir).resolve(), text, objects)


def is_tune_config(raw: Any) -> bool:
    return isinstance(raw, Mapping) and "tune" in raw


def _tune(raw: dict[str, Any], path: Path, base: Path, text: str,
          objects: dict[int, Any]) -> Tune:
    if "tune" not in raw:
        how = f"`optbench run {path}`" if str(path) != IN_MEMORY else "optbench.sweep(config)"
        raise ConfigError(f"{path}: tune: missing: a sweep config, not a tune config: run it with "
                          f"{how}, or add a tune: section (README, Tune)")
    try:
        model = TuneModel.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{path}: {pydantic_line(e, TuneModel)}") from None
    settings = _settings(model, path)
    entries = [_entry(path, i, e, model) for i, e in enumerate(model.optimizers)]
    seeds = sorted(set(settings.seeds) | set(settings.held_out))
    sweep_model = SweepModel.model_construct(
        name=model.name, description=model.description, problems=model.problems,
        optimizers=[{name: {}} for name, _, _ in entries], seeds=seeds, budget=model.budget,
        targets=model.targets, stop_at_target=model.stop_at_target, timeout=model.timeout)
    specs = _expand(sweep_model, path, base, objects)
    _check_objective(path, model, settings, specs)
    plans, names = [], set()
    problems = list(dict.fromkeys((s.problem, s.problem_params, s.problem_label) for s in specs))
    for problem, params, label in problems:
        for i, (name, space, trials) in enumerate(entries):
            base_specs = {s.seed: s for s in specs if (s.problem, s.problem_params,
                                                       s.optimizer) == (problem, params, name)}
            study, k = f"{label} · {name}", 2
            while study in names:  # the same optimizer twice, with two spaces
                study, k = f"{label} · {name} #{k}", k + 1
            names.add(study)
            plans.append(Plan(study, label, name, i, space, trials, base_specs))
    sweep = Sweep(model.name, path, text, tuple(specs))
    return Tune(model.name, path, text, settings, tuple(plans), sweep)


def _settings(model: TuneModel, path: Path) -> Settings:
    t = model.tune
    seeds = tuple(range(t.seeds)) if isinstance(t.seeds, int) else tuple(t.seeds)
    if isinstance(t.held_out, int):
        first = max(seeds) + 1
        held = tuple(range(first, first + t.held_out))
    else:
        held = tuple(t.held_out)
        both = sorted(set(seeds) & set(held))
        if both:
            raise ConfigError(f"{path}: tune.held_out: seed {both[0]} is also a tuning seed "
                              "(tune.seeds); held-out seeds must be other seeds")
    for key, values in (("seeds", seeds), ("held_out", held)):
        if len(set(values)) != len(values):
            raise ConfigError(f"{path}: tune.{key}: a seed is listed twice, got {list(values)}")
    return Settings(t.sampler, t.seed, t.objective, t.penalty, seeds, held, t.pruner,
                    model.budget.evaluations)


def _check_objective(path: Path, model: TuneModel, settings: Settings, specs) -> None:
    if settings.objective != "evals_to_target":
        return
    if model.budget.evaluations is None:
        raise ConfigError(f"{path}: tune.objective: evals_to_target counts a run that misses the "
                          "target as penalty × budget.evaluations; give budget.evaluations (or "
                          "use objective: best_f)")
    for spec in specs:
        if spec.targets.any():
            continue
        i = next((i for i, e in enumerate(model.problems) if spec.problem in e), 0)
        raise ConfigError(f"{path}: problems[{i}]: objective evals_to_target needs a target "
                          "for every problem; give targets (value, distance or grad_norm) "
                          "or use tune.objective: best_f")


def _entry(path: Path, i: int, entry: dict[str, Any], model: TuneModel):
    """(name, space, trials) of an optimizer entry, its space validated against the optimizer."""
    name, params, extra = _split_entry(path, "optimizers", i, entry, allowed={"trials"})
    where = f"optimizers[{i}].{name}"
    trials = extra.get("trials", model.tune.trials)
    if isinstance(trials, float) and trials.is_integer():
        trials = int(trials)
    if not (isinstance(trials, int) and not isinstance(trials, bool) and trials >= 1):
        raise ConfigError(f"{path}: optimizers[{i}].trials: must be a whole number >= 1 "
                          f"(this entry's trials, instead of tune.trials), got {trials!r}")
    plugins = default()
    registry = plugins.registry("optimizer")
    try:
        key = plugins.resolve("optimizer", name, path.parent.resolve())
        known = [p.name for p in registry.params(key)]
        cls = registry.get(key)
    except USER_ERRORS as e:
        raise ConfigError(f"{path}: optimizers[{i}]: {e}") from None
    refuse_unknown(path, where, params, known)
    depth = list_params("optimizer", cls)
    horizon = model.budget.iterations or model.budget.evaluations or 10_000
    try:
        space = parse_space(params, horizon,
                            lambda p, v: _depth(v) <= depth.get(p, 0))
    except SpaceError as e:
        raise ConfigError(f"{path}: {where}.{e.where}: {e}") from None
    _check_corners(path, where, registry, key, space)
    return name, space, trials


def _check_corners(path: Path, where: str, registry, key: str, space: Space) -> None:
    """Build the optimizer at every end of every range (one at a time, the others fixed or at
    their defaults): a range the optimizer refuses is a config error, not a failed trial."""
    fixed = space.fixed()
    _build(path, where, registry, key, fixed)
    for name, param in space.params:
        if isinstance(param, Fixed):
            continue
        for value in param.corners():
            try:
                registry.build(key, {**fixed, name: value})
            except (*USER_ERRORS, ValueError, TypeError) as e:
                at = _space_path(name, param, getattr(e, "param", None) or name)
                raise ConfigError(f"{path}: {where}.{at}: {e} (the optimizer refuses this end "
                                  "of the range)") from None
            except Exception as e:  # a plugin's constructor failing in its own way
                raise ConfigError(f"{path}: {where}.{name}: building it at {value!r} raised "
                                  f"{describe(e)}") from None


def _space_path(name: str, param, refused: str) -> str:
    """Where the config wrote what the optimizer refused: ``lr.cosine.steps`` is
    ``lr.search.cosine.steps`` in a searched schedule; any other key, the parameter itself."""
    if isinstance(param, Search):
        parts = refused.split(".")
        families = [f.name for f in param.families]
        if len(parts) >= 2 and parts[0] == name and parts[1] in families:
            family = next(f for f in param.families if f.name == parts[1])
            inner = ".".join(parts[2:])
            known = dict(family.params)
            return f"{name}.search.{parts[1]}" + (f".{inner}" if inner in known else "")
        return f"{name}.search"
    kind = next(iter(param.describe()))
    return f"{name}.{kind}"
