"""Where runs execute: this process, a local process pool, or a Dask cluster.

Whatever runs them, each finished run is stored the moment its result arrives, so a sweep that
is killed loses only the runs in flight. A local pool enforces each run's hard ``timeout`` by
killing its worker process with SIGKILL at the deadline (pool.py); on Dask each run goes to a
helper process its worker kills (``bounded_execute``). Both hold even when a problem hangs
inside C code. In this process (``--workers 0``) nothing can stop a hung run: no hard limit.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from multiprocessing import context as mp_context
from multiprocessing import popen_spawn_posix, spawn

from optbench.bench.errors import UsageError, describe
from optbench.bench.results.records import RunRecord
from optbench.bench.run import verdict
from optbench.bench.run.runner import execute, hold_one_blas_thread, one_blas_thread
from optbench.bench.sweep.spec import RunSpec

READY = b"R"  # the Dask run helper's first byte: imports done, the timeout clock may start


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


_launch_lock = threading.Lock()


class _PopenWithoutMain(popen_spawn_posix.Popen):
    """multiprocessing's spawn, less its re-import of the parent's ``__main__`` in the child.

    Workers run ``execute`` on specs whose in-memory problems travel pickled by value, so they
    need nothing from the script that started them; not re-running it means a script or
    notebook that calls ``optbench.sweep(..., workers=2)`` without an ``if __name__ ==
    "__main__":`` guard works (spawn would otherwise run the script again in every worker).
    """

    def _launch(self, process_obj):
        with _launch_lock:  # the patch is seen by this launch only
            original = spawn.get_preparation_data

            def without_main(name):
                data = original(name)
                data.pop("init_main_from_path", None)
                data.pop("init_main_from_name", None)
                return data

            spawn.get_preparation_data = without_main
            try:
                super()._launch(process_obj)
            finally:
                spawn.get_preparation_data = original


class _ProcessWithoutMain(mp_context.SpawnProcess):
    @staticmethod
    def _Popen(process_obj):
        return _PopenWithoutMain(process_obj)


class _SpawnWithoutMain(mp_context.SpawnContext):
    Process = _ProcessWithoutMain


@functools.cache
def spawn_context() -> _SpawnWithoutMain:
    """The start method of every worker and check process (see ``_PopenWithoutMain``)."""
    return _SpawnWithoutMain()


def in_process(specs: Iterable[RunSpec]) -> Iterator[RunRecord]:
    """Run in this process, one after another (no hard timeout: nothing can kill a run here)."""
    with one_blas_thread():  # limited once for the sweep, not at every run
        for spec in specs:
            yield execute(spec)


def process_pool(specs: list[RunSpec], workers: int) -> Iterator[RunRecord]:
    """Run in ``workers`` processes; a run past its hard ``timeout`` is killed on time (pool.py)."""
    from optbench.bench.run.pool import PoolBroken, imap

    runs = imap(execute, specs, workers, limit=lambda s: s.timeout,
                initializer=hold_one_blas_thread)
    with contextlib.closing(runs):  # leaving early kills the workers now, not at collection
        while True:
            try:
                spec, kind, value = next(runs)
            except StopIteration:
                return
            except PoolBroken as e:
                raise UsageError(f"--workers {workers}: {e}; --workers 0 runs in this "
                                 "process") from None
            if kind == "done":
                yield value
            elif kind == "timeout":
                yield _killed(spec)
            elif kind == "died":
                yield _died(spec, value)
            else:  # e.g. a record that could not be sent back
                yield _lost(spec, value)


def _killed(spec: RunSpec) -> RunRecord:
    """The record of a run killed at its hard limit: it ran for all of it."""
    v = verdict.killed(spec.timeout)
    return RunRecord(spec, v.status, v.message, wall_time_s=spec.timeout)


def _died(spec: RunSpec, exit_code: int | None) -> RunRecord:
    v = verdict.died(exit_code)
    return RunRecord(spec, v.status, v.message)


def _lost(spec: RunSpec, reason: str) -> RunRecord:
    v = verdict.lost(reason)
    return RunRecord(spec, v.status, v.message)


class ClusterLost(UsageError):
    """Runs that did not come back from the cluster: not results, so nothing is stored."""


def executor(workers: int | None, scheduler: str | None):
    """The executor for these flags, as a context; a scheduler is connected to on entry, so an
    unreachable one fails before anything is written."""
    if scheduler:
        return _dask(scheduler)
    n = default_workers() if workers is None else workers
    return contextlib.nullcontext(in_process if n == 0 else lambda specs: process_pool(specs, n))


@contextlib.contextmanager
def _dask(address: str):
    with dask_client(address) as client:
        yield lambda specs: dask_cluster(specs, client, address)


@contextlib.contextmanager
def dask_client(address: str):
    """A client of the scheduler at ``address``, as a context (what ``optbench tune`` uses)."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed: pip install 'optbench[dask]'") \
            from None
    try:
        client = _connect(Client, address, seconds=20.0)
    except Exception as e:  # nothing listening, a malformed address, not a scheduler: the user's
        raise UsageError(f"--scheduler {address}: cannot reach a Dask scheduler there "
                         f"({describe(e)})") from None
    # distributed logs a lost scheduler as tracebacks; the sweep says it in one line instead
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):  # a lost scheduler may not close cleanly
            client.close(timeout=5)


def _connect(Client, address: str, seconds: float):
    """``Client(address)`` within ``seconds``, handshake included: Client's own timeout covers
    the connect only, so a server that accepts and never answers (not a scheduler) would hang.
    The attempt runs on a daemon thread, which a refused connection leaves behind harmlessly."""
    result: list = []

    def attempt():
        try:
            result.append(Client(address, timeout=f"{seconds / 2:g}s"))
        except Exception as e:
            result.append(e)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(seconds)
    if not result:
        raise TimeoutError(f"no scheduler handshake within {seconds:g} s")
    if isinstance(result[0], Exception):
        raise result[0]
    return result[0]


def dask_cluster(specs: list[RunSpec], client, address: str) -> Iterator[RunRecord]:
    """Send the runs to the Dask scheduler; each runs in a helper process its worker can kill.

    ``bounded_execute`` turns every run's failure, timeout included, into a record, so an
    exception here is the cluster's (a lost scheduler, a dead worker): those runs are not
    results; what did finish is yielded (and stored), then ``ClusterLost`` ends the sweep.
    """
    from distributed import as_completed

    futures = client.map(bounded_execute, specs, pure=False)
    done, reason = 0, ""
    try:
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as e:
                reason = reason or _first_line(e)
                continue
            done += 1
            yield record
    except Exception as e:  # waiting itself failed: the same for every run left
        reason = reason or _first_line(e)
    if done < len(specs):
        raise ClusterLost(
            f"--scheduler {address}: {len(specs) - done} of {len(specs)} runs did not come back "
            f"({reason}); the {done} that finished are stored, --resume runs the rest"
        )


def _first_line(e: BaseException) -> str:
    return describe(e).splitlines()[0]


_local = threading.local()  # one helper per worker thread, reused from run to run


def bounded_execute(spec: RunSpec) -> RunRecord:
    """``execute(spec)`` in a helper process, killed after ``spec.timeout`` (inside C code too).

    A Dask worker is a daemon process and may not start multiprocessing children, hence a
    plain subprocess speaking pickle over its pipes; it is started once per worker thread, and
    the clock starts only when it is ready, as in the local pool (pool.py).
    """
    helper = getattr(_local, "helper", None)
    if helper is None or helper.poll() is not None:
        helper = _local.helper = _start_helper()
    deadline = None if spec.timeout is None else time.monotonic() + spec.timeout
    try:
        data = pickle.dumps(spec)
        helper.stdin.write(len(data).to_bytes(8, "big") + data)
        helper.stdin.flush()
        size = int.from_bytes(_read(helper, 8, deadline), "big")
        return pickle.loads(_read(helper, size, deadline))
    except FutureTimeout:
        _stop(helper)
        return _killed(spec)
    except (EOFError, OSError):  # the run took its process with it (a crash in C, OOM)
        return _died(spec, _stop(helper))


def _start_helper() -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    code = "from optbench.bench.run.executors import serve; serve()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)
    if _read(proc, 1, time.monotonic() + 120) != READY:
        raise RuntimeError("the run helper process did not start")
    return proc


def _read(proc: subprocess.Popen, n: int, deadline: float | None) -> bytes:
    """n bytes from the helper, or FutureTimeout at ``deadline`` (monotonic), EOFError if dead."""
    fd, chunks = proc.stdout.fileno(), []
    while n:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not select.select([fd], [], [], wait)[0]:
            raise FutureTimeout
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _stop(proc: subprocess.Popen) -> int | None:
    proc.kill()
    return proc.wait()


def serve() -> None:
    """The helper's loop: a spec in on stdin, its record out; ends when stdin closes."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what a problem prints goes to stderr, not into the records' channel
    hold_one_blas_thread()  # one BLAS thread per process: parallelism from processes
    out.write(READY)
    out.flush()
    inp = sys.stdin.buffer
    while header := inp.read(8):
        spec = pickle.loads(inp.read(int.from_bytes(header, "big")))
        data = pickle.dumps(execute(spec))
        out.write(len(data).to_bytes(8, "big") + data)
        out.flush()
