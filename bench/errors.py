"""Errors that are the user's to fix: the CLI prints them as one line and exits with code 2."""

from __future__ import annotations

from optbench_registry import ParameterError, RegistryError
from problems.datasets import DataError


class UsageError(Exception):
    """A mistake in a command line or config; the message says where and what is valid."""


USER_ERRORS: tuple[type[Exception], ...] = (UsageError, ParameterError, RegistryError, DataError)


def describe(e: BaseException) -> str:
    """An exception as a person reads it in one line: ``TypeName: message`` (or the name)."""
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
