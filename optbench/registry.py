"""Name → class registries shared by ``problems`` and ``optimizers``, and ``check_number``.

A leaf module beside the public face, so that neither package imports the other (DESIGN:
``problems`` and ``optimizers`` never import each other or ``bench``). Built-ins are declared
as lazy ``"module:Class"`` strings so that importing them costs nothing until a class is used.

A registry also holds *families*: names spelled ``PREFIX:MEMBER`` (``scipy:BFGS``) whose classes
a wrapped library makes (``Family``). A family is registered once, by prefix; a member's class is
built and checked the first time its name is used, and kept like any other entry.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import inspect
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
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
    family: str | None = None  # the prefix of the family that made it, if one did

    def load(self) -> type:
        if self.loader is not None:  # cleared only once it succeeded: a failure may be retried
            self.target, self.loader = self.loader(), None
        elif isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            self.target = getattr(importlib.import_module(module), attr)
        return self.target


class Family:
    """Registry names spelled ``PREFIX:MEMBER`` whose classes a wrapped library makes.

    Subclasses set ``prefix``, ``summary``, ``libraries`` (the import names it needs) and
    ``extra`` (the optbench extra that installs them), and define ``_members()`` (the member
    names, read from the library) and ``_build(member)`` (the class for one member, checked by the
    registry like any other). ``bare`` families have one member spelled ``PREFIX`` alone (``cma``).
    ``known`` lists member names that are known without importing the library; the registry
    suggests them for misspelt names (``adamw`` → ``optax:adamw``).
    """

    kind: ClassVar[str] = "optimizer"
    prefix: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    noun: ClassVar[str] = "member"  # what a member is called in messages ("method")
    libraries: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    bare: ClassVar[bool] = False
    known: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._cached: list[str] | None = None

    def missing(self) -> str | None:
        """The one line saying which package to install, or None when the libraries are
        installed (found, not imported: ``optbench list`` asks this of every family)."""
        for library in self.libraries:
            try:
                found = sys.modules[library] if library in sys.modules else \
                    importlib.util.find_spec(library)
            except (ImportError, ValueError):
                found = None
            if found is None:
                return self._needs(library)
        return None

    def _needs(self, library: str) -> str:
        how = f": pip install 'optbench[{self.extra}]'" if self.extra else ""
        return f"{self.kind} family {self.prefix!r} needs the {library} package{how}"

    def require(self) -> None:
        why = self.missing()
        if why:
            raise RegistryError(why)

    def members(self) -> list[str]:
        """Every member's name, without the prefix (imports the library)."""
        if self._cached is None:
            self.require()
            with self._importing():
                self._cached = [""] if self.bare else sorted(self._members(), key=str.lower)
        return list(self._cached)

    def count(self) -> int:
        """How many members (``optbench list`` shows it): counted once per installed version
        of the libraries (and of this family's code), then read from the user's cache without
        importing them (importing Nevergrad or JAX costs seconds)."""
        if self._cached is not None:
            return len(self._cached)
        from optbench._cache import memo, stamp

        self.require()
        stamps = [stamp(m) for m in (*self.libraries, type(self).__module__)]
        if None in stamps:
            return len(self.members())
        name = f"members {self.kind} {self.prefix}"
        count = memo(name, " ".join(stamps), lambda: len(self.members()))
        return count if isinstance(count, int) else len(self.members())

    @contextlib.contextmanager
    def _importing(self) -> Iterator[None]:
        """An ImportError of one of the libraries (installed but broken) as the one line."""
        try:
            yield
        except ImportError as e:
            library = (e.name or "").partition(".")[0]
            if library not in self.libraries:
                raise
            raise RegistryError(f"{self._needs(library)} (importing it failed: {e})") from None

    def spell(self, member: str) -> str:
        return self.prefix if self.bare else f"{self.prefix}:{member}"

    def build(self, name: str) -> type:
        """The class for the full ``name``; RegistryError naming the family, the member and the
        valid names when it has no such member."""
        members = self.members()
        # a bare family's one member is spelled PREFIX alone: "cma:" or "cma:x" name none
        bare_member = "" if name == self.prefix else name
        member = bare_member if self.bare else name.partition(":")[2]
        if member not in members:
            raise RegistryError(self._unknown(name, member, members))
        with self._importing():
            return self._build(member)

    def _unknown(self, name: str, member: str, members: list[str]) -> str:
        spelled = [self.spell(m) for m in members]
        if self.bare:
            return f"unknown {self.kind} {name!r}: the {self.prefix} family is spelled " \
                   f"{self.prefix!r} alone"
        if len(members) > 40:
            valid = f"{len(members)} names, which `optbench list {self.prefix}` shows"
        else:
            valid = ", ".join(spelled)
        if not member:
            return f"{name!r} names the {self.prefix} family: name one of its {self.noun}s " \
                   f"as {self.prefix}:<{self.noun}>; valid: {valid}"
        close = suggestions(member, members)
        hint = f" (did you mean {', '.join(self.spell(c) for c in close)}?)" if close else ""
        return f"unknown {self.prefix} {self.noun} {member!r} in {name!r}{hint}; valid: {valid}"

    def _members(self) -> list[str]:
        raise NotImplementedError

    def _build(self, member: str) -> type:
        raise NotImplementedError


def suggestions(name: str, names: Iterable[str], n: int = 3) -> list[str]:
    """Names close to ``name``: same letters in another case first, then difflib's."""
    names = list(names)
    same = [m for m in names if m.lower() == name.lower() and m != name]
    close = difflib.get_close_matches(name, names, n=n, cutoff=0.5)
    return list(dict.fromkeys([*same, *close]))[:n]


def with_signature(base: type, name: str, params: Sequence[Param], namespace: dict[str, Any],
                   module: str) -> type:
    """A subclass of ``base`` whose ``__init__`` shows ``params`` (keyword-only, with their
    defaults) as its signature, which is what the registry validates and ``optbench list``
    prints; the call goes on to ``base.__init__(self, **given)``."""

    def __init__(self, **given):
        base.__init__(self, **given)

    __init__.__signature__ = inspect.Signature([
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *(inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default)
          for p in params),
    ])
    docs = {p.name: p.doc for p in params if p.doc}
    cls = type(name, (base,), {"__init__": __init__, "param_docs": docs, "__module__": module,
                               **namespace})
    return cls


class Registry:
    """Names of one kind of thing (``kind`` is "problem" or "optimizer").

    A class is checked against the contract once, when it is added or (for a lazy entry) first
    used; a class that fails is refused with a line naming it, its source and what is wrong.
    """

    def __init__(self, kind: str, check: Callable[[type], str | None]):
        self.kind = kind
        self._check = check  # returns why a class breaks the contract, or None
        self._entries: dict[str, Entry] = {}
        self._families: dict[str, Entry] = {}  # prefix -> its Family (target "module:object")

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
        prefix = self.family_of(name)
        if prefix is not None:
            raise RegistryError(f"{self.kind} name {label or name!r} from {source} clashes "
                                f"with the family {prefix!r} from {self._families[prefix].source}")
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
        """Registered names, without the family members built so far (see ``families``)."""
        return iter(sorted(n for n, e in self._entries.items() if e.family is None))

    # -- families --------------------------------------------------------------------------
    def add_family(self, prefix: str, target: Family | str, source: str = "built-in") -> None:
        """Register a family by its prefix: ``target`` is a ``Family`` or ``"module:object"``
        naming one (imported when one of its names is first used)."""
        if prefix in self._families or prefix in self._entries or ":" in prefix:
            raise RegistryError(f"{self.kind} family {prefix!r} from {source} clashes with a "
                                "registered name, or holds ':'")
        self._families[prefix] = Entry(prefix, target, source)

    def families(self) -> list[str]:
        return sorted(self._families)

    def family(self, prefix: str) -> Family:
        """The family registered as ``prefix`` (its module imported, not its library)."""
        entry = self._families[prefix]
        if entry.cls is None:
            entry.cls = entry.load()
        return entry.cls

    def family_of(self, name: str) -> str | None:
        """The prefix of the family that spells ``name`` (``scipy`` for ``scipy:BFGS``), or None."""
        prefix = name.partition(":")[0]
        return prefix if prefix in self._families else None

    def family_source(self, prefix: str) -> str:
        return self._families[prefix].source

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
        missing = [p.name for p in ctor.params
                   if p.default is inspect.Parameter.empty and p.name not in params]
        if missing:  # said as a parameter, not as Python's TypeError
            raise ParameterError(f"{name}: parameter {missing[0]!r} is required", missing[0])
        return cls(**params)

    def suggest(self, name: str) -> str:
        """' (did you mean ...?)' naming the closest known names, or ''.

        Family members known without importing their library count too: ``adamw`` suggests
        ``optax:adamw``, ``bfgs`` ``scipy:BFGS``.
        """
        names = list(self)
        spelled = {}
        for prefix in self._families:
            family = self.family(prefix)
            for member in family.known or ([""] if family.bare else []):
                spelled.setdefault(member or prefix, family.spell(member))
        close = suggestions(name, names, n=3)
        close += [spelled[m] for m in suggestions(name, spelled, n=3) if spelled[m] not in close]
        return f" (did you mean {', '.join(close[:3])}?)" if close else ""

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
            pass
        prefix = self.family_of(name)
        if prefix is not None:  # a family member used for the first time: build and check it
            family = self.family(prefix)
            try:
                cls = family.build(name)
            except RegistryError as e:  # scipy:Nelder-Mead is ours: say so
                member = name.partition(":")[2]
                own = suggestions(member, list(self)) if member and not family.bare else []
                if not own or suggestions(member, family.members()):  # its own come first
                    raise
                raise RegistryError(f"{e}; optbench's own: {', '.join(own)}") from None
            entry = Entry(name, cls, f"{self._families[prefix].source} family {prefix!r}",
                          family=prefix)
            self._ready(entry)
            self._entries[name] = entry
            return entry
        valid = ", ".join(self) or "none"
        if self._families:
            valid += "; families: " + ", ".join(
                p if self.family(p).bare else f"{p}:<{self.family(p).noun}>"
                for p in self._families)
        close = self.suggest(name)
        hint = "" if close else ("; a plugin of yours? install its package, or name the "
                                 "file that defines it as path/to/file.py:Class")
        raise RegistryError(f"unknown {self.kind} {name!r}{close}; known: {valid}{hint}")


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
    if not _valid(value, low, high, low_open, high_open, integer):
        # the message only when it is needed: constructors check every parameter of every run
        kind = "an integer" if integer else "a number"
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        valid = f"{kind} {' and '.join(bounds)}".strip()
        raise ParameterError(f"{owner}: parameter {name!r} must be {valid}, got {value!r}", name)
    return int(value) if integer else float(value)


def _valid(value: Any, low: float | None, high: float | None, low_open: bool, high_open: bool,
           integer: bool) -> bool:
    """``check_number``'s test: a finite number (an integer when ``integer``) in the interval."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if integer and isinstance(value, float) and not value.is_integer():
        return False
    if value != value or value in (math.inf, -math.inf):
        return False
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return high is None or not (value > high or (high_open and value == high))
