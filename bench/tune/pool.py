"""The executors of ``bench/run/executors.py``, fed one run at a time.

A sweep hands its executor every run at once; a study cannot, since the sampler picks trial
k + 1 from what trials 1..k scored. These pools take runs as they are asked (``submit``) and
give back each finished one's summary row (``next``) once it is stored, built from the same
pieces as the sweep's executors: the runner's ``execute`` in this process; a pebble process pool
started with ``spawn_context`` whose worker is killed at a run's hard timeout; or a Dask cluster
where ``bounded_execute`` runs each spec in a helper process its worker can kill. Failures become
records the same way.

A local worker stores its own run (``Store.save``: atomic, one file per run id) and sends back
only the summary row: the one process that asks and tells (``study.Tuner``) spends its time on
Optuna, not on writing traces, while the other workers run. The workers start with the pool,
while that process opens the studies, not when the first trial is asked.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Hashable
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures import TimeoutError as FutureTimeout

from optbench.bench.errors import describe
from optbench.bench.results.records import RunRecord
from optbench.bench.results.status import Status
from optbench.bench.results.store import Store
from optbench.bench.run.executors import (
    ClusterLost,
    _died,
    _killed,
    _pin_blas,
    bounded_execute,
    dask_client,
    default_workers,
    spawn_context,
)
from optbench.bench.run.runner import execute
from optbench.bench.sweep.spec import RunSpec

Row = dict  # a run's summary row, as RunRecord.summary() gives it


def _execute_and_store(spec: RunSpec, root: str) -> Row:
    """In a worker: run ``spec`` and store it in the results folder ``root``."""
    record = execute(spec)
    Store(root).save(record)
    return record.summary()


def _started() -> None:
    """A task that only makes the pool start its workers."""


def _stored(store: Store, record: RunRecord) -> Row:
    store.save(record)
    return record.summary()


class InProcess:
    """Runs one after another in this process, each when its result is asked for."""

    slots = 1

    def __init__(self, store: Store):
        self._store = store
        self._queue: deque = deque()

    def submit(self, spec: RunSpec, tag: Hashable) -> None:
        self._queue.append((spec, tag))

    def pending(self) -> int:
        return len(self._queue)

    def next(self) -> tuple[Hashable, Row]:
        spec, tag = self._queue.popleft()
        return tag, _stored(self._store, execute(spec))


class LocalPool:
    """A pebble process pool of ``workers`` processes (each pinned to one BLAS thread)."""

    def __init__(self, workers: int, store: Store):
        from pebble import ProcessPool

        self.slots, self._store = workers, store
        self._pool = ProcessPool(max_workers=workers, initializer=_pin_blas,
                                 context=spawn_context())
        self._pool.schedule(_started)  # the workers import optbench while the studies open
        self._futures: dict = {}

    def submit(self, spec: RunSpec, tag: Hashable) -> None:
        future = self._pool.schedule(_execute_and_store, args=(spec, str(self._store.root)),
                                     timeout=spec.timeout)
        self._futures[future] = (spec, tag)

    def pending(self) -> int:
        return len(self._futures)

    def next(self) -> tuple[Hashable, Row]:
        from pebble import ProcessExpired

        done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
        future = min(done, key=lambda f: self._order(f))  # the earliest submitted first
        spec, tag = self._futures.pop(future)
        try:
            return tag, future.result()
        except FutureTimeout:
            record = _killed(spec)
        except ProcessExpired as e:
            record = _died(spec, e.exitcode)
        except Exception as e:  # e.g. a run that could not be stored or sent back
            record = RunRecord(spec, Status.ERROR, describe(e))
        return tag, _stored(self._store, record)

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

    def __init__(self, client, address: str, store: Store):
        self._client, self._address, self._store = client, address, store
        self.slots = max(1, sum(client.nthreads().values()))
        self._futures: dict = {}
        self._done = 0

    def submit(self, spec: RunSpec, tag: Hashable) -> None:
        future = self._client.submit(bounded_execute, spec, pure=False)
        self._futures[future] = (spec, tag)

    def pending(self) -> int:
        return len(self._futures)

    def next(self) -> tuple[Hashable, Row]:
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
        return tag, _stored(self._store, record)  # a cluster's workers may not see the folder


@contextlib.contextmanager
def pool(workers: int | None, scheduler: str | None, store: Store):
    """The pool for these flags (as ``executors.executor`` reads them), storing its runs in
    ``store``, as a context."""
    if scheduler:
        with dask_client(scheduler) as client:
            yield DaskPool(client, scheduler, store)
        return
    n = default_workers() if workers is None else workers
    if n == 0:
        yield InProcess(store)
        return
    local = LocalPool(n, store)
    try:
        yield local
    except BaseException:
        local.close(interrupted=True)
        raise
    local.close()
