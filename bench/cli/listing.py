"""``optbench list``: every problem and optimizer with its parameters, defaults and source."""

from __future__ import annotations

import inspect
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
                        name in {shown for shown, _, _ in rows}:
                    continue
                try:
                    rows.append((name, plugins.resolve(kind, name, base), ""))
                except RegistryError as e:
                    rows.append((name, None, str(e)))
    return out


def listing(config: str | Path | None = None, plugins: Plugins | None = None) -> str:
    """The text of ``optbench list`` for ``plugins`` (default: the process's)."""
    plugins = plugins or default()
    plugins.load_all()
    named = config_plugins(Path(config), plugins) if config is not None else {}
    lines = _section(plugins.problems, "problems:", named.get("problem", []))
    lines += ["", *_section(plugins.optimizers, "optimizers:", named.get("optimizer", []))]
    broken = plugins.broken()
    if broken:
        lines += ["", "plugins that could not be loaded:", *(f"  {b}" for b in broken)]
    return "\n".join(lines)
