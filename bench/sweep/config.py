"""Load a YAML sweep, validate it, and expand it into RunSpecs.

The structure is checked by pydantic models; names and parameters against the registries; values
by building each problem and optimizer once (their constructors validate). Every mistake becomes
one ``ConfigError`` line: ``FILE: key.path: what is wrong; what is valid``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from optbench.bench.errors import USER_ERRORS, ConfigError
from optbench.bench.sweep import yamlio
from optbench.bench.sweep.grid import _expand
from optbench.bench.sweep.messages import pydantic_line
from optbench.bench.sweep.models import SweepModel
from optbench.bench.sweep.spec import RunSpec


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
