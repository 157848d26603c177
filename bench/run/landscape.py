"""Map each 2-D problem's landscape once per sweep, where the problem can be built.

The report draws its trajectory plots over contours of f, but it reads only the results folder
(it never builds a problem, so a folder whose plugin is gone still reports in full). So after
the runs, ``write_landscapes`` evaluates f on a grid over the box each trajectory plot will show
(``report.trajectory.trajectory_box``, from the stored runs) and stores it in landscapes/.

A slow problem gets a coarser grid, and a problem that slows down on the way is stopped at a
deadline and leaves a partial map (the rows not reached stay blank): mapping costs at most about
``3 * CONTOUR_SECONDS`` per problem. A landscape already stored for the same runs and box is kept.
A problem with a ``values(points)`` method (f at each row of an m×2 array) is mapped a row of the
grid at a time (Ackley: 40,000 points in milliseconds instead of a Python call each).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from optbench.bench.errors import describe
from optbench.bench.results.landscapes import Box, Landscape, runs_digest
from optbench.bench.results.store import Store

GRID = 200  # contour resolution per axis
CONTOUR_SECONDS = 10.0  # a slow problem gets a coarser grid rather than a slow sweep
PROBES = 20


def write_landscapes(root: str | Path, quiet: bool = False, specs=(), store: Store | None = None,
                     paths: dict | None = None, shipped_only: bool = False) -> list[Path]:
    """Store the landscape of every 2-D problem of the results folder ``root``; return the
    files written. A problem that cannot be built is named on stderr (its plot has no contours).
    ``specs`` (the sweep's) build in-memory problems, which no registry knows. ``store``: the
    folder's writer; ``paths``: run id -> its trace's x_0 and x_1, for the runs the caller has
    at hand (the others' are read from the folder). ``shipped_only``: build only problems
    optbench ships (what a folder names is never imported: ``map_missing``).
    """
    from optbench.bench.plugins import make_problem, shipped_problem
    from optbench.bench.report.build import problem_views
    from optbench.bench.report.data import load_results, load_traces
    from optbench.bench.report.trajectory import trajectory_box
    from optbench.bench.run.runner import build_problem

    by_problem = {(s.problem, s.problem_params): s for s in specs}
    store = store if store is not None else Store(root)
    results = load_results(store.root, quiet=True, store=store)  # damage: the report says
    runs = results.runs[results.runs["dim"] == 2]  # the others have no trajectory plot
    if runs.empty:
        return []
    results = replace(results, runs=runs)
    paths = paths or {}
    traces = load_traces(store.root, [r for r in runs["run_id"] if r not in paths],
                         ("x_0", "x_1"))
    traces.update(paths)
    written = []
    # the box needs the paths alone (not which seeds ran identically: that is for the page)
    for view in problem_views(results, traces=traces, identical=set()):
        box = trajectory_box(view)
        if box is None:
            continue
        first = view.runs.iloc[0]
        runs = runs_digest(view.runs["run_id"])
        old = view.landscape
        if old is not None and old.runs == runs and old.box == box:
            continue
        if shipped_only and not (_by_name(first["in_memory"]) and
                                 shipped_problem(first["problem"])):
            continue  # the report says it has no contours, and how to have them
        try:
            spec = by_problem.get((first["problem"], first["problem_params"]))
            problem = build_problem(spec) if spec is not None else make_problem(
                first["problem"], json.loads(first["problem_params"]), first["base_dir"] or ".")
        except Exception as e:
            if not quiet:
                print(f"optbench: note: {view.label}: could not build the problem to map its "
                      f"landscape ({describe(e)}); its trajectory plot has no contours",
                      file=sys.stderr)
            continue
        xs, ys, z, note = grid_values(problem, box)
        written.append(store.save_landscape(Landscape(
            problem=first["problem"], problem_params=first["problem_params"], box=box,
            xs=xs, ys=ys, z=z, runs=runs, note=note)))
    return written


def _by_name(in_memory) -> bool:
    """Whether the runs' problem was built from its registry name: ``in_memory`` recorded as
    False (True: given in Python, whatever its name; missing: a folder that did not say)."""
    return isinstance(in_memory, bool | np.bool_) and not in_memory


def map_missing(root: str | Path, quiet: bool = False) -> list[Path]:
    """The landscapes a report needs and the folder lacks, mapped by the first report of a
    sweep run with ``--no-report`` (or extended since): each 2-D problem optbench ships, of the
    folder's summary.parquet, whose stored landscape is missing or was mapped for other runs;
    under the folder's writer lock. Problems named by a plugin or given in Python are never
    built here (nothing a folder names is imported). A folder being written, or one that
    cannot be written, keeps its plots as they are, and says so."""
    import pyarrow.parquet as pq

    from optbench.bench.errors import ResultsError
    from optbench.bench.plugins import shipped_problem
    from optbench.bench.results.landscapes import runs_digest
    from optbench.bench.results.lock import FolderLock, FolderLocked, holder

    store = Store(root)
    try:
        rows = pq.read_table(store.root / "summary.parquet",
                             columns=["run_id", "problem", "problem_params", "dim"]).to_pylist()
    except Exception:  # no summary (a sweep cut short) or not one we wrote: nothing to map
        return []
    runs: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r["dim"] == 2 and shipped_problem(r["problem"]):
            runs.setdefault((r["problem"], r["problem_params"]), []).append(r["run_id"])
    if all((land := store.load_landscape(*key)) is not None and land.runs == runs_digest(ids)
           for key, ids in runs.items()):
        return []
    lock = FolderLock(store.root)
    try:
        lock.acquire()
    except (FolderLocked, ResultsError) as e:  # being written, or read-only
        if not quiet:
            why = (f"{store.root} is being written by {holder(store.root) or 'another process'}"
                   f"; report again once it has finished") if isinstance(e, FolderLocked) else e
            print(f"optbench: note: the trajectory plots' contours were not mapped: {why}",
                  file=sys.stderr)
        return []
    try:
        return write_landscapes(store.root, quiet=quiet, store=store, shipped_only=True)
    except ResultsError:  # nothing sound to map from: the report says what is wrong
        return []
    finally:
        lock.release()


def grid_values(problem, box: Box, n: int = GRID, seconds: float = CONTOUR_SECONDS
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """xs, ys, f on their grid (row i at ys[i]; NaN where f has no value) and what was left out.

    The grid is coarsened from n×n when a probe of the evaluation time says it would take more
    than ``seconds``; rows not reached within ``3 * seconds`` stay NaN.
    """
    start = time.perf_counter()
    _row(problem, np.linspace(*box[0], PROBES), box[1][0])
    per_call = (time.perf_counter() - start) / PROBES
    notes = []
    if per_call * n * n > seconds:
        n = max(12, int((seconds / per_call) ** 0.5))
        notes.append(f"contour grid coarsened to {n}×{n} (slow evaluation)")
    xs, ys = np.linspace(*box[0], n), np.linspace(*box[1], n)
    z = np.full((n, n), np.nan)
    deadline = time.perf_counter() + 3 * seconds  # a problem that slows down later on
    for i, y in enumerate(ys):
        if time.perf_counter() > deadline:
            # the rows left stay blank: a partial map, not a sweep that never ends
            notes.append(f"contours cover {i} of {n} grid rows (evaluation reached its "
                         f"deadline of {3 * seconds:g} s)")
            break
        z[i] = _row(problem, xs, y)
    return xs, ys, z, "; ".join(notes)


def _row(problem, xs: np.ndarray, y: float) -> np.ndarray:
    """f at (x, y) for each x (NaN where it has none): in one call where the problem has a
    vectorised ``values``, else (or where that call fails) point by point."""
    points = np.column_stack([xs, np.full(xs.size, y)])
    if callable(getattr(problem, "values", None)):
        with contextlib.suppress(Exception):  # a point it cannot take: ask them one by one
            f = np.asarray(problem.values(points), dtype=float)
            if f.shape == xs.shape:
                return np.where(np.isfinite(f), f, np.nan)
    return np.array([_value(problem, p) for p in points])


def _value(problem, x: np.ndarray) -> float:
    with contextlib.suppress(Exception):  # a problem that raises somewhere: a hole in the map
        f = float(problem.value(x))
        return f if np.isfinite(f) else np.nan
    return np.nan
