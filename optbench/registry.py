"""Name → class registries shared by ``problems`` and ``optimizers``, and ``check_number``.

A leaf module beside the public face, so that neither package imports the other (DESIGN:
``problems`` and ``optimizers`` never import each other or ``bench``). Built-ins are declared
as lazy ``"module:Class"`` strings so that importing them costs nothing until a class is used.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

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


@dataclass(frozen=True)
class Constructor:
    """What a class's constructor takes, read from its signature once (see ``constructor``)."""

    params: tuple[Param, ...]  # in signature order, without self, *args and **kwargs
    takes_any: bool  # it also takes **kwargs

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]


_CONSTRUCTORS: WeakKeyDictionary[type, Constructor] = WeakKeyDictionary()


def constructor(cls: type) -> Constructor:
    """The parameters of ``cls.__init__``, cached per class: ``inspect.signature`` costs
    ~0.1 ms, and a sweep builds a problem and an optimizer for every run."""
    try:
        return _CONSTRUCTORS[cls]
    except KeyError:
        pass
    sig = inspect.signature(cls.__init__)
    docs = getattr(cls, "param_docs", None) or {}
    params = tuple(
        Param(p.name, p.default, docs.get(p.name, ""))
        for p in list(sig.parameters.values())[1:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )
    takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    _CONSTRUCTORS[cls] = found = Constructor(params, takes_any)
    return found


def check_method(cls: type, method: str, args: tuple[str, ...], what: str) -> str | None:
    """Why an instance's ``method`` cannot be called with the positional ``args``, or None.

    The reason names the method's signature and the one expected, e.g. ``value(self) must take
    the point x: value(self, x)``. A method ``cls`` lacks, or one without a readable signature
    (a builtin), is not refused here.
    """
    static = inspect.getattr_static(cls, method, None)
    if static is None:
        return None
    bound = inspect.isfunction(static)  # a plain function gets the instance as its first argument
    try:
        sig = inspect.signature(static if bound else getattr(cls, method))
    except (TypeError, ValueError):
        return None
    call = ("self", *args) if bound else args
    try:
        sig.bind(*call)
    except TypeError:
        pass
    else:
        return None
    plain = sig.replace(parameters=[p.replace(annotation=p.empty)
                                    for p in sig.parameters.values()],
                        return_annotation=sig.empty)
    shown, expected = f"{method}{plain}", f"{method}({', '.join(('self', *args))})"
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in sig.parameters.values() if p.default is p.empty
                and p.kind is not p.VAR_POSITIONAL and p.kind is not p.VAR_KEYWORD]
    too_many = (len([p for p in required if p.kind in positional]) > len(call)
                or any(p.kind is p.KEYWORD_ONLY for p in required))
    if too_many:
        return f"{shown} must take {'only ' + what if args else 'no arguments'}: {expected}"
    return f"{shown} must take {what if args else 'self'}: {expected}"


def check_list_params(cls: type, list_params: Any) -> str | None:
    """Why ``list_params`` (parameter name -> list levels of one value) does not fit ``cls``."""
    if not isinstance(list_params, Mapping):
        return (f"list_params must map parameter names to list levels, "
                f"got {list_params!r}")
    ctor = constructor(cls)
    for name, levels in list_params.items():
        if name not in ctor.names and not ctor.takes_any:
            valid = ", ".join(ctor.names) or "none"
            return f"list_params names {name!r}, which is not a constructor parameter ({valid})"
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 0:
            return f"list_params[{name!r}] must be a whole number of list levels >= 0, " \
                   f"got {levels!r}"
    return None


def declared(cls: type, base: type, attr: str) -> Any:
    """The value of ``attr``, which ``base`` declares with its default, for ``cls``: a class
    that follows the contract without subclassing ``base`` gets that default."""
    return getattr(cls, attr, getattr(base, attr))


@dataclass
class Entry:
    name: str
    target: type | str | None  # a class, or "module:Class" not imported yet
    source: str  # "built-in", "package <dist> (entry point)", "file <path>"
    loader: Callable[[], Any] | None = None  # imports the class on first use (an entry point)
    cls: type | None = None  # the class, once loaded and checked

    def load(self) -> type:
        if self.loader is not None:  # cleared only once it succeeded: a failure may be retried
            self.target, self.loader = self.loader(), None
        elif isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            self.target = getattr(importlib.import_module(module), attr)
        return self.target


class Registry:
    """Names of one kind of thing (``kind`` is "problem" or "optimizer").

    A class is checked against the contract once, when it is added or (for a lazy entry) first
    used; a class that fails is refused with a line naming it, its source and what is wrong.
    """

    def __init__(self, kind: str, check: Callable[[type], str | None]):
        self.kind = kind
        self._check = check  # returns why a class breaks the contract, or None
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, target: type | str | None, source: str = "built-in",
            loader: Callable[[], Any] | None = None, label: str | None = None) -> None:
        """Register ``target`` under ``name``; a name may be registered once.

        With ``loader`` (and no target) nothing is imported until the name is first used.
        ``label`` is how messages name it (default ``name``; a file plugin's key is long).
        """
        if name in self._entries:
            other = self._entries[name]
            raise RegistryError(f"{self.kind} name {label or name!r} from {source} clashes "
                                f"with the one from {other.source}")
        entry = Entry(name, target, source, loader)
        if isinstance(target, type):
            self._ready(entry, label)
        self._entries[name] = entry

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
        """The class registered as ``name``, imported and checked on first use."""
        entry = self._entry(name)
        return self._ready(entry) if entry.cls is None else entry.cls

    def params(self, name: str) -> list[Param]:
        """Constructor parameters of ``name`` with their defaults, in signature order."""
        return list(constructor(self.get(name)).params)

    def build(self, name: str, params: dict[str, Any]) -> Any:
        """Instantiate ``name`` with ``params``, refusing parameters its constructor lacks."""
        cls = self.get(name)
        ctor = constructor(cls)
        if not ctor.takes_any:
            known = ctor.names
            unknown = [k for k in params if k not in known]
            if unknown:
                close = difflib.get_close_matches(unknown[0], known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                valid = ", ".join(known) or "none"
                raise ParameterError(f"{name}: unknown parameter {unknown[0]!r}{hint}; "
                                     f"valid: {valid}")
        return cls(**params)

    def suggest(self, name: str) -> str:
        """' (did you mean ...?)' naming the closest known names, or ''."""
        close = difflib.get_close_matches(name, list(self), n=3, cutoff=0.5)
        return f" (did you mean {', '.join(close)}?)" if close else ""

    def _ready(self, entry: Entry, label: str | None = None) -> type:
        """Load the class of ``entry`` and check it; kept only once it passed."""
        cls = entry.load()
        why = self._check(cls)
        if why:
            raise RegistryError(f"{self.kind} {label or entry.name!r} from {entry.source}: {why}")
        entry.cls = cls
        return cls

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
