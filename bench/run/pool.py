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
        self.item, self.limit = item, limit
        self.conn.send(item)
        self.deadline = None if limit is None else time.monotonic() + limit

    def kill(self) -> int | None:
        if self.process.pid is not None:
            with contextlib.suppress(OSError):  # gone already
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.join(2.0)  # reaping a killed process takes milliseconds
        self.conn.close()
        return self.process.exitcode


def imap(function: Callable, items: Iterable, workers: int,
         limit: Callable[[Any], float | None] = lambda item: None,
         initializer: Callable | None = None) -> Iterator[Outcome]:
    """``function(item)`` for each item in ``workers`` processes, as they finish.

    ``limit(item)`` is the item's hard limit in seconds (None: none). Leaving the iterator
    early (an exception in the caller, KeyboardInterrupt, ``close()``) kills every worker.
    ``function`` and ``initializer`` must be importable module-level functions.
    """
    from optbench.bench.run.executors import spawn_context

    context = spawn_context()
    todo = deque(items)
    starting: dict[Any, _Worker] = {}
    idle: list[_Worker] = []
    busy: dict[Any, _Worker] = {}
    try:
        while todo or busy:
            while todo and len(starting) + len(idle) + len(busy) < workers and \
                    len(starting) + len(idle) < len(todo):
                worker = _Worker(context, function, initializer)
                starting[worker.conn] = worker  # known before it exists: never left behind
                worker.start()
            while idle and todo:
                item = todo.popleft()
                worker = idle.pop()
                worker.give(item, limit(item))
                busy[worker.conn] = worker
            deadlines = [w.deadline for w in busy.values() if w.deadline is not None]
            wait_for = None if not deadlines else max(0.0, min(deadlines) - time.monotonic())
            for conn in wait([*starting, *busy], wait_for):
                if conn in starting:
                    worker = starting.pop(conn)
                    if _receive(worker) is not READY:
                        raise PoolBroken(f"a worker process exited as it started (exit code "
                                         f"{worker.kill()})")
                    idle.append(worker)
                    continue
                worker = busy.pop(conn)
                got = _receive(worker)
                if got is None:  # EOF: the item took its process with it
                    yield Outcome(worker.item, "died", worker.kill())
                else:
                    idle.append(worker)
                    yield Outcome(worker.item, *got)
            now = time.monotonic()
            for conn, worker in list(busy.items()):
                if worker.deadline is not None and now >= worker.deadline:
                    del busy[conn]
                    worker.kill()
                    yield Outcome(worker.item, "timeout", worker.limit)
    finally:
        everyone = [*starting.values(), *idle, *busy.values()]
        for worker in everyone:  # all signals first, then the reaping: no one waits in turn
            if worker.process.pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(worker.process.pid, signal.SIGKILL)
        for worker in everyone:
            worker.kill()


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
        try:
            conn.send(result)
        except Exception as e:  # pickling the result failed before anything was sent
            conn.send(("error", f"its result could not be sent back ({describe(e)})"))


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
