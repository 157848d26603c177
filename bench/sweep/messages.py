"""A config mistake as one line: ``key.path: what is wrong, got <a bounded excerpt>``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from optbench.bench.sweep.models import MAX_RUNS, SweepModel

# What is valid, for the fields whose pydantic message says only what is wrong
HINTS = {
    "name": "letters, digits, '_', '.', '-', first a letter or digit: it names the results "
            "folder",
    "timeout": "seconds > 0 per run, or null for no limit",
    "stop_at_target": "true or false",
    "max_runs": f"a count >= 1 of runs the grid may have (default {MAX_RUNS:,})",
}


def pydantic_line(e: ValidationError, root: type[BaseModel] = SweepModel,
                   prefix: tuple = ()) -> str:
    """The first error as ``key.path: what is wrong``; ``prefix`` is where ``root`` sits."""
    err = e.errors()[0]
    loc = _key_path(prefix + err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    msg = msg[:1].lower() + msg[1:]  # only the first letter: the rest may quote a pattern
    if err["type"] == "extra_forbidden":
        model = _model_at(root, err["loc"][:-1])
        valid = ", ".join(model.model_fields) if model else ""
        return f"{loc}: unknown key; valid keys here: {valid}"
    if err["type"] == "missing":
        return f"{loc}: missing (required)"
    got = err.get("input")
    if err["type"] == "model_type":  # pydantic's words name our class ("TargetsModel")
        model = _model_at(root, err["loc"])
        keys = ", ".join(model.model_fields) if model else ""
        return f"{loc}: must be a mapping with keys among {keys}, got {excerpt(got)}"
    hint = HINTS.get(loc) if not prefix else None
    if hint:
        msg += f" ({hint})"
    return f"{loc}: {msg}, got {excerpt(got)}" if not isinstance(got, dict) else f"{loc}: {msg}"


EXCERPT = 120  # characters of an offending value that a message shows


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """``repr(value)``, cut to ``limit`` characters with "…": a message stays one short line,
    and a huge value is not walked whole to say so (reprlib stops at a few items per level)."""
    import reprlib

    r = reprlib.Repr()  # (keyword arguments only from Python 3.12)
    r.maxlevel, r.maxdict, r.maxlist, r.maxtuple, r.maxset = 3, 8, 8, 8, 8
    r.maxstring = r.maxlong = r.maxother = limit
    short = r.repr(value)
    return short if len(short) <= limit else short[:limit - 1] + "…"


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    model = root
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        ann = getattr(field, "annotation", None)
        nested = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type)
                  and issubclass(a, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _cut(message: str, limit: int = 4 * EXCERPT) -> str:
    """A constructor's message, which may quote a whole value, kept to one readable line."""
    line = message.splitlines()[0] if message else message
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _named_param(message: str, params: dict[str, Any]) -> str | None:
    for key in params:
        if f"'{key}'" in message:
            return key
    return None
