"""Where problems and optimizers come from besides the built-ins.

- installed packages, through the entry-point groups ``optbench.problems`` and
  ``optbench.optimizers`` (loaded lazily, once per process);
- a config naming ``package.module:Class`` or ``path/to/file.py:Class`` (relative to the config
  file), registered under that very name the first time it is used.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import optimizers
import problems
from optbench_registry import Registry, RegistryError

GROUPS = {"optbench.problems": problems.registry, "optbench.optimizers": optimizers.registry}
_loaded_entry_points = False
broken: list[str] = []  # one line per plugin that could not be registered
_broken_names: dict[tuple[str, str], str] = {}  # (kind, name) -> that line


def load_entry_points() -> None:
    """Register every installed plugin once; a broken one is noted in ``broken``, not raised."""
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    for group, registry in GROUPS.items():
        for ep in entry_points(group=group):
            dist = ep.dist.name if ep.dist else "unknown distribution"
            source = f"package {dist} (entry point {ep.value})"
            if ep.name in registry:
                _note(registry, ep.name, f"{registry.kind} {ep.name!r} from {source}: name "
                      f"clashes with the one from {registry.source(ep.name)}")
                continue
            try:
                registry.add(ep.name, ep.load(), source)
            except Exception as e:
                _note(registry, ep.name, f"{registry.kind} {ep.name!r} from {source}: {_why(e)}")


def _note(registry: Registry, name: str, line: str) -> None:
    broken.append(line)
    _broken_names.setdefault((registry.kind, name), line)


def resolve(registry: Registry, name: str, base_dir: str | Path = ".") -> str:
    """Make sure ``name`` is registered (loading ``module:Class`` or ``file.py:Class``)."""
    load_entry_points()
    if name not in registry and (registry.kind, name) in _broken_names:
        raise RegistryError(f"plugin could not be loaded: {_broken_names[registry.kind, name]}")
    if name in registry or ":" not in name:
        return name
    target, _, attr = name.rpartition(":")
    try:
        if target.endswith(".py"):
            path = (Path(base_dir) / target).resolve()
            if not path.is_file():
                raise RegistryError(f"{registry.kind} {name!r}: file {str(path)!r} does not exist")
            module = _import_file(path)
            source = f"file {path}"
        else:
            module = importlib.import_module(target)
            source = f"module {target}"
        cls = getattr(module, attr)
    except RegistryError:
        raise
    except Exception as e:
        raise RegistryError(f"{registry.kind} {name!r} could not be loaded: {_why(e)}") from None
    registry.add(name, cls, source)
    return name


def make_problem(name: str, params: dict[str, Any], base_dir: str | Path = ".",
                 seed: int | None = None):
    """Build a problem; ``seed`` (the run's) fills the parameter the problem names in its
    ``run_seeded`` attribute when the config leaves it null (the LSTM's minibatch)."""
    name = resolve(problems.registry, name, base_dir)
    key = getattr(problems.registry.get(name), "run_seeded", None)
    if key and seed is not None and params.get(key) is None:
        params = {**params, key: seed}
    return problems.make(name, **params)


def make_optimizer(name: str, params: dict[str, Any], base_dir: str | Path = "."):
    return optimizers.make(resolve(optimizers.registry, name, base_dir), **params)


def _import_file(path: Path):
    module_name = f"optbench_plugin_{abs(hash(str(path)))}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _why(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"
