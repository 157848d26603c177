"""A sweep from specs to stored runs: entry checks, the results folder, the executor.

``run_sweep`` is what ``optbench run`` and ``optbench.sweep`` both call: it checks each
problem's gradient once, prepares the results folder, runs what is not stored yet on the chosen
executor (storing each record the moment it arrives) and writes the summary.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from optbench.bench.errors import UsageError
from optbench.bench.results.environment import environment
from optbench.bench.results.files import SYNC_SECONDS
from optbench.bench.results.lock import FolderLock
from optbench.bench.results.store import QUARANTINE, Store
from optbench.bench.sweep.config import Sweep
from optbench.bench.sweep.spec import RunSpec


@dataclass
class SweepOutcome:
    """What a sweep left: its folder, the problems its entry checks refused, its summary."""

    store: Store
    summary: list[dict]  # summary.csv's rows: one per stored run of this sweep
    # (problem, problem_params) -> (label, the check's lines) for each problem left out
    refused: dict[tuple[str, str], tuple[str, list[str]]] = field(default_factory=dict)


def _stderr(*parts) -> None:
    print(*parts, file=sys.stderr)


def run_sweep(sweep: Sweep, out: str | Path | None = None, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, force: bool = False,
              check: bool = True, progress: bool = True, landscapes: bool = True,
              say: Callable[..., None] = _stderr) -> SweepOutcome:
    """Run ``sweep`` into ``out`` (default ``results/<name>``); see ``optbench run``.

    ``say`` takes the progress notes (``optbench run --quiet`` silences them); what went
    wrong (a problem refused by its check, stored runs set aside) always goes to stderr.
    ``landscapes``: map the 2-D problems' contours for the report now (``optbench run
    --no-report`` leaves them to the first ``optbench report``: ``landscape.map_missing``).
    """
    out = results_folder(out, sweep.name, workers, resume, force)
    with FolderLock(out, lazy=True) as lock:  # one writer per folder (results/lock.py)
        store = Store(out, sync_every=SYNC_SECONDS)  # runs flushed to disk in batches
        return _run_locked(sweep, store, lock, workers, scheduler, resume, force, check,
                           progress, landscapes, say)


def results_folder(out, name: str, workers: int | None, resume: bool, force: bool) -> Path:
    """The results folder (default ``results/<name>``), once the flags are checked (tune too)."""
    if resume and force:
        raise UsageError("--resume and --force exclude each other: continue, or start over")
    if workers is not None and workers < 0:
        raise UsageError(f"--workers must be >= 0 (0 runs in this process), got {workers}")
    out = Path(out) if out is not None else Path("results") / name
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; give a folder for the results")
    return out


def _run_locked(sweep: Sweep, store: Store, lock: FolderLock, workers, scheduler, resume: bool,
                force: bool, check: bool, progress: bool, landscapes: bool,
                say) -> SweepOutcome:
    """run_sweep inside its folder's lock: taken at once when the folder exists (a second
    writer is refused before any work), else just before the first write."""
    from optbench.bench.run.executors import executor

    if store.root.is_dir():
        lock.acquire()
    stored = store.stored_ids()
    if stored and not (resume or force):
        raise UsageError(
            f"{store.root} already holds {len(stored)} stored runs: add --resume to run only "
            "the missing ones, or --force to delete them and start over"
        )
    # Connecting to a scheduler and the checks come first: a refusal writes nothing.
    with executor(workers, scheduler) as run:
        refused = _entry_checks(sweep) if check else {}
        lock.acquire()
        if force:
            store.clear()
        stored = _recover(store)
        store.write_text("left_out.json", json.dumps(  # the report's "left out" (Verdict)
            [{"problem": label, "why": lines} for label, lines in refused.values()], indent=1))
        todo = _prepare(store, sweep, stored, refused, say)
        paths = _execute(todo, store, run, progress)
    summary = store.write_summary()
    if landscapes:
        from optbench.bench.run.landscape import write_landscapes

        write_landscapes(store.root, quiet=not progress, specs=sweep.specs, store=store,
                         paths=paths)  # the report's contours
    return SweepOutcome(store, summary, refused)


def _recover(store: Store) -> set[str]:
    """The verified stored runs; stale temporary files deleted, damaged runs set aside."""
    found = store.recover()
    if found.damaged:
        _stderr(f"optbench: note: {len(found.damaged)} stored runs were damaged or "
                f"half-written ({found.reasons()}): moved to {store.root / QUARANTINE}/ "
                "(why.json says why); those of this sweep run again")
    return set(found.sound)


def _prepare(store: Store, sweep: Sweep, stored: set[str], refused, say) -> list:
    """Write the folder's config and run list; return the specs still to run.

    The summary and report cover this sweep's runs only. Stored runs of an earlier config stay
    on disk (its config as config.previous.yaml), so returning to it reruns nothing.
    """
    ids = [s.id for s in sweep.specs]
    store.prepare()
    store.write_config(sweep.text)
    store.write_text("environment.json", json.dumps(environment(), indent=1))
    store.select(ids)
    stale = len(stored - set(ids))
    if stale:
        _stderr(f"optbench: note: {store.root} holds {stale} stored runs that are not in this "
                "sweep (an edited config?): kept in runs/ but left out of the summary and "
                "report; --force starts over")
    todo = [s for s in sweep.specs
            if s.id not in stored and (s.problem, s.problem_params) not in refused]
    have = len(stored & set(ids))
    if have:
        say(f"{have} of {len(ids)} runs already stored; running {len(todo)} more")
    return todo


def _execute(todo, store: Store, run, progress: bool) -> dict[str, dict]:
    """Store each record as it arrives; return the 2-D runs' paths (x_0, x_1 of their traces:
    the landscapes' box), the rest is not kept here (a long sweep's traces add up)."""
    from tqdm import tqdm

    failures = done = 0
    paths: dict[str, dict] = {}
    try:
        with tqdm(total=len(todo), unit="run", disable=not progress or not todo,
                  file=sys.stderr, dynamic_ncols=True) as bar:
            for record in run(todo):
                store.save(record)
                if "x_1" in record.trace:
                    paths[record.run_id] = {k: record.trace[k] for k in ("x_0", "x_1")}
                done += 1
                failures += record.status.failed
                bar.set_postfix_str(f"failed {failures}", refresh=False)
                bar.update()
    except KeyboardInterrupt:  # the executor has stopped its workers; keep what finished
        if done:
            _stderr(f"optbench: interrupted: {done} of {len(todo)} runs finished and are "
                    "stored; summary.csv lists them; --resume runs the rest")
        else:
            _stderr(f"optbench: interrupted before any of the {len(todo)} runs finished: none "
                    "stored; --resume runs them all")
        store.write_summary()
        raise
    finally:
        with contextlib.suppress(Exception):  # however it ends, what finished reaches the disk
            store.sync()
    return paths


def _entry_checks(sweep: Sweep) -> dict[tuple[str, str], tuple[str, list[str]]]:
    """Check each distinct problem once at its first initial point; return those refused.

    A refused problem's runs are left out and the others run: one wrong gradient should not
    cost the rest of the sweep, and the exit code (1) still says something was refused. The
    checks of problems holding user code run in one child process (one spawn per sweep,
    ~0.5 s), so the config's timeout can stop a check stuck in C code, as it stops a run
    (pool.py); the shipped problems' checks run here.
    """
    from optbench.bench.run.pool import PoolBroken, imap
    from optbench.bench.run.runner import check_problem  # a light module: the child imports it

    firsts: dict[tuple[str, str], RunSpec] = {}
    for spec in sweep.specs:
        firsts.setdefault((spec.problem, spec.problem_params), spec)
    outcomes = {key: ("done", check_problem(spec)) for key, spec in firsts.items()
                if _shipped(spec)}
    guarded = [spec for key, spec in firsts.items() if key not in outcomes]
    try:
        outcomes.update({(s.problem, s.problem_params): (kind, value) for s, kind, value in
                         imap(check_problem, guarded, 1, limit=lambda s: s.timeout)})
    except PoolBroken:  # no child could start: here, then (unbounded, as before, but checked)
        outcomes.update({(s.problem, s.problem_params): ("done", check_problem(s))
                         for s in guarded})
    refused: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for key, spec in firsts.items():
        lines = _outcome(spec, *outcomes[key])
        if not lines:
            continue
        refused[key] = (spec.problem_label, lines)
        _stderr(f"optbench: gradient check failed for {spec.problem_label}; its runs are "
                "left out (--no-check runs them anyway):")
        _stderr("\n".join("  " + line for line in lines))
    return refused


def _shipped(spec: RunSpec) -> bool:
    """A problem optbench ships, naming no user code: its check needs no guarding process."""
    from optbench.bench.plugins import shipped_problem

    return spec.payload is None and shipped_problem(spec.problem)


def _outcome(spec: RunSpec, kind: str, value) -> list[str] | None:
    if kind == "done":
        return value
    if kind == "timeout":
        return [f"the check did not finish within the timeout of {spec.timeout:g} s "
                "(the config's `timeout`): killed; a problem stuck in C code?"]
    if kind == "died":
        return [f"the check's process died (exit code {value})"]
    return [f"the check could not run: {value}"]  # e.g. a result that could not be sent back
