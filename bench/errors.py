"""Errors that are the user's to fix (see ``optbench.errors``), and one way to show any other."""

from __future__ import annotations

from optbench.errors import (  # noqa: F401  (re-exported for the harness)
    USER_ERRORS,
    ConfigError,
    DataError,
    OptbenchError,
    ParameterError,
    RegistryError,
    ResultsError,
    UsageError,
)


def describe(e: BaseException) -> str:
    """An exception as a person reads it in one line: ``TypeName: message`` (or the name)."""
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
