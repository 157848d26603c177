"""Name → class registries shared by ``problems`` and ``optimizers``, and ``check_number``.

A leaf module beside the public face, so that neither package imports the other (DESIGN:
``problems`` and ``optimizers`` never import each other or ``bench``). Built-ins are declared
as lazy ``"module:Class"`` strings so that importing them costs nothing until a class is used.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from optbench.errors import ParameterError, RegistryError


@dataclass(frozen=True)
class Param:
    """One constructor parameter as ``optbench list`` shows it."""

    name: str
    default: Any
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty


@dataclass
class Entry:
    name: str
    target: type | str | None  # a class, or "module:Class" not imported yet
    source: str  # "built-in", "package <dist> (entry point)", "file <path>"
    loader: Callable[[], Any] | None = None  # imports the class on first use (an entry point)

    def load(self) -> type:
        if self.loader is not None:  # cleared only once it succeeded: a failure may be retried
            self.target, self.loader = self.loader(), None
        elif isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            self.target = getattr(importlib.import_module(module), attr)
        return self.target


class Registry:
    """Names of one kind of thing (``kind`` is "problem" or "optimizer")."""

    def __init__(self, kind: str, check: Callable[[type], str | None]):
        self.kind = kind
        self._check = check  # returns why a class breaks the contract, or None
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, target: type | str | None, source: str = "built-in",
            loader: Callable[[], Any] | None = None) -> None:
        """Register ``target`` under ``name``; a name may be registered once.

        With ``loader`` (and no target) nothing is imported until the name is first used.
        """
        if name in self._entries:
            other = self._entries[name]
            raise RegistryError(
                f"{self.kind} name {name!r} from {source} clashes with the one from {other.source}"
            )
        if isinstance(target, type):
            why = self._check(target)
            if why:
                raise RegistryError(f"{self.kind} {name!r} from {source}: {why}")
        self._entries[name] = Entry(name, target, source, loader)

    def check(self, cls: Any) -> str | None:
        """Why ``cls`` breaks this registry's contract, or None."""
        return self._check(cls)

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def source(self, name: str) -> str:
        return self._entry(name).source

    def get(self, name: str) -> type:
        entry = self._entry(name)
        cls = entry.load()
        why = self._check(cls)
        if why:
            raise RegistryError(f"{self.kind} {name!r} from {entry.source}: {why}")
        return cls

    def params(self, name: str) -> list[Param]:
        """Constructor parameters of ``name`` with their defaults, in signature order."""
        cls = self.get(name)
        sig = inspect.signature(cls.__init__)
        docs = getattr(cls, "param_docs", {})
        return [
            Param(p.name, p.default, docs.get(p.name, ""))
            for p in list(sig.parameters.values())[1:]
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def build(self, name: str, params: dict[str, Any]) -> Any:
        """Instantiate ``name`` with ``params``, refusing parameters its constructor lacks."""
        cls = self.get(name)
        sig = inspect.signature(cls.__init__)
        takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        known = [p.name for p in self.params(name)]
        unknown = [k for k in params if k not in known]
        if unknown and not takes_any:
            close = difflib.get_close_matches(unknown[0], known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            valid = ", ".join(known) or "none"
            raise ParameterError(f"{name}: unknown parameter {unknown[0]!r}{hint}; valid: {valid}")
        return cls(**params)

    def suggest(self, name: str) -> str:
        """' (did you mean ...?)' naming the closest known names, or ''."""
        close = difflib.get_close_matches(name, list(self), n=3, cutoff=0.5)
        return f" (did you mean {', '.join(close)}?)" if close else ""

    def _entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(self) or "none"
            close = self.suggest(name)
            hint = "" if close else ("; a plugin of yours? install its package, or name the "
                                     "file that defines it as path/to/file.py:Class")
            raise RegistryError(
                f"unknown {self.kind} {name!r}{close}; known: {valid}{hint}"
            ) from None


def check_number(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> float | int:
    """Return ``value`` as a float (or int) if it lies in the interval, else raise ParameterError.

    The message reads like "adam: parameter 'lr' must be a number > 0, got -1".
    """
    kind = "an integer" if integer else "a number"
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high:g}")
    valid = f"{kind} {' and '.join(bounds)}".strip()
    bad = ParameterError(f"{owner}: parameter {name!r} must be {valid}, got {value!r}", name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad
    if integer and (isinstance(value, float) and not value.is_integer()):
        raise bad
    if value != value or value in (float("inf"), float("-inf")):
        raise bad
    if low is not None and (value < low or (low_open and value == low)):
        raise bad
    if high is not None and (value > high or (high_open and value == high)):
        raise bad
    return int(value) if integer else float(value)
