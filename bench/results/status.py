"""How a run ended: one enum, which endings count as failed, and which ones point at the user.

``Status.failed``: the run broke or gave up rather than ended; it counts as reaching no target.
``Status.users_fault``: the ending says something is wrong with the user's code or setup, not
with the method. With ``blames_user`` (a run) and ``exit_code`` (a sweep) these are the one
place where ``optbench run``'s exit code and ``Results.exit_code`` are decided:

    1  a run raised (``error``: the problem, a plugin, or an objective that ignores its
       argument), hung (``timeout``), produced a NaN (``nan``: see below), or gave up with a
       gradient that disagrees with differences where it stopped (``failed`` with
       ``gradient_check_failed``); or a problem was left out by its entry check;
    0  otherwise: the methods did what they did (``target``, ``converged``, ``budget``,
       ``diverged``, ``failed`` on a gradient that agrees with differences).

``nan`` counts as the user's: the runner stops a run as ``diverged`` long before its values
overflow (10⁸·(|f₀|+1)), so a NaN almost always means the function or its gradient is
undefined or computed unsafely where the method went (a norm or square root at 0, log 0,
inf − inf), or the method left a domain the problem does not declare as bounds.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Status(enum.Enum):
    """How a run ended; the value is what a person reads in tables."""

    TARGET = "target"  # every target held at one evaluated point
    CONVERGED = "converged"  # the method's own stopping test was met
    FAILED = "failed"  # the method gave up without meeting its test (L-BFGS-B's line search)
    BUDGET = "budget"  # evaluations, iterations or seconds used up
    DIVERGED = "diverged"  # f grew beyond any sensible bound
    NAN = "nan"  # a value, gradient or iterate was not finite
    ERROR = "error"  # an exception in the problem or the optimizer, or a guard of the runner
    TIMEOUT = "timeout"  # killed from outside after the hard wall-clock limit

    @property
    def failed(self) -> bool:
        """The run broke or gave up: it counts as reaching no target."""
        return self in _FAILED

    @property
    def users_fault(self) -> bool:
        """The ending itself points at the user's code or setup (see the module docstring)."""
        return self in _USERS


_FAILED = frozenset({Status.FAILED, Status.DIVERGED, Status.NAN, Status.ERROR, Status.TIMEOUT})
_USERS = frozenset({Status.NAN, Status.ERROR, Status.TIMEOUT})

STATUSES = tuple(s.value for s in Status)  # as stored in a run's ``status`` column
FAILED = tuple(s.value for s in Status if s.failed)  # those of failed runs, in enum order

# The gradient check's tolerance on the worst relative error (``optbench check``'s default);
# the check at a failed run's final point uses it too.
GRADIENT_TOL = 1e-6


def blames_user(status: Status | str, gradient_check_failed: bool | None = None) -> bool:
    """Whether one run's ending points at the user's code: its status does, or it ``failed``
    with a gradient that disagrees with differences where it stopped."""
    status = Status(status)
    disagrees = gradient_check_failed in (True,)  # a bool, numpy's too; None or NaN: no check
    return status.users_fault or (status is Status.FAILED and disagrees)


def exit_code(runs: Iterable[tuple[Status | str, bool | None]], left_out: int = 0) -> int:
    """1 when a run (status, gradient_check_failed) blames the user or a problem was left out
    by its entry check; else 0."""
    return int(left_out > 0 or any(blames_user(s, g) for s, g in runs))
