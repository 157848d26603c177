"""A validated sweep expanded into RunSpecs: each entry's grid of values, checked by building
each problem and optimizer once (their constructors validate), the grid's size refused before
it is built."""

from __future__ import annotations

import difflib
import itertools
import math
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from optbench.bench.errors import USER_ERRORS, ConfigError, describe
from optbench.bench.plugins import Plugins, default
from optbench.bench.sweep.messages import _cut, _named_param, excerpt, pydantic_line
from optbench.bench.sweep.models import SweepModel, TargetsModel
from optbench.bench.sweep.spec import RunSpec, Targets, canonical
from optbench.optimizers import Optimizer
from optbench.problems import Problem
from optbench.registry import Registry, declared


def _expand(model: SweepModel, path: Path, base: Path,
            objects: dict[int, Any] | None = None) -> list[RunSpec]:
    """The sweep's run specs: the grid's size is computed from its axes first (and refused
    over ``max_runs``), then each setting is built once to validate it, then the product."""
    objects = objects or {}
    plugins = default()
    probs = []
    for i, entry in enumerate(model.problems):
        name, params, extra = _split_entry(path, "problems", i, entry, allowed={"targets"})
        key, axes = (name, []) if i in objects else _axes(
            path, f"problems[{i}].{name}", plugins, "problem", name, params, base)
        probs.append((i, name, extra, key, axes))
    opts = []
    for i, entry in enumerate(model.optimizers):
        name, params, _ = _split_entry(path, "optimizers", i, entry, allowed=set())
        opts.append((i, name, *_axes(path, f"optimizers[{i}].{name}", plugins, "optimizer",
                                     name, params, base)))
    _refuse_too_many(model, path, [p[4] for p in probs], [o[3] for o in opts])
    problems = _problem_settings(model, path, plugins, probs, objects, base)
    optimizers = []
    for i, name, key, axes in opts:
        for combo in _grid(axes):
            _build(path, f"optimizers[{i}].{name}", plugins.optimizers, key, combo)
            optimizers.append((name, canonical(combo)))
    seeds = range(model.seeds) if isinstance(model.seeds, int) else model.seeds
    # each list without repeats, so the product has none: a setting listed twice runs once
    return [RunSpec(problem=p, problem_params=pp, optimizer=o, optimizer_params=op, seed=seed,
                    budget=budget, targets=targets, stop_at_target=model.stop_at_target,
                    timeout=model.timeout, base_dir=str(base), sweep=model.name,
                    payload=payload, title=title)
            for (p, pp, targets, payload, budget, title), (o, op), seed in itertools.product(
                dict.fromkeys(problems), dict.fromkeys(optimizers), dict.fromkeys(seeds))]


def _problem_settings(model: SweepModel, path: Path, plugins: Plugins, probs,
                      objects: dict[int, Any], base: Path) -> list[tuple]:
    """(name, canonical params, targets, payload, budget, title) of each problem setting, each
    built once (a budget per dimension is resolved here, where the dimension is known)."""
    payloads = _payloads(path, objects)
    sweep_targets = model.targets.model_dump()
    out = []
    for i, name, extra, key, axes in probs:
        targets = _entry_targets(path, i, sweep_targets, extra.get("targets"))
        for combo in _grid(axes):
            problem = objects[i] if i in objects else \
                _build(path, f"problems[{i}].{name}", plugins.problems, key, combo,
                       lambda c, key=key: plugins.objects("problem", key, c, base))
            if targets.distance is not None and problem.x_opt is None:
                # point at the entry: its own targets, or the sweep's that it inherits
                if extra.get("targets") is not None:
                    where, what = f"problems[{i}].targets.distance", "a distance"
                    fix = "use a value or grad_norm target"
                else:
                    where, what = f"problems[{i}]", "the sweep's targets.distance"
                    fix = "give this entry its own targets (value or grad_norm)"
                raise ConfigError(f"{path}: {where}: problem {name!r} has no known minimizer, "
                                  f"so {what} cannot be judged for it; {fix}")
            title = _title(plugins.problems, key, combo) if i not in objects else ""
            out.append((name, canonical(combo), targets, payloads.get(i),
                        model.budget.resolve(problem.dim), title))
    return out


def _refuse_too_many(model: SweepModel, path: Path, prob_axes, opt_axes) -> None:
    """The grid's size from its axes, before any of it is built: over ``max_runs``, refused."""
    n_probs = sum(math.prod(len(a) for a in axes) for axes in prob_axes)
    n_opts = sum(math.prod(len(a) for a in axes) for axes in opt_axes)
    n_seeds = model.seeds if isinstance(model.seeds, int) else len(model.seeds)
    total = n_probs * n_opts * n_seeds
    if total > model.max_runs:
        raise ConfigError(
            f"{path}: the grid has {total:,} runs ({_count(n_probs, 'problem setting')} × "
            f"{_count(n_opts, 'optimizer setting')} × {_count(n_seeds, 'seed')}), more than "
            f"max_runs = "
            f"{model.max_runs:,}; sweep fewer values, or set max_runs higher if you mean it")


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'s' * (n != 1)}"


def _grid(axes: list[list[tuple[str, Any]]]) -> list[dict[str, Any]]:
    return [dict(c) for c in itertools.product(*axes)]


def _payloads(path: Path, objects: dict[int, Any]) -> dict[int, bytes]:
    """Each in-memory problem pickled by value; two different ones may not share a name (the
    tables and figures tell problems apart by name)."""
    import cloudpickle

    out, names = {}, {}
    for i, obj in objects.items():
        try:
            out[i] = cloudpickle.dumps(obj)
        except Exception as e:
            raise ConfigError(f"{path}: problems[{i}]: {obj.name!r} cannot be pickled for the "
                              f"worker processes ({describe(e)})") from None
        if names.setdefault(obj.name, out[i]) != out[i]:
            raise ConfigError(f"{path}: problems[{i}]: two different problems are named "
                              f"{obj.name!r}; give one another name (optbench.problem(..., "
                              "name=...))")
    return out


def _split_entry(path, section, i, entry, allowed):
    names = [k for k in entry if k not in allowed]
    where = f"{section}[{i}]"
    if len(names) != 1:
        raise ConfigError(
            f"{path}: {where}: each entry names exactly one {section[:-1]} "
            f"(like '- adam: {{lr: 0.01}}'), got keys {excerpt(list(entry))}"
        )
    name = names[0]
    params = entry[name]
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: {where}.{name}: parameters must be a mapping "
                          f"(like {{lr: 0.01}}) or empty, got {excerpt(params)}")
    return name, params, {k: v for k, v in entry.items() if k != name}


def _entry_targets(path, i, sweep_targets, override) -> Targets:
    if override is None:
        return Targets(**sweep_targets)
    try:
        model = TargetsModel.model_validate(override)
    except ValidationError as e:
        line = pydantic_line(e, TargetsModel, ("problems", i, "targets"))
        raise ConfigError(f"{path}: {line}") from None
    return Targets(**model.model_dump())


def _axes(path, where, plugins: Plugins, kind: str, name, params,
          base) -> tuple[str, list[list[tuple[str, Any]]]]:
    """The registry key of ``name`` (a file plugin's is its resolved path) and its grid's axes:
    one list of (parameter, value) per parameter, the grid being their product.

    A list sweeps unless the class declares (``list_params``) that the parameter takes lists
    nested as deeply as this one as a single value.
    """
    registry = plugins.registry(kind)
    try:
        key = plugins.resolve(kind, name, base)
        known = {p.name: p for p in registry.params(key)}
        cls = registry.get(key)
    except USER_ERRORS as e:  # the name itself is wrong: point at the entry
        raise ConfigError(f"{path}: {where.removesuffix('.' + name)}: {e}") from None
    refuse_unknown(path, where, params, known)
    depth = list_params(kind, cls)
    axes = []
    for param, value in params.items():
        if isinstance(value, list) and _depth(value) > depth.get(param, 0):
            if not value:
                raise ConfigError(f"{path}: {where}.{param}: an empty list sweeps over nothing")
            values = [v for item in value for v in _expanded(cls, param, item)]
            axes.append([(param, v) for v in values])
        else:
            axes.append([(param, v) for v in _expanded(cls, param, value)])
    return key, axes


def refuse_unknown(path, where: str, params, known) -> None:
    """A parameter the class does not take: one line naming it, a close name, the valid ones."""
    unknown = [k for k in params if k not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"{path}: {where}.{unknown[0]}: unknown parameter{hint}; valid: "
                          f"{', '.join(known) or 'none'}")


def _expanded(cls: type, param: str, value: Any) -> list[Any]:
    """``[value]``, or the values a problem class says it stands for (``Problem.expand``)."""
    many = cls.expand(param, value) if isinstance(cls, type) and issubclass(cls, Problem) \
        else None
    return [value] if many is None else list(many)


def _title(registry: Registry, key: str, params: dict[str, Any]) -> str:
    """The problem's name in tables and figures, when its class gives one (``Problem.title``)."""
    cls = registry.get(key)
    title = cls.title(params) if issubclass(cls, Problem) else None
    return title or ""


BASES = {"problem": Problem, "optimizer": Optimizer}


def list_params(kind: str, cls: type) -> dict[str, int]:
    """Parameter -> list levels of one value, as the class declares it (``Problem.list_params``,
    ``Optimizer.list_params``; checked when it was registered); none declared: every list sweeps.
    """
    return declared(cls, BASES[kind], "list_params")


def _depth(value) -> int:
    return 1 + _depth(value[0]) if isinstance(value, list) and value else int(value == [])


def _build(path, where, registry: Registry, name, params, objects=None):
    """Build one setting; ``objects`` imports what its ``object_params`` name, first."""
    try:
        return registry.build(name, params if objects is None else objects(params))
    except (*USER_ERRORS, ValueError, TypeError) as e:
        param = getattr(e, "param", None) or _named_param(str(e), params)
        key = f"{where}.{param}" if param else where
        raise ConfigError(f"{path}: {key}: {_cut(str(e))}") from None
    except Exception as e:  # a plugin's constructor failing in its own way: still one line
        raise ConfigError(f"{path}: {where}: building it raised {_cut(describe(e))}") \
            from None
