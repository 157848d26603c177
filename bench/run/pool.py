"""A small local process pool whose hard limit is a SIGKILL, on time.

Each worker is a spawned process (``executors.spawn_context``) with a pipe of its own. An item's
clock starts when it is handed to a ready worker (start-up and imports are not charged); the
parent waits on every worker's pipe at once, until the nearest deadline, and a worker still
busy at its item's deadline gets SIGKILL there and then: no SIGTERM first (a process stuck in
one LAPACK call would ignore it), no waiting for one stuck worker before killing the next. A
replacement is started only while items are left.

Workers ignore SIGINT (Ctrl-C is the parent's: it stops the pool, which kills every worker and
starts none) and, on Linux, die with the parent (``PR_SET_PDEATHSIG``): a CLI killed with
SIGKILL leaves no worker behind.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import wait
from typing import Any, NamedTuple

from optbench.bench.errors import describe

READY = "ready"


class PoolBroken(RuntimeError):
    """A worker died before it was ready: no worker can run here (its exit code said)."""


class Outcome(NamedTuple):
    """How an item ended: ``kind`` is done (value: the result), error (value: the message of
    what the function raised, or why its result could not come back), timeout (killed at the
    deadline; value: the limit) or died (value: the worker's exit code)."""

    item: Any
    kind: str
    value: Any


class _Worker:
    def __init__(self, context, function: Callable, initializer: Callable | None):
        self.conn, self._child_end = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_serve, args=(self._child_end, function, initializer, os.getpid()))
        self.state = "starting"  # then "idle" once it says it is ready, "busy" with an item
        self.item: Any = None
        self.deadline: float | None = None
        self.limit: float | None = None

    def start(self) -> None:
        """Start the process with SIGINT blocked: the child inherits the mask, so a Ctrl-C
        during its start-up cannot interrupt it (``_serve`` then ignores SIGINT), and one
        meant for this process waits the few milliseconds until it is unblocked here."""
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self._child_end.close()  # its end lives in the child alone: its death is our EOF

    def give(self, item, limit: float | None) -> None:
        self.conn.send(item)
        self.item, self.limit, self.state = item, limit, "busy"
        self.deadline = None if limit is None else time.monotonic() + limit

    def signal(self) -> None:
        """SIGKILL, now: nothing a process is stuck in can delay it. (Never to a reaped
        process: its pid may belong to another by now.)"""
        if self.process.pid is not None and self.process.exitcode is None:
            with contextlib.suppress(OSError):  # gone already
                os.kill(self.process.pid, signal.SIGKILL)

    def kill(self) -> int | None:
        """SIGKILL, then reap the process (milliseconds); its exit code."""
        self.signal()
        if self.process.pid is not None:
            self.process.join(2.0)
        self.conn.close()
        return self.process.exitcode if self.process.pid is not None else None


def imap(function: Callable, items: Iterable, workers: int,
         limit: Callable[[Any], float | None] = lambda item: None,
         initializer: Callable | None = None) -> Iterator[Outcome]:
    """``function(item)`` for each item in ``workers`` processes, as they finish.

    ``limit(item)`` is the item's hard limit in seconds (None: none). Leaving the iterator
    early (an exception in the caller, KeyboardInterrupt, ``close()``) kills every worker.
    ``function`` and ``initializer`` must be importable module-level functions. A deque is
    read as it goes: items appended to it between two outcomes are run too (``optbench tune``).
    """
    from optbench.bench.run.executors import spawn_context

    context = spawn_context()
    todo = items if isinstance(items, deque) else deque(items)
    alive: list[_Worker] = []  # every worker started and not yet reaped, whatever its state
    try:
        while todo or any(w.state == "busy" for w in alive):
            yield from _dispatch(todo, alive, limit)
            while todo and len(alive) < workers and \
                    sum(w.state != "busy" for w in alive) < len(todo):
                worker = _Worker(context, function, initializer)
                alive.append(worker)  # listed before it exists: never left behind
                worker.start()
            waiting = [w for w in alive if w.state != "idle"]
            deadlines = [w.deadline for w in waiting if w.deadline is not None]
            wait_for = None if not deadlines else max(0.0, min(deadlines) - time.monotonic())
            by_conn = {w.conn: w for w in waiting}
            for conn in wait(list(by_conn), wait_for):
                worker = by_conn[conn]
                got = _receive(worker)
                if worker.state == "starting" and got is not READY:
                    raise PoolBroken(f"a worker process exited as it started (exit code "
                                     f"{_reap(worker, alive)})")
                if worker.state == "starting":
                    worker.state = "idle"
                elif got is None:  # EOF: the item took its process with it
                    yield Outcome(worker.item, "died", _reap(worker, alive))
                else:
                    worker.state = "idle"
                    yield Outcome(worker.item, *got)
            now = time.monotonic()
            late = [w for w in alive if w.state == "busy" and now >= (w.deadline or math.inf)]
            for worker in late:  # every late one gets its SIGKILL before any is waited for
                worker.signal()
            for worker in late:
                _reap(worker, alive)
            for worker in late:
                yield Outcome(worker.item, "timeout", worker.limit)
    finally:
        for worker in alive:  # all signals first, then the reaping: no one waits in turn
            worker.signal()
        for worker in alive:
            worker.kill()


def _dispatch(todo: deque, alive: list[_Worker], limit) -> Iterator[Outcome]:
    """Hand items to the idle workers; an item that cannot be sent is an error outcome."""
    for worker in [w for w in alive if w.state == "idle"]:
        if not todo:
            return
        item = todo.popleft()
        try:
            worker.give(item, limit(item))
        except OSError:  # the worker died while idle: the item waits for another
            todo.appendleft(item)
            _reap(worker, alive)
        except Exception as e:  # pickling it failed before anything was sent
            yield Outcome(item, "error", f"it could not be sent to a worker ({describe(e)})")


def _reap(worker: _Worker, alive: list[_Worker]) -> int | None:
    code = worker.kill()
    alive.remove(worker)
    return code


def _receive(worker: _Worker):
    """The worker's next message, or None when it is gone."""
    try:
        got = worker.conn.recv()
    except (EOFError, OSError):
        return None
    return READY if got == READY else got


def _serve(conn, function: Callable, initializer: Callable | None, parent: int) -> None:
    """The worker: items in, ("done", result) or ("error", message) out, until EOF."""
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by start()
    if initializer is not None:
        initializer()
    conn.send(READY)
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result = ("done", function(item))
        except Exception as e:
            result = ("error", describe(e))
        if not _send(conn, result):
            return


def _send(conn, result) -> bool:
    """Send ``result``; False when the pool is gone (nobody to answer)."""
    try:
        conn.send(result)
    except OSError:
        return False
    except Exception as e:  # pickling the result failed before anything was sent
        return _send(conn, ("error", f"its result could not be sent back ({describe(e)})"))
    return True


def _die_with(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux); if the parent is
    already gone, go now."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)
