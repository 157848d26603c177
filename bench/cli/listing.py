"""``optbench list``: every problem and optimizer with its parameters, defaults and source;
the families (``scipy:<method>``, ``cma``, ...) with how many members each has; and, for
``optbench list NAME``, one name in full (a family's prefix: its members' names)."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

from optbench.bench.errors import describe
from optbench.bench.formatting import config_value
from optbench.bench.plugins import Plugins, default
from optbench.registry import Registry, RegistryError


def _default(value) -> str:
    if value is inspect.Parameter.empty:
        return "required"
    return "null" if value is None else config_value(value)


def _summary(cls: type) -> str:
    """First line of the class's own docstring, else of its module's (not an inherited one)."""
    for doc in (vars(cls).get("__doc__"), inspect.getmodule(cls).__doc__):
        lines = inspect.cleandoc(doc or "").splitlines()
        if lines and lines[0].strip():
            return lines[0].strip()
    return ""


def _entry(registry: Registry, shown: str, key: str) -> list[str]:
    source = registry.source(key)
    try:
        params = registry.params(key)
        cls = registry.get(key)
    except Exception as e:
        return [f"  {shown}  [{source}]  unavailable: {describe(e)}"]
    lines = [f"  {shown}  [{source}]  {_summary(cls)}"]
    for p in params:
        doc = f"  {p.doc}" if p.doc else ""
        lines.append(f"      {p.name} = {_default(p.default)}{doc}")
    return lines


def _section(registry: Registry, title: str, named: list[tuple[str, str | None, str]]) -> list[str]:
    """Registered names, then those the config names by ``file.py:Class``/``module:Class``
    (shown as spelled there; ``named`` rows are (spelling, key or None, source or why))."""
    keys = {key for _, key, _ in named}
    lines = [title]
    for name in registry:
        if name not in keys:
            lines += _entry(registry, name, name)
    for shown, key, why in named:
        lines += _entry(registry, shown, key) if key else [f"  {shown}  unavailable: {why}"]
    return lines


def config_plugins(config: Path, plugins: Plugins) -> dict[str, list[tuple[str, str | None, str]]]:
    """Per kind, the plugin names a sweep config spells as ``file.py:Class``/``module:Class``.

    Only the YAML is read (not the whole sweep validated), so a plugin shows up even while
    other keys of the config are still wrong.
    """
    from optbench.bench.sweep.config import read_config

    _, raw = read_config(config)
    base = config.parent.resolve()
    out: dict[str, list[tuple[str, str | None, str]]] = {}
    for section, kind in (("problems", "problem"), ("optimizers", "optimizer")):
        rows = out.setdefault(kind, [])
        entries = raw.get(section)
        for entry in entries if isinstance(entries, list) else []:
            for name in entry if isinstance(entry, dict) else []:
                if not isinstance(name, str) or ":" not in name or \
                        name in {shown for shown, _, _ in rows} or \
                        plugins.registry(kind).family_of(name) is not None:
                    continue
                try:
                    rows.append((name, plugins.resolve(kind, name, base), ""))
                except RegistryError as e:
                    rows.append((name, None, str(e)))
    return out


def _families(registry: Registry) -> list[str]:
    """One line per family: its spelling, source, member count and summary, or why it is not
    available (the package to install)."""
    if not registry.families():
        return []
    lines = ["", f"{registry.kind} families (`optbench list PREFIX` names the members, "
                 f"`optbench list PREFIX:MEMBER` shows one):"]
    for prefix in registry.families():
        family = registry.family(prefix)
        shown = prefix if family.bare else f"{prefix}:<{family.noun}>"
        source = registry.family_source(prefix)
        why = family.missing()
        if why:
            lines.append(f"  {shown}  [{source}]  unavailable: {why}")
            continue
        count = family.count()
        many = f"{count} {family.noun}{'s' if count != 1 else ''}"
        lines.append(f"  {shown}  [{source}]  {many}: {family.summary}")
    return lines


def _reference(cls: type) -> str:
    """The class's ``reference``, else the "Reference:" paragraph of its module's docstring."""
    ref = getattr(cls, "reference", None)
    if not ref:
        doc = inspect.getmodule(cls).__doc__ or ""
        found = re.search(r"^References?:\s*(.*?)(?:\n\s*\n|\Z)", doc, re.M | re.S)
        ref = " ".join(found.group(1).split()) if found else ""
    return ref


def one(name: str, plugins: Plugins | None = None) -> str:
    """The text of ``optbench list NAME``: one problem, optimizer or family member with every
    parameter, its default and what it means, and its reference; a family's prefix lists its
    members. An unknown name raises RegistryError (with suggestions)."""
    plugins = plugins or default()
    for kind in ("optimizer", "problem"):
        registry = plugins.registry(kind)
        if name in registry.families() and not registry.family(name).bare:
            family = registry.family(name)
            family.require()
            members = [family.spell(m) for m in family.members()]
            body = textwrap.fill(", ".join(members), width=100, initial_indent="  ",
                                 subsequent_indent="  ", break_on_hyphens=False)
            return (f"{name}:<{family.noun}>  [{registry.family_source(name)}]  "
                    f"{family.summary}\n{len(members)} {family.noun}s:\n{body}")
    kinds = [k for k in ("optimizer", "problem")
             if name in plugins.registry(k) or plugins.registry(k).family_of(name)]
    if not kinds:  # entry points are registered by name first
        plugins.scan()
        kinds = [k for k in ("optimizer", "problem") if name in plugins.registry(k)]
    if not kinds and ":" not in name:
        close = [s for k in ("problem", "optimizer")
                 if (s := plugins.registry(k).suggest(name))]
        hint = " " + " ".join(close).strip() if close else ""
        raise RegistryError(f"list: no problem, optimizer or family is named {name!r}{hint}; "
                            "`optbench list` shows them all")
    kind = kinds[0] if kinds else "optimizer"
    key = plugins.resolve(kind, name)
    registry = plugins.registry(kind)
    cls = registry.get(key)  # an unknown name raises here, naming what is valid
    lines = [f"{name}  ({kind}) [{registry.source(key)}]  {_summary(cls)}"]
    for p in registry.params(key):
        doc = f"  {p.doc}" if p.doc else ""
        lines.append(f"    {p.name} = {_default(p.default)}{doc}")
    ref = _reference(cls)
    if ref:
        lines.append(f"  reference: {ref}")
    return "\n".join(lines)


def listing(config: str | Path | None = None, plugins: Plugins | None = None) -> str:
    """The text of ``optbench list`` for ``plugins`` (default: the process's)."""
    plugins = plugins or default()
    plugins.load_all()
    named = config_plugins(Path(config), plugins) if config is not None else {}
    lines = _section(plugins.problems, "problems:", named.get("problem", []))
    lines += _families(plugins.problems)
    lines += ["", *_section(plugins.optimizers, "optimizers:", named.get("optimizer", []))]
    lines += _families(plugins.optimizers)
    broken = plugins.broken()
    if broken:
        lines += ["", "plugins that could not be loaded:", *(f"  {b}" for b in broken)]
    return "\n".join(lines)
