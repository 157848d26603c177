"""Where problems and optimizers come from besides the built-ins.

- installed packages, through the entry-point groups ``optbench.problems`` and
  ``optbench.optimizers``: their names are read from the package metadata, but a plugin's module
  is imported only when its name is used (``run``/``check`` import what the config or command
  names, ``list`` imports all), so one broken package cannot stop commands that do not use it;
- a config naming ``package.module:Class`` or ``path/to/file.py:Class`` (relative to the config
  file), registered the first time it is used: a file under its resolved path and content, so
  the same relative spelling in two config folders names two classes, and an edit a new one.

All of it, the two registries and what became of each plugin, lives in one ``Plugins`` object.
The process has one, ``default()`` (it holds ``problems.registry`` and ``optimizers.registry``),
which the module-level functions (``resolve``, ``make_problem``, ``make_optimizer``,
``load_entry_points``, ``broken``) use; a test builds its own with ``Plugins()`` and, where the
harness must see it, installs it for a while with ``using()``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import multiprocessing
import sys
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from optbench import optimizers, problems
from optbench.bench.errors import ParameterError, describe
from optbench.bench.sweep.spec import path_digest
from optbench.optimizers import new_registry as new_optimizer_registry
from optbench.problems import Problem
from optbench.problems import new_registry as new_problem_registry
from optbench.registry import Registry, RegistryError, declared

GROUPS = {"problem": "optbench.problems", "optimizer": "optbench.optimizers"}  # entry points


def installed(group: str) -> Iterable[Any]:
    """The entry points of ``group`` in the installed packages' metadata."""
    return entry_points(group=group)


class Plugins:
    """The problem and optimizer registries of one harness, and what became of its plugins.

    ``Plugins()`` starts from the built-ins alone (fresh registries); pass ``problems`` and
    ``optimizers`` to use given ones. ``entry_points(group)`` lists the installed plugins of a
    group (``importlib.metadata``'s by default); each needs ``name``, ``value``, ``dist`` and
    ``load()``. Installed plugins are registered by name on first use of any name, and imported
    when their own name is used (``resolve``) or all at once (``load_all``).
    """

    def __init__(self, problems: Registry | None = None, optimizers: Registry | None = None,
                 *, entry_points: Callable[[str], Iterable[Any]] = installed):
        self.problems = problems if problems is not None else new_problem_registry()
        self.optimizers = optimizers if optimizers is not None else new_optimizer_registry()
        self._entry_points = entry_points
        self._broken: list[str] = []  # one line per plugin that could not be registered
        self._broken_names: dict[tuple[str, str], str] = {}  # (kind, name) -> that line
        self._clashes: dict[tuple[str, str], str] = {}  # (kind, name) -> why it was refused
        self._pending: set[tuple[str, str]] = set()  # entry points registered, not imported
        self._warned: set[tuple[str, str]] = set()  # clashes said on stderr
        self._scanned = False

    def registry(self, kind: str) -> Registry:
        """The registry of ``kind``, "problem" or "optimizer"."""
        if kind == "problem":
            return self.problems
        if kind == "optimizer":
            return self.optimizers
        raise ValueError(f"kind must be 'problem' or 'optimizer', got {kind!r}")

    def broken(self) -> list[str]:
        """One line per installed plugin that could not be registered, naming it and why."""
        return list(self._broken)

    # -- installed packages -------------------------------------------------------------------
    def scan(self) -> None:
        """Register every installed entry point by name, importing none (metadata only)."""
        if self._scanned:
            return
        self._scanned = True
        for kind, group in GROUPS.items():
            registry = self.registry(kind)
            for ep in self._entry_points(group):
                dist = ep.dist.name if ep.dist else "unknown distribution"
                source = f"package {dist} (entry point {ep.value})"
                prefix = registry.family_of(ep.name)
                if ep.name in registry or prefix is not None:
                    other = registry.source(ep.name) if prefix is None else \
                        f"the family {prefix!r} ({registry.family_source(prefix)})"
                    line = (f"{kind} {ep.name!r} from {source}: name clashes with the one "
                            f"from {other}")
                    self._clashes.setdefault((kind, ep.name), line)
                    self._note(kind, ep.name, line)
                    continue
                registry.add(ep.name, None, source, loader=ep.load)
                self._pending.add((kind, ep.name))

    def load_all(self) -> None:
        """Import every installed plugin (``optbench list``); a broken one is noted in
        ``broken()`` and dropped from its registry."""
        self.scan()
        for kind in GROUPS:
            for name in list(self.registry(kind)):
                self._load(kind, name)

    def _load(self, kind: str, name: str) -> None:
        """Import the entry point ``name`` if it is still pending; on failure drop and note it."""
        if (kind, name) not in self._pending:
            return
        self._pending.discard((kind, name))
        registry = self.registry(kind)
        source = registry.source(name)
        try:
            registry.get(name)  # imports it and checks its contract
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # SystemExit too: a plugin's sys.exit() must not end optbench
            registry.remove(name)
            # the registry's own contract message already names the plugin and its source
            why = str(e) if isinstance(e, RegistryError) else \
                f"{kind} {name!r} from {source}: {_why(e)}"
            self._note(kind, name, why)

    def _note(self, kind: str, name: str, line: str) -> None:
        self._broken.append(line)
        self._broken_names.setdefault((kind, name), line)

    def _warn_clash(self, kind: str, name: str) -> None:
        """Say once, on stderr, that an installed plugin of this name was refused for the other.

        Worker processes stay quiet: the main process has said it when it read the config.
        """
        key = (kind, name)
        if key in self._warned or multiprocessing.parent_process() is not None:
            return
        self._warned.add(key)
        print(f"optbench: note: {self._clashes[key]}; {name!r} is the one from "
              f"{self.registry(kind).source(name)}", file=sys.stderr)

    # -- names -------------------------------------------------------------------------------
    def resolve(self, kind: str, name: str, base_dir: str | Path = ".") -> str:
        """Make ``name`` usable as a ``kind`` ("problem"/"optimizer") and return its key.

        An entry point is imported now; ``module:Class`` and ``file.py:Class`` are imported and
        registered (a file's key is ``/resolved/path.py@<content hash>:Class``); a family's
        member (``scipy:BFGS``, ``cma``) is built from its library. Raises ``RegistryError`` with
        a line naming the plugin, its source and what is wrong (for a family: the member and the
        valid names, or the package to install).
        """
        self.scan()
        registry = self.registry(kind)
        family = registry.family_of(name)
        if (kind, name) in self._clashes and (name in registry or family is not None):
            self._warn_clash(kind, name)
        if family is not None:  # before module:Class, which it resembles
            registry.get(name)
            return name
        self._load(kind, name)
        if name not in registry and (kind, name) in self._broken_names:
            raise RegistryError(f"plugin could not be loaded: {self._broken_names[kind, name]}")
        if name in registry or ":" not in name:
            return name
        return self._register(registry, name, base_dir)

    def _register(self, registry: Registry, name: str, base_dir: str | Path) -> str:
        """Import the class ``name`` spells (``module:Class``, ``file.py:Class``), register it
        (its contract checked) and return its key."""
        kind = registry.kind
        target, _, attr = name.rpartition(":")
        if target.endswith(".py"):
            path = (Path(base_dir) / target).resolve()
            where = f"file {path}"
            if not path.is_file():
                raise RegistryError(f"{kind} {name!r}: {where} does not exist")
            # keyed on the content too: a long-lived worker (Dask) that saw an older version of
            # the file imports the new one, as the run id (which hashes the content) says it should
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
        registry.add(key, cls, where, label=name)  # refused there, naming name, if it breaks
        return key

    # -- building ------------------------------------------------------------------------------
    def make_problem(self, name: str, params: dict[str, Any], base_dir: str | Path = ".",
                     seed: int | None = None) -> Any:
        """Build a problem; ``seed`` (the run's) fills the parameter the class names in
        ``Problem.run_seeded`` when ``params`` leave it null (the LSTM's minibatch), as the
        class's ``run_seed_value`` maps it (bbob's instance: seed + 1)."""
        key = self.resolve("problem", name, base_dir)
        cls = self.problems.get(key)
        seeded = declared(cls, Problem, "run_seeded")
        if seeded and seed is not None and params.get(seeded) is None:
            value = cls.run_seed_value(seed) if issubclass(cls, Problem) else seed
            params = {**params, seeded: value}
        return self.problems.build(key, self.objects("problem", key, params, base_dir))

    def objects(self, kind: str, key: str, params: dict[str, Any],
                base_dir: str | Path = ".") -> dict[str, Any]:
        """``params`` with each string the class's ``object_params`` name (``module:name``,
        ``file.py:name`` relative to ``base_dir``) replaced by the object it names (the ``jax``
        problem's loss); ``ParameterError`` naming the parameter when it cannot be imported."""
        names = declared(self.registry(kind).get(key), Problem, "object_params")
        found = {p: import_object(params[p], base_dir, p) for p in names
                 if isinstance(params.get(p), str)}
        return {**params, **found} if found else params

    def make_optimizer(self, name: str, params: dict[str, Any], base_dir: str | Path = ".",
                       seed: int | None = None) -> Any:
        """Build an optimizer; ``seed`` (the run's) fills the parameter a stochastic optimizer
        names in its ``run_seeded`` class attribute (CMA-ES, Nevergrad: ``"seed"``) when
        ``params`` leave it null, so that the seeds of a sweep are different runs."""
        key = self.resolve("optimizer", name, base_dir)
        seeded = getattr(self.optimizers.get(key), "run_seeded", None)
        if seeded and seed is not None and params.get(seeded) is None:
            params = {**params, seeded: seed}
        return self.optimizers.build(key, params)


_default = Plugins(problems.registry, optimizers.registry)


def default() -> Plugins:
    """The process's plugins: ``problems.registry``, ``optimizers.registry`` and the installed
    packages (unless ``using`` has put another in its place)."""
    return _default


@contextlib.contextmanager
def using(plugins: Plugins) -> Iterator[Plugins]:
    """Make ``plugins`` the default for the ``with`` block (a test's own registries, seen by the
    CLI and the runner in this process)."""
    global _default
    previous, _default = _default, plugins
    try:
        yield plugins
    finally:
        _default = previous


def resolve(registry: Registry | str, name: str, base_dir: str | Path = ".") -> str:
    """``default().resolve`` for the kind of ``registry`` (a Registry or "problem"/"optimizer")."""
    kind = registry if isinstance(registry, str) else registry.kind
    return _default.resolve(kind, name, base_dir)


def make_problem(name: str, params: dict[str, Any], base_dir: str | Path = ".",
                 seed: int | None = None) -> Any:
    return _default.make_problem(name, params, base_dir, seed)


def make_optimizer(name: str, params: dict[str, Any], base_dir: str | Path = ".",
                   seed: int | None = None) -> Any:
    return _default.make_optimizer(name, params, base_dir, seed)


def shipped_problem(name: str) -> bool:
    """A problem optbench ships whose parameters name no user code (``object_params``): building
    it imports nothing a config or a results folder names."""
    return (name in problems.registry and problems.registry.source(name) == "built-in"
            and not problems.registry.get(name).object_params)


def load_entry_points() -> None:
    _default.load_all()


def broken() -> list[str]:
    return _default.broken()


def import_object(name: str, base_dir: str | Path = ".", param: str | None = None) -> Any:
    """The object ``module:attr`` or ``file.py:attr`` (relative to ``base_dir``) names, imported
    as file plugins are; a ParameterError (for ``param``) saying what is missing."""
    target, _, attr = name.rpartition(":")
    if not target or not attr.isidentifier():
        raise ParameterError(f"expected module:name or file.py:name, got {name!r}", param)
    if target.endswith(".py"):
        path = (Path(base_dir) / target).resolve()
        where = f"file {path}"
        if not path.is_file():
            raise ParameterError(f"{name!r}: {where} does not exist", param)
    else:
        where = f"module {target}"
    try:
        module = _import_file(path, path_digest(path)[:12]) if target.endswith(".py") \
            else _import_module(target, base_dir)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SystemExit too, as for entry points
        raise ParameterError(f"{name!r}: importing {where} raised {_why(e)}", param) from None
    if not hasattr(module, attr):
        own = sorted(n for n in vars(module) if not n.startswith("_"))[:12]
        raise ParameterError(f"{name!r}: {where} defines no {attr!r} (it defines "
                             f"{', '.join(own) or 'nothing'})", param)
    return getattr(module, attr)


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
    sys.path.insert(0, str(path.parent))  # so that it can import the modules beside it
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    finally:
        sys.path.remove(str(path.parent))
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
