"""The mistakes a user can make, as typed exceptions; each message is the one line the CLI prints.

The CLI prints any of these as ``optbench: error: <message>`` and exits with code 2; in Python
they are raised as they are. This module imports nothing of optbench, so the problems, the
optimizers and the harness can all raise them.
"""

from __future__ import annotations


class OptbenchError(Exception):
    """Base of every error that is the user's to fix."""


class UsageError(OptbenchError):
    """A mistake in a command line or an argument; the message says where and what is valid."""


class ConfigError(UsageError):
    """A mistake in a sweep config: ``FILE: key.path: what is wrong; what is valid``."""


class ResultsError(UsageError):
    """A results folder that cannot be read, or is not one."""


class RegistryError(OptbenchError, LookupError):
    """An unknown name, a clash, or a plugin that does not satisfy its contract."""


class ParameterError(OptbenchError, ValueError):
    """A constructor parameter outside its valid range; the message names owner and parameter.

    ``param`` is the parameter's key path below the owner (``lr.piecewise.values``), which the
    YAML validation appends to the entry's path.
    """

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class DataError(OptbenchError, ValueError):
    """A data file that is missing, unreadable or of the wrong shape.

    ``param`` names the parameter at fault when it is not the file itself (``samples``), as
    ParameterError does, so that the YAML validation can point at it.
    """

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


USER_ERRORS: tuple[type[Exception], ...] = (OptbenchError,)
