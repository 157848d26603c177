"""The executors of ``bench/run/executors.py``, fed one run at a time.

A sweep hands its executor every run at once; a study cannot, since the sampler picks trial
k + 1 from what trials 1..k scored. These pools take runs as they are asked (``submit``) and
give back each finished one's summary row (``next``) once it is stored, built from the same
pieces as the sweep's executors: the runner's ``execute`` in this process; the sweep's process
pool (``bench/run/pool.py``), whose worker is killed at a run's hard timeout; or a Dask cluster
where ``bounded_execute`` runs each spec in a helper process its worker can kill. Failures become
records the same way.

A local worker stores its own run (``Store.save``: atomic, one file per run id) and sends back
only the summary row: the one process that asks and tells (``study.Tuner``) spends its time on
Optuna, not on writing traces, while the other workers run.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Hashable

from optbench.bench.errors import UsageError, describe
from optbench.bench.results.records import RunRecord
from optbench.bench.results.store import Store
from optbench.bench.run.executors import (
    ClusterLost,
    _died,
    _killed,
    _lost,
    bounded_execute,
    dask_client,
    default_workers,
)
from optbench.bench.run.runner import execute, hold_one_blas_thread
from optbench.bench.sweep.spec import RunSpec

Row = dict  # a run's summary row, as RunRecord.summary() gives it


def _execute_and_store(item: tuple[RunSpec, str, Hashable]) -> Row:
    """In a worker: run the spec and store it in the results folder (the item's first two)."""
    spec, root, _ = item
    record = execute(spec)
    Store(root).save(record)
    return record.summary()


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
    """The sweep's process pool (``bench/run/pool.py``: SIGKILL at a run's hard limit, workers
    that ignore Ctrl-C and die with this process), fed through a queue it reads as it goes."""

    def __init__(self, workers: int, store: Store):
        from optbench.bench.run.pool import imap

        self.slots, self._store = workers, store
        self._queue: deque = deque()
        self._outcomes = imap(_execute_and_store, self._queue, workers,
                              limit=lambda item: item[0].timeout, initializer=hold_one_blas_thread)
        self._pending = 0

    def submit(self, spec: RunSpec, tag: Hashable) -> None:
        self._queue.append((spec, str(self._store.root), tag))
        self._pending += 1

    def pending(self) -> int:
        return self._pending

    def next(self) -> tuple[Hashable, Row]:
        from optbench.bench.run.pool import PoolBroken

        try:
            (spec, _, tag), kind, value = next(self._outcomes)
        except PoolBroken as e:
            raise UsageError(f"--workers {self.slots}: {e}; --workers 0 runs in this "
                             "process") from None
        self._pending -= 1
        if kind == "done":
            return tag, value
        record = (_killed(spec) if kind == "timeout" else _died(spec, value) if kind == "died"
                  else _lost(spec, value))  # e.g. a run that could not be stored or sent back
        return tag, _stored(self._store, record)

    def close(self) -> None:
        self._outcomes.close()  # kills the workers


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
    finally:
        local.close()
