"""How a run ended: one enum, and the one definition of which endings count as failed."""

from __future__ import annotations

import enum


class Status(enum.Enum):
    """How a run ended; the value is what a person reads in tables."""

    TARGET = "target"  # every target held at one evaluated point
    CONVERGED = "converged"  # the method's own stopping test
    BUDGET = "budget"  # evaluations, iterations or seconds used up
    DIVERGED = "diverged"  # f grew beyond any sensible bound
    NAN = "nan"  # a value, gradient or iterate was not finite
    ERROR = "error"  # an exception in the problem or the optimizer
    TIMEOUT = "timeout"  # killed from outside after the hard wall-clock limit

    @property
    def failed(self) -> bool:
        """The run broke rather than ended: it counts as reaching no target."""
        return self in _FAILED


_FAILED = frozenset({Status.DIVERGED, Status.NAN, Status.ERROR, Status.TIMEOUT})

STATUSES = tuple(s.value for s in Status)  # as stored in a run's ``status`` column
FAILED = tuple(s.value for s in Status if s.failed)  # those of failed runs, in enum order
