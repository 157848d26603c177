"""A library that owns its loop, run on a background thread and paused at each iteration.

scipy's ``minimize`` calls the objective itself and reports an iteration through its callback;
there is no ask/tell. ``PausedLoop`` runs such a function on a worker thread, as Nevergrad's
recaster (``nevergrad/optimization/recaster.py``, ``_MessagingThread``) does, with the handover
at the callback rather than at each evaluation::

    main thread                          worker thread
    next() ──"go"──▶                     runs the library: evaluates (through the oracle) ...
           ◀──("iteration", x)──         ... until its callback, which then waits for "go"
    next() ──"go"──▶  ...                ...
           ◀──("done", result)──         the library returned; the thread ends
           ◀──("raised", error)──        an evaluation raised (BudgetExhausted, ...); it ends

Evaluations run on the worker while the main thread waits, so only one thread runs at a time
and each iteration costs two handovers. ``close()`` puts "stop": the callback (or the next
evaluation, if the worker is inside one) raises ``StopLoop``, which unwinds the library and
ends the thread; ``close`` joins it, so no thread outlives the run. The worker runs in a copy
of the caller's context (``contextvars``), so context-local settings hold there too.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

GO, STOP = "go", "stop"


class StopLoop(Exception):
    """Raised inside the worker to unwind the library when the run is closed early."""


class PausedLoop:
    """Run ``loop(pause, check)`` on a worker thread, one iteration per ``next()``.

    The library calls ``pause(x)`` from its callback (x is handed over, then the worker waits)
    and ``check()`` before each evaluation (raises ``StopLoop`` once closing). ``next()`` returns
    ``("iteration", x)``, ``("done", result)`` or raises what the worker raised.
    """

    def __init__(self, loop: Callable[[Callable[[Any], None], Callable[[], None]], Any],
                 name: str = "optbench-loop"):
        self._loop = loop
        self._name = name
        self._go: queue.SimpleQueue = queue.SimpleQueue()
        self._out: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closing = False
        self.finished = False

    def next(self) -> tuple[str, Any]:
        """Let the library run to its next iteration (or its end); what it reported."""
        if self.finished:
            raise RuntimeError("the loop has finished")
        if self._thread is None:
            context = contextvars.copy_context()
            self._thread = threading.Thread(target=context.run, args=(self._work,),
                                            name=self._name, daemon=True)
            self._thread.start()
        else:
            self._go.put(GO)
        kind, payload = self._out.get()
        if kind != "iteration":
            self.finished = True
            self._thread.join()
        if kind == "raised":
            raise payload
        return kind, payload

    def close(self) -> None:
        """Stop the library if it is still running and wait for its thread to end."""
        thread = self._thread
        if thread is None or self.finished:
            return
        self._closing = True
        self.finished = True
        self._go.put(STOP)
        thread.join()

    # -- on the worker -----------------------------------------------------------------------
    def _work(self) -> None:
        try:
            result = self._loop(self._pause, self._check)
        except StopLoop:
            return  # closed: nobody waits for a report
        except BaseException as e:  # handed to the main thread, re-raised there by next()
            self._out.put(("raised", e))
            return
        self._out.put(("done", result))

    def _pause(self, x: Any) -> None:
        self._out.put(("iteration", x))
        if self._go.get() == STOP:
            raise StopLoop

    def _check(self) -> None:
        if self._closing:
            raise StopLoop
