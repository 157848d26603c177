"""Where runs execute: this process, a local process pool, or a Dask cluster.

Whatever runs them, each finished run is stored the moment its result arrives, so a sweep that
is killed loses only the runs in flight. A local pool enforces each run's hard ``timeout`` by
killing its worker process (pebble), which holds even when a problem hangs inside C code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import as_completed

from .records import RunRecord, Status
from .runner import execute
from .spec import RunSpec


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _pin_blas() -> None:
    """Worker start-up: one BLAS thread per process; parallelism comes from processes."""
    global _limits
    from threadpoolctl import threadpool_limits

    _limits = threadpool_limits(1)


def in_process(specs: Iterable[RunSpec]) -> Iterator[RunRecord]:
    """Run in this process, one after another (no hard timeout: nothing can kill a run here)."""
    for spec in specs:
        yield execute(spec)


def process_pool(specs: list[RunSpec], workers: int) -> Iterator[RunRecord]:
    import multiprocessing

    from pebble import ProcessExpired, ProcessPool

    context = multiprocessing.get_context("spawn")
    with ProcessPool(max_workers=workers, initializer=_pin_blas, context=context) as pool:
        futures = {pool.schedule(execute, args=(s,), timeout=s.timeout): s for s in specs}
        try:
            for future in as_completed(futures):
                spec = futures[future]
                try:
                    yield future.result()
                except FutureTimeout:
                    yield RunRecord(spec, Status.TIMEOUT,
                                    f"killed after the hard limit of {spec.timeout:g} s")
                except ProcessExpired as e:
                    yield RunRecord(spec, Status.ERROR,
                                    f"the worker process died (exit code {e.exitcode})")
                except Exception as e:  # e.g. a record that could not be sent back
                    yield RunRecord(spec, Status.ERROR, f"{type(e).__name__}: {e}")
        finally:
            for future in futures:
                future.cancel()


def dask_cluster(specs: list[RunSpec], address: str) -> Iterator[RunRecord]:
    """Send the runs to the Dask scheduler at ``address`` (the optional extra optbench[dask])."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        from .errors import UsageError

        raise UsageError("--scheduler needs dask.distributed: pip install 'optbench[dask]'") \
            from None
    try:
        client = Client(address, timeout="10s")
    except OSError as e:  # nothing listening, wrong address: the user's to fix
        from .errors import UsageError

        raise UsageError(f"--scheduler {address}: cannot reach a Dask scheduler there ({e})") \
            from None
    with client:
        futures = client.map(execute, specs, pure=False)
        index = {f.key: s for f, s in zip(futures, specs, strict=True)}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as e:
                yield RunRecord(index[future.key], Status.ERROR, f"{type(e).__name__}: {e}")


def choose(workers: int | None, scheduler: str | None) -> Callable[[list[RunSpec]],
                                                                   Iterator[RunRecord]]:
    if scheduler:
        return lambda specs: dask_cluster(specs, scheduler)
    n = default_workers() if workers is None else workers
    if n == 0:
        return in_process
    return lambda specs: process_pool(specs, n)
