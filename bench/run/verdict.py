"""The verdict on a run: one function (``decide``) turns typed signals into (status, message).

The signals are facts, never text: how the runner's loop ended (``End``), the optimizer's own
``converged``/``success``, the status an oracle stop carries, whether the targets were reached,
whether the last iterate and gradient were finite. Messages are the words of whoever ended the
run (the optimizer, the oracle, the exception) and are only passed along, never searched.

The rules, in order:

1. a run that could not be set up, raised, tripped a runner guard, or died is ``error``; one
   killed at its hard limit is ``timeout``;
2. a non-finite last iterate is ``nan`` (named at the gradient that made it, when it was one);
3. an oracle stop carries its own status (``nan``, ``diverged``, ``error`` for an objective that
   ignores its argument); ``nan`` and ``diverged`` inside an iteration say which iteration the
   record ends at;
4. a method that stopped (``converged``) or ran out of budget right after a non-finite gradient
   is ``nan``;
5. a method that stopped by its own test is ``converged`` when the test was met (``success``),
   else ``failed``: its message then carries a gradient check at the point where it stopped, and
   the verdict whether the gradient disagrees with differences there (``gradient_check_failed``);
6. the budget is ``budget``; the targets reached with ``stop_at_target`` are ``target``, and that
   wins over whatever ended the run after them in the same iteration.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from optbench.bench.results.status import Status

if TYPE_CHECKING:
    from optbench.bench.check.final import FinalCheck


class End(enum.Enum):
    """How the runner's loop ended (or the run's process, for an executor)."""

    STOPPED = "stopped"  # the optimizer set converged: its own test ended the run
    TARGET = "target"  # every target held (and the run stops at targets)
    BUDGET = "budget"  # iterations, seconds or evaluations used up
    ORACLE = "oracle"  # the oracle stopped the run; ``stop_status`` says why
    RAISED = "raised"  # an exception from the optimizer or the problem
    GUARD = "guard"  # a runner guard: a malformed iterate, an optimizer that never evaluates
    SETUP = "setup"  # building the problem, the optimizer or the start failed
    KILLED = "killed"  # killed from outside at the hard limit
    DIED = "died"  # the process running it died, or its record could not come back


@dataclass(frozen=True)
class Signals:
    end: End
    detail: str = ""  # the words of whoever ended it (optimizer, oracle, exception, executor)
    stop_status: Status | None = None  # End.ORACLE: the status the oracle's stop carries
    success: bool = True  # End.STOPPED: the optimizer's test was met (scipy's ``success``)
    target_reached: bool = False  # every target held at one evaluation the method paid for
    stop_at_target: bool = True
    iterate_finite: bool = True
    nonfinite_gradient: str = ""  # the oracle's words on the last gradient; '' when finite
    iterations: int = 0  # completed (the record's n_iter)
    unfinished: int | None = None  # the iteration under way when the run ended, if one was
    f_final: float = math.nan  # f at the last iterate (for the message of a stop mid-iteration)


@dataclass(frozen=True)
class Verdict:
    status: Status
    message: str
    gradient_check_failed: bool | None = None  # set for ``failed`` runs only


def decide(s: Signals, final_check: Callable[[], FinalCheck] | None = None) -> Verdict:
    """The run's status and message (see the module docstring); ``final_check`` is called
    only when the verdict is ``failed``."""
    verdict = _ending(s, final_check)
    if s.target_reached and s.stop_at_target and verdict.status is not Status.TARGET:
        after = f"; the run then ended: {verdict.message}" if verdict.message else ""
        return Verdict(Status.TARGET, f"target reached{after}")
    return verdict


def _ending(s: Signals, final_check) -> Verdict:
    if s.end is End.KILLED:
        return Verdict(Status.TIMEOUT, s.detail)
    if s.end is End.SETUP:
        return Verdict(Status.ERROR, f"setting up the run: {s.detail}")
    if s.end in (End.RAISED, End.GUARD, End.DIED) or (
            s.end is End.ORACLE and s.stop_status in (None, Status.ERROR)):
        return Verdict(Status.ERROR, s.detail)
    if not s.iterate_finite:
        return _mid_iteration(s, Status.NAN, s.nonfinite_gradient
                              or f"iterate is not finite at iteration {s.iterations}")
    if s.end is End.ORACLE:
        return _mid_iteration(s, s.stop_status, s.detail)
    if s.end in (End.STOPPED, End.BUDGET) and s.nonfinite_gradient:
        return _mid_iteration(s, Status.NAN, s.nonfinite_gradient)
    if s.end is End.STOPPED:
        if s.success:
            return Verdict(Status.CONVERGED, s.detail)
        check = final_check() if final_check is not None else None
        if check is None:
            return Verdict(Status.FAILED, s.detail)
        return Verdict(Status.FAILED, f"{s.detail} ({check.note})", check.disagrees)
    if s.end is End.BUDGET:
        return Verdict(Status.BUDGET, s.detail)
    return Verdict(Status.TARGET, "")


def _mid_iteration(s: Signals, status: Status, message: str) -> Verdict:
    """A failure named at an iteration the record does not include: say where it ends."""
    if status in (Status.NAN, Status.DIVERGED) and s.unfinished:
        message += (f" (stopped before iteration {s.unfinished} completed: n_iter = "
                    f"{s.iterations}, f_final = {s.f_final:.3g} at the last iterate)")
    return Verdict(status, message)


def killed(seconds: float) -> Verdict:
    """The verdict on a run killed at its hard limit (an executor's)."""
    return decide(Signals(End.KILLED, f"killed after the hard limit of {seconds:g} s"))


def died(exit_code: int | None) -> Verdict:
    """The verdict on a run whose process died (an executor's)."""
    return decide(Signals(End.DIED, f"the worker process died (exit code {exit_code})"))


def lost(reason: str) -> Verdict:
    """The verdict on a run whose record could not come back from its worker."""
    return decide(Signals(End.DIED, reason))
