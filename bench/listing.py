"""``optbench list``: every problem and optimizer with its parameters, defaults and source."""

from __future__ import annotations

import inspect

import optimizers
import problems
from optbench_registry import Registry

from .plugins import broken, load_entry_points


def _default(value) -> str:
    if value is inspect.Parameter.empty:
        return "required"
    if isinstance(value, float):
        return f"{value:g}"
    return "null" if value is None else str(value)


def _summary(cls: type) -> str:
    """First line of the class's own docstring, else of its module's (not an inherited one)."""
    for doc in (vars(cls).get("__doc__"), inspect.getmodule(cls).__doc__):
        lines = inspect.cleandoc(doc or "").splitlines()
        if lines and lines[0].strip():
            return lines[0].strip()
    return ""


def _section(registry: Registry, title: str) -> list[str]:
    lines = [title]
    for name in registry:
        source = registry.source(name)
        try:
            params = registry.params(name)
            cls = registry.get(name)
        except Exception as e:
            lines.append(f"  {name}  [{source}]  unavailable: {type(e).__name__}: {e}")
            continue
        head = _summary(cls)
        lines.append(f"  {name}  [{source}]  {head}")
        for p in params:
            doc = f"  {p.doc}" if p.doc else ""
            lines.append(f"      {p.name} = {_default(p.default)}{doc}")
    return lines


def listing() -> str:
    load_entry_points()
    lines = _section(problems.registry, "problems:")
    lines += ["", *_section(optimizers.registry, "optimizers:")]
    if broken:
        lines += ["", "plugins that could not be loaded:", *(f"  {b}" for b in broken)]
    return "\n".join(lines)
