"""Where problems and optimizers come from besides the built-ins.

- installed packages, through the entry-point groups ``optbench.problems`` and
  ``optbench.optimizers``: their names are read from the package metadata, but a plugin's module
  is imported only when its name is used (``run``/``check`` import what the config or command
  names, ``list`` imports all), so one broken package cannot stop commands that do not use it;
- a config naming ``package.module:Class`` or ``path/to/file.py:Class`` (relative to the config
  file), registered the first time it is used: a file under its resolved path and content, so
  the same relative spelling in two config folders names two classes, and an edit a new one.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import multiprocessing
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from optbench import optimizers, problems
from optbench.bench.errors import describe
from optbench.bench.sweep.spec import path_digest
from optbench.registry import Registry, RegistryError

GROUPS = {"optbench.problems": problems.registry, "optbench.optimizers": optimizers.registry}
broken: list[str] = []  # one line per plugin that could not be registered
_broken_names: dict[tuple[str, str], str] = {}  # (kind, name) -> that line
_clashes: dict[tuple[str, str], str] = {}  # (kind, name) -> why the installed one was refused
_pending: set[tuple[str, str]] = set()  # entry points registered but not imported yet
_warned: set[tuple[str, str]] = set()
_scanned = False


def _scan() -> None:
    """Register every installed entry point by name, importing none (metadata only)."""
    global _scanned
    if _scanned:
        return
    _scanned = True
    for group, registry in GROUPS.items():
        for ep in entry_points(group=group):
            dist = ep.dist.name if ep.dist else "unknown distribution"
            source = f"package {dist} (entry point {ep.value})"
            if ep.name in registry:
                line = (f"{registry.kind} {ep.name!r} from {source}: name clashes with the one "
                        f"from {registry.source(ep.name)}")
                _clashes.setdefault((registry.kind, ep.name), line)
                _note(registry, ep.name, line)
                continue
            registry.add(ep.name, None, source, loader=ep.load)
            _pending.add((registry.kind, ep.name))


def load_entry_points() -> None:
    """Import every installed plugin (``optbench list``); a broken one is noted in ``broken``."""
    _scan()
    for registry in GROUPS.values():
        for name in list(registry):
            _load(registry, name)


def _load(registry: Registry, name: str) -> None:
    """Import the entry point ``name`` if it is still pending; on failure drop and note it."""
    if (registry.kind, name) not in _pending:
        return
    _pending.discard((registry.kind, name))
    source = registry.source(name)
    try:
        registry.get(name)  # imports it and checks its contract
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SystemExit too: a plugin's sys.exit() must not end optbench
        registry.remove(name)
        # the registry's own contract message already names the plugin and its source
        why = str(e) if isinstance(e, RegistryError) else f"{registry.kind} {name!r} from " \
                                                          f"{source}: {_why(e)}"
        _note(registry, name, why)


def _note(registry: Registry, name: str, line: str) -> None:
    broken.append(line)
    _broken_names.setdefault((registry.kind, name), line)


def _warn_clash(registry: Registry, name: str) -> None:
    """Say once, on stderr, that an installed plugin of this name was refused for the other.

    Worker processes stay quiet: the main process has said it when it read the config.
    """
    key = (registry.kind, name)
    if key in _warned or multiprocessing.parent_process() is not None:
        return
    _warned.add(key)
    print(f"optbench: note: {_clashes[key]}; {name!r} is the one from "
          f"{registry.source(name)}", file=sys.stderr)


def resolve(registry: Registry, name: str, base_dir: str | Path = ".") -> str:
    """Make ``name`` usable and return its registry key.

    An entry point is imported now; ``module:Class`` and ``file.py:Class`` are imported and
    registered (a file's key is ``/resolved/path.py@<content hash>:Class``). Raises
    ``RegistryError`` with a line naming the plugin, its source and what is wrong.
    """
    _scan()
    kind = registry.kind
    if (kind, name) in _clashes and name in registry:
        _warn_clash(registry, name)
    _load(registry, name)
    if name not in registry and (kind, name) in _broken_names:
        raise RegistryError(f"plugin could not be loaded: {_broken_names[kind, name]}")
    if name in registry or ":" not in name:
        return name
    target, _, attr = name.rpartition(":")
    if target.endswith(".py"):
        path = (Path(base_dir) / target).resolve()
        where = f"file {path}"
        if not path.is_file():
            raise RegistryError(f"{kind} {name!r}: {where} does not exist")
        # keyed on the content too: a long-lived worker (Dask) that saw an older version of the
        # file imports the new one, as the run id (which hashes the content) says it should
        digest = path_digest(path)[:12]
        key = f"{path}@{digest}:{attr}"
        if key in registry:
            return key
    else:
        key, where = name, f"module {target}"
    try:
        module = (_import_file(path, digest) if target.endswith(".py")
                  else _import_module(target, base_dir))
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SystemExit too, as for entry points
        raise RegistryError(f"{kind} {name!r}: importing {where} raised {_why(e)}") from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise RegistryError(f"{kind} {name!r}: {where} defines no {attr!r} "
                            f"({_classes(module)})")
    why = registry.check(cls)
    if why:
        raise RegistryError(f"{kind} {name!r} from {where}: {why}")
    registry.add(key, cls, where)
    return key


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


def _import_module(target: str, base_dir: str | Path):
    """``package.module``, found on sys.path or else beside the config (as file.py names are)."""
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        if e.name != target.partition(".")[0]:
            raise  # the module was found; something it imports is missing
    sys.path.insert(0, str(Path(base_dir).resolve()))
    try:
        return importlib.import_module(target)
    finally:
        sys.path.pop(0)


def _import_file(path: Path, content: str):
    # one module per resolved path and content, named from them (stable, never shown)
    digest = hashlib.sha1(f"{path}@{content}".encode()).hexdigest()[:12]
    module_name = f"optbench_plugin_{digest}"
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


def _classes(module) -> str:
    """What a module does define, so a misspelt class name can be corrected."""
    own = sorted(n for n, v in vars(module).items()
                 if isinstance(v, type) and v.__module__ == module.__name__)
    return f"it defines {', '.join(own)}" if own else "it defines no classes of its own"


def _why(e: BaseException) -> str:
    if isinstance(e, SystemExit):
        return f"SystemExit({e.code!r}): it calls sys.exit() when imported"
    return describe(e)
