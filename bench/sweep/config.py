"""Load a YAML sweep, validate it, and expand it into RunSpecs.

The structure is checked by pydantic models; names and parameters against the registries; values
by building each problem and optimizer once (their constructors validate). Every mistake becomes
one ``ConfigError`` line: ``FILE: key.path: what is wrong; what is valid``.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WrapValidator,
    model_validator,
)
from pydantic.types import PositiveFloat, PositiveInt, StrictBool

from optbench.bench.errors import USER_ERRORS, ConfigError, describe
from optbench.bench.plugins import Plugins, default
from optbench.bench.sweep import yamlio
from optbench.bench.sweep.spec import Budget, RunSpec, Targets, canonical
from optbench.optimizers import Optimizer
from optbench.problems import Problem
from optbench.registry import Registry, declared


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _whole(v: Any) -> Any:
    """``evaluations: 1e5`` is a count: a whole float becomes an int."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


Count = Annotated[PositiveInt, BeforeValidator(_whole)]

_NUMBER = r"(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)"
PER_DIM = re.compile(rf"^\s*(?:{_NUMBER}\s*\*\s*dim|dim\s*\*\s*{_NUMBER})\s*$")


def _count_or_per_dim(value: Any, as_count):
    """A count, or ``N * dim`` (N per dimension of each problem), kept as ``"N * dim"``."""
    if not isinstance(value, str):
        return as_count(value)
    match = PER_DIM.match(value)
    per_dim = float(match.group(1) or match.group(2)) if match else 0.0
    if not per_dim > 0:
        raise ValueError("must be a count >= 1, or 'N * dim' for N per dimension of each "
                         "problem (like 1000 * dim)")
    return f"{per_dim:g} * dim"


# a count, or the text "N * dim" resolved per problem (BudgetModel.resolve)
Scaled = Annotated[Count, WrapValidator(_count_or_per_dim),
                   PlainSerializer(lambda v: v, return_type=Any)]


def per_dimension(value: int | str | None, dim: int) -> int | None:
    """A budget count for a problem of dimension ``dim``: ``N * dim`` rounded, at least 1."""
    if not isinstance(value, str):
        return value
    return max(1, round(float(value.partition("*")[0]) * dim))


class BudgetModel(_Strict):
    evaluations: Scaled | None = None
    iterations: Scaled | None = None
    seconds: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_limit(self):
        if self.evaluations is None and self.iterations is None and self.seconds is None:
            raise ValueError("give at least one of evaluations, iterations, seconds")
        return self

    def resolve(self, dim: int) -> Budget:
        """The budget of a problem of dimension ``dim`` (``1000 * dim``: 2000 at d = 2)."""
        return Budget(evaluations=per_dimension(self.evaluations, dim),
                      iterations=per_dimension(self.iterations, dim), seconds=self.seconds)


class TargetsModel(_Strict):
    value: PositiveFloat | None = None
    distance: PositiveFloat | None = None
    grad_norm: PositiveFloat | None = None


Entry = Annotated[dict[str, Any], Field(min_length=1)]

SEEDS = "a count n >= 1 (the seeds 0..n-1) or a non-empty list of integers >= 0"


def _seeds(v: Any) -> Any:
    """One message for both spellings: pydantic's would name a union branch ('constrained-int')
    and complain about the wrong one (``seeds: []`` is 'not a valid integer')."""
    def whole(s: Any, low: int) -> bool:
        return isinstance(s, int) and not isinstance(s, bool) and s >= low

    if whole(v, 1) or (isinstance(v, list) and v and all(whole(s, 0) for s in v)):
        return v
    raise ValueError(f"must be {SEEDS}")


DEFAULT_TIMEOUT = 600.0
MAX_RUNS = 1_000_000  # a sweep's grid above this is refused unless its config raises max_runs


def timeout_margin(seconds: float) -> float:
    """Time a run may take beyond its time budget (setting up the problem, the last step)."""
    return max(5.0, 0.25 * seconds)


def timeout_follows_the_budget(model):
    """Without a timeout of its own, a time budget sets the hard limit: a run that hangs under
    ``seconds: 5`` is killed seconds after, not after the default 600 s (sweeps and studies)."""
    if "timeout" not in model.model_fields_set and model.budget.seconds is not None:
        model.timeout = min(DEFAULT_TIMEOUT, model.budget.seconds + timeout_margin(
            model.budget.seconds))
    return model


class SweepModel(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)]
    description: str = ""
    problems: Annotated[list[Entry], Field(min_length=1)]
    optimizers: Annotated[list[Entry], Field(min_length=1)]
    seeds: Annotated[int | list[int], BeforeValidator(_seeds)] = 1
    budget: BudgetModel
    targets: TargetsModel = TargetsModel()
    stop_at_target: StrictBool = True
    timeout: PositiveFloat | None = 600.0
    max_runs: Count = MAX_RUNS

    @model_validator(mode="after")
    def _timeout_follows_the_budget(self):
        return timeout_follows_the_budget(self)


@dataclass(frozen=True)
class Sweep:
    name: str
    path: Path
    text: str  # the config as written, stored beside the results
    specs: tuple[RunSpec, ...]


def load_sweep(path: str | Path) -> Sweep:
    path = Path(path)
    text, raw = read_config(path)
    not_a_tune(path, raw)
    try:
        model = SweepModel.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{path}: {pydantic_line(e)}") from None
    return Sweep(model.name, path, text, tuple(_expand(model, path, path.parent.resolve())))


IN_MEMORY = "in-memory"  # how a config given as a dict is named in its messages


def not_a_tune(path: Path, raw: Mapping[str, Any]) -> None:
    how = f"`optbench tune {path}`" if str(path) != IN_MEMORY else "optbench.tune(config)"
    if "tune" in raw:
        raise ConfigError(f"{path}: tune: a tune config, not a sweep: run it with {how}")


def sweep_from_mapping(config: Mapping[str, Any], base_dir: str | Path = ".") -> Sweep:
    """A sweep from a dict of the YAML schema (``optbench.sweep``), validated the same way.

    Its ``problems`` may also hold problem objects or plain functions, as themselves or as
    ``{"problem": obj, "targets": {...}}``; they run from a pickled copy (cloudpickle), so
    worker processes need not import the script that made them.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"{IN_MEMORY} config: must be a mapping with name, problems, "
                          f"optimizers, budget (got {type(config).__name__})")
    raw = dict(config)
    not_a_tune(Path(IN_MEMORY), raw)
    opts = raw.get("optimizers")
    if isinstance(opts, list):  # a bare name stands for its defaults, as in optbench.run
        raw["optimizers"] = [{o: {}} if isinstance(o, str) else o for o in opts]
    objects: dict[int, Any] = {}
    entries = raw.get("problems")
    if isinstance(entries, list):
        raw["problems"] = [_placeholder(i, e, objects) for i, e in enumerate(entries)]
    path = Path(IN_MEMORY)
    try:
        model = SweepModel.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{path}: {pydantic_line(e)}") from None
    specs = _expand(model, path, Path(base_dir).resolve(), objects)
    text = yaml.safe_dump(_printable(raw, objects), sort_keys=False)
    return Sweep(model.name, path, text, tuple(specs))


def _placeholder(i: int, entry: Any, objects: dict[int, Any]) -> Any:
    """An in-memory problem's entry as the schema's ``{name: {}}``; the object kept aside."""
    from optbench.problems.function import as_problem

    targets = None
    if isinstance(entry, Mapping) and "problem" in entry and not isinstance(entry["problem"],
                                                                            str | Mapping):
        extra = set(entry) - {"problem", "targets"}
        if extra:
            raise ConfigError(f"{IN_MEMORY}: problems[{i}]: unknown key {sorted(extra)[0]!r}; "
                              "valid keys beside 'problem': targets")
        entry, targets = entry["problem"], entry.get("targets")
    elif isinstance(entry, str):  # a registered name with its defaults
        return {entry: {}}
    elif isinstance(entry, Mapping):
        return entry
    try:
        objects[i] = as_problem(entry)
    except USER_ERRORS as e:
        raise ConfigError(f"{IN_MEMORY}: problems[{i}]: {e}") from None
    out: dict[str, Any] = {objects[i].name: {}}
    if targets is not None:
        out["targets"] = targets
    return out


def _printable(raw: dict[str, Any], objects: dict[int, Any]) -> dict[str, Any]:
    """The dict config as YAML can hold it: in-memory problems by name and kind."""
    entries = raw.get("problems")
    if not objects or not isinstance(entries, list):
        return raw
    shown = []
    for i, entry in enumerate(entries):
        if i in objects:
            obj = objects[i]
            entry = {f"{obj.name} (in-memory {type(obj).__name__})": {},
                     **{k: v for k, v in entry.items() if k == "targets"}}
        shown.append(entry)
    return {**raw, "problems": shown}


def read_config(path: Path) -> tuple[str, dict[str, Any]]:
    """The config's text and its YAML mapping, not yet validated (``optbench list`` reads
    the plugin names from it even when other keys are wrong)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config ({e.strerror})") from None
    try:
        raw = yamlio.load(text)
    except yamlio.TooLarge as e:
        raise ConfigError(f"{path}: {e.problem}") from None
    except yaml.YAMLError as e:  # a repeated key too: it names its key path
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}: malformed YAML: {where}{what}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a mapping with name, problems, "
                          f"optimizers, budget (got {type(raw).__name__})")
    return text, raw


# What is valid, for the fields whose pydantic message says only what is wrong
HINTS = {
    "name": "letters, digits, '_', '.', '-', first a letter or digit: it names the results "
            "folder",
    "timeout": "seconds > 0 per run, or null for no limit",
    "stop_at_target": "true or false",
    "max_runs": f"a count >= 1 of runs the grid may have (default {MAX_RUNS:,})",
}


def pydantic_line(e: ValidationError, root: type[BaseModel] = SweepModel,
                   prefix: tuple = ()) -> str:
    """The first error as ``key.path: what is wrong``; ``prefix`` is where ``root`` sits."""
    err = e.errors()[0]
    loc = _key_path(prefix + err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]  # only the first letter: the rest may quote a pattern
    if err["type"] == "extra_forbidden":
        model = _model_at(root, err["loc"][:-1])
        valid = ", ".join(model.model_fields) if model else ""
        return f"{loc}: unknown key; valid keys here: {valid}"
    if err["type"] == "missing":
        return f"{loc}: missing (required)"
    got = err.get("input")
    if err["type"] == "model_type":  # pydantic's words name our class ("TargetsModel")
        model = _model_at(root, err["loc"])
        keys = ", ".join(model.model_fields) if model else ""
        return f"{loc}: must be a mapping with keys among {keys}, got {excerpt(got)}"
    hint = HINTS.get(loc) if not prefix else None
    if hint:
        msg += f" ({hint})"
    return f"{loc}: {msg}, got {excerpt(got)}" if not isinstance(got, dict) else f"{loc}: {msg}"


EXCERPT = 120  # characters of an offending value that a message shows


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """``repr(value)``, cut to ``limit`` characters with "…": a message stays one short line,
    and a huge value is not walked whole to say so (reprlib stops at a few items per level)."""
    import reprlib

    r = reprlib.Repr()  # (keyword arguments only from Python 3.12)
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 3, 8, 8, 8, 8
    r.maxstring = r.maxlong = r.maxother = limit
    short = r.repr(value)
    return short if len(short) <= limit else short[:limit - 1] + "…"


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    model = root
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        ann = getattr(field, "annotation", None)
        nested = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)
                  and issubclass(a, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


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
    unknown = [k for k in params if k not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"{path}: {where}.{unknown[0]}: unknown parameter{hint}; valid: "
                          f"{', '.join(known) or 'none'}")
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


def _cut(message: str, limit: int = 4 * EXCERPT) -> str:
    """A constructor's message, which may quote a whole value, kept to one readable line."""
    line = message.splitlines()[0] if message else message
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _named_param(message: str, params: dict[str, Any]) -> str | None:
    for key in params:
        if f"'{key}'" in message:
            return key
    return None
