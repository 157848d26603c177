"""The executors of ``bench/run/executors.py``, fed one run at a time.

A sweep hands its executor every run at once; a study cannot, since the sampler picks trial
k + 1 from what trials 1..k scored. These pools take runs as they are asked (``submit``) and
give back each finished one (``next``), built from the same pieces as the sweep's executors: the
runner's ``execute`` in this process; a pebble process pool started with ``spawn_context`` whose
worker is killed at a run's hard timeout; or a Dask cluster where ``bounded_execute`` runs each
spec in a helper process its worker can kill. Failures become records the same way.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Hashable
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures import TimeoutError as FutureTimeout

from optbench.bench.errors import UsageError, describe
from optbench.bench.results.records import RunRecord
from optbench.bench.results.status import Status
from optbench.bench.run.executors import (
    ClusterLost,
    _connect,
    _died,
    _killed,
    _pin_blas,
    bounded_execute,
    default_workers,
    spawn_context,
)
from optbench.bench.run.runner import execute
from optbench.bench.sweep.spec import RunSpec


class InProcess:
    """Runs one after another in this process, each when its result is asked for."""

    slots = 1

    def __init__(self):
        self._queue: deque = deque()

    def submit(self, spec: RunSpec, tag: Hashable) -> None:
        self._queue.append((spec, tag))

    def pending(self) -> int:
        return len(self._queue)

    def next(self) -> tuple[Hashable, RunRecord]:
        spec, tag = self._queue.popleft()
        return tag, execute(spec)


class LocalPool:
    """A pebble process pool of ``workers`` processes (each pinned to one BLAS thread)."""

    def __init__(self, workers: int):
        from pebble import ProcessPool

        self.slots = workers
        self._pool = ProcessPool(max_workers=workers, initializer=_pin_blas,
                                 context=spawn_context())
        self._futures: dict = {}

    def submit(self, spec: RunSpec, tag: Hashable) -> None:
        future = self._pool.schedule(execute, args=(spec,), timeout=spec.timeout)
        self._futures[future] = (spec, tag)

    def pending(self) -> int:
        return len(self._futures)

    def next(self) -> tuple[Hashable, RunRecord]:
        from pebble import ProcessExpired

        done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
        future = min(done, key=lambda f: self._order(f))  # the earliest submitted first
        spec, tag = self._futures.pop(future)
        try:
            return tag, future.result()
        except FutureTimeout:
            return tag, _killed(spec)
        except ProcessExpired as e:
            return tag, _died(spec, e.exitcode)
        except Exception as e:  # e.g. a record that could not be sent back
            return tag, RunRecord(spec, Status.ERROR, describe(e))

    def _order(self, future) -> int:
        return list(self._futures).index(future)

    def close(self, interrupted: bool = False) -> None:
        if interrupted:
            self._pool.stop()
        else:
            self._pool.close()
        self._pool.join()


class DaskPool:
    """Runs on a Dask cluster; ``slots`` is its number of worker threads."""

    def __init__(self, client, address: str):
        self._client, self._address = client, address
        self.slots = max(1, sum(client.nthreads().values()))
        self._futures: dict = {}
        self._done = 0

    def submit(self, spec: RunSpec, tag: Hashable) -> None:
        future = self._client.submit(bounded_execute, spec, pure=False)
        self._futures[future] = (spec, tag)

    def pending(self) -> int:
        return len(self._futures)

    def next(self) -> tuple[Hashable, RunRecord]:
        from distributed import wait as dask_wait

        try:
            done = dask_wait(list(self._futures), return_when="FIRST_COMPLETED").done
            future = next(f for f in self._futures if f in done)
            record = future.result()
        except Exception as e:  # bounded_execute makes every run's failure a record: the cluster
            left = len(self._futures)
            raise ClusterLost(
                f"--scheduler {self._address}: {left} runs in flight did not come back "
                f"({describe(e).splitlines()[0]}); the {self._done} that finished are stored, "
                "--resume continues the studies") from None
        _, tag = self._futures.pop(future)
        self._done += 1
        return tag, record


@contextlib.contextmanager
def pool(workers: int | None, scheduler: str | None):
    """The pool for these flags (as ``executors.executor`` reads them), as a context."""
    if scheduler:
        with _dask_client(scheduler) as client:
            yield DaskPool(client, scheduler)
        return
    n = default_workers() if workers is None else workers
    if n == 0:
        yield InProcess()
        return
    local = LocalPool(n)
    try:
        yield local
    except BaseException:
        local.close(interrupted=True)
        raise
    local.close()


@contextlib.contextmanager
def _dask_client(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed: pip install 'optbench[dask]'") \
            from None
    try:
        client = _connect(Client, address, seconds=20.0)
    except Exception as e:
        raise UsageError(f"--scheduler {address}: cannot reach a Dask scheduler there "
                         f"({describe(e)})") from None
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=5)
