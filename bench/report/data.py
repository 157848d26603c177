"""What the report reads from a results folder: the runs' summaries, specs, hits and traces.

The per-run JSON files are the truth (summary.csv is rebuilt from them), so the report reads
those; traces are read column-wise with pyarrow, only for the runs a figure needs. What the
report knows of a problem or an optimizer (f*, x*, smoothness, defaults) is what its runs
recorded: it never builds or imports them, so a folder reports the same wherever it is moved.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optbench.bench.errors import ResultsError, UsageError
from optbench.bench.results.records import SUMMARY_COLUMNS
from optbench.bench.results.store import Store
from optbench.bench.results.verify import listing


@dataclass
class Results:
    """One results folder, loaded: a row per run plus what the rows cannot hold."""

    root: Path
    runs: Any  # DataFrame: SUMMARY_COLUMNS + target_value, has_target, targets (JSON),
    #            base_dir, stop_at_target, in_memory; smooth, gradient, x_opt,
    #            optimizer_resolved and in_memory are None where not recorded
    hits: dict[str, list[tuple[float, int, float]]]  # run_id -> precision ladder hits
    config_text: str
    environment: dict[str, Any] | None
    # problems the sweep's entry checks refused: {"problem": label, "why": [lines]} each
    left_out: list[dict[str, Any]] = field(default_factory=list)
    damaged: dict[str, str] = field(default_factory=dict)  # run_id -> why it is left out
    writer: str | None = None  # the process writing the folder now (pid: command), if any
    # several folders in one report (load_several): name -> folder, and each run's stored
    # place (report run id -> (folder, id in that folder)); empty for one folder
    sources: dict[str, Path] = field(default_factory=dict)
    stored: dict[str, tuple[Path, str]] = field(default_factory=dict)
    title: str = ""  # the page's title when not the sweep's name
    notes: list[str] = field(default_factory=list)  # what the report says besides its own

    def problems(self) -> list[str]:
        return list(dict.fromkeys(self.runs["problem_label"]))

    def folder_of(self, run_id: str) -> Path:
        """The results folder that stores the run ``run_id``."""
        return self.stored[run_id][0] if run_id in self.stored else self.root

    def trace_file(self, run_id: str) -> Path:
        folder, rid = self.stored.get(run_id, (self.root, run_id))
        return folder / "runs" / f"{rid}.parquet"

    @property
    def origin(self) -> str:
        """Where the runs were read: the folder, or the folders of a combined report."""
        return ", ".join(map(str, self.sources.values())) if self.sources else str(self.root)


def check_results_folder(root: Path) -> None:
    """Refuse, in one line, a folder that ``optbench run`` did not write."""
    if not root.is_dir():
        raise UsageError(f"{root} is not a results folder: no such directory")
    store = Store(root)
    if not store.runs.is_dir():
        raise UsageError(
            f"{root} is not a results folder (it has no runs/ folder); give the folder "
            "`optbench run` wrote, e.g. results/quickstart"
        )


def load_results(root: Path, quiet: bool = False, store: Store | None = None) -> Results:
    """The folder's sound runs (both files read back and agree: ``store.verify``); a run that
    does not is left out and named on stderr (``quiet``: not), and kept in ``damaged``. A
    folder whose stored runs are all damaged is a ResultsError: there is nothing to show.
    ``store``: the folder's writer's (it knows what it wrote: ``Store.scan``)."""
    import pandas as pd

    from optbench.bench.results.lock import holder

    check_results_folder(root)
    store = store if store is not None else Store(root)
    writer = holder(root)  # read before the runs: what it finishes later is not shown
    scan = store.scan(store.selected_ids())
    if scan.damaged and not scan.sound:
        raise ResultsError(all_damaged(root, scan.damaged))
    docs = store.load_docs(scan)
    if not quiet:
        _say_left_out(root, scan, writer)
    rows, hits = [], {}
    for doc in docs:
        row = dict(doc["summary"])
        spec = doc.get("spec") or {}
        targets = spec.get("targets") or {}
        row["target_value"] = targets.get("value")
        row["has_target"] = any(v is not None for v in targets.values())
        row["targets"] = json.dumps({k: v for k, v in targets.items() if v is not None},
                                    sort_keys=True)
        row["base_dir"] = spec.get("base_dir", "")
        row["stop_at_target"] = bool(spec.get("stop_at_target", True))
        # True: a problem given in Python (its name need not be the registry's); None: not
        # recorded (a folder written before this was)
        row["in_memory"] = _bool(spec.get("in_memory"))
        rows.append(row)
        hits[row["run_id"]] = [tuple(h) for h in doc.get("hits") or ()]
    columns = [*SUMMARY_COLUMNS, "target_value", "has_target", "targets", "base_dir",
               "stop_at_target", "in_memory"]
    runs = natural_order(_clean(pd.DataFrame(rows, columns=columns)))
    config = root / "config.yaml"
    env = root / "environment.json"
    return Results(
        root=root, runs=runs, hits=hits,
        config_text=_text_file(config),
        environment=_json(env), damaged=scan.damaged, writer=writer, left_out=_left_out(root),
    )


LEFT_OUT = "left_out.json"  # written by the sweep after its entry checks


def _left_out(root: Path) -> list[dict[str, Any]]:
    """The problems the sweep's entry checks refused, as ``optbench run`` stored them."""
    path = root / LEFT_OUT
    try:
        items = json.loads(path.read_text()) if path.is_file() else []
    except (OSError, ValueError):
        return []
    return [{"problem": str(i.get("problem", "?")), "why": [str(w) for w in i.get("why") or ()]}
            for i in items if isinstance(i, dict)] if isinstance(items, list) else []


ORDER = ("problem_label", "optimizer", "optimizer_label", "seed")


def natural_order(runs):
    """Rows by problem, optimizer, configuration and seed, labels in natural order (f2 before
    f10, lr=0.01 before lr=0.1): the order of every table, legend and section."""
    from optbench.bench.report.order import natural_ranks

    ranks = {c: natural_ranks(runs[c].astype(str)) for c in ORDER[:3]}
    return runs.sort_values(
        list(ORDER), kind="stable",
        key=lambda col: col.astype(str).map(ranks[col.name]) if col.name in ranks else col,
    ).reset_index(drop=True)


def _text_file(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, ValueError):  # missing, or not text
        return ""


def _json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):  # missing or unreadable: the report says it is missing
        return None
    return doc if isinstance(doc, dict) else None


def _say_left_out(root: Path, scan, writer: str | None) -> None:
    if writer:
        print(f"optbench: note: {root} is being written now ({writer}): this shows the "
              f"{len(scan.sound)} runs finished so far", file=sys.stderr)
    if scan.damaged:
        n = len(scan.damaged)
        print(f"optbench: note: {n} of the {n + len(scan.sound)} stored runs of {root} "
              f"{'are' if n > 1 else 'is'} damaged and left out: {listing(scan.damaged)}; "
              f"`optbench run CONFIG --out {root} --resume` moves them to quarantine/ and runs "
              "them again", file=sys.stderr)


def all_damaged(root: Path, damaged: dict[str, str]) -> str:
    """The line for a folder with nothing sound to show."""
    which = "its only stored run is" if len(damaged) == 1 else \
        f"all {len(damaged)} of its stored runs are"
    return (f"{root}: {which} damaged, so there is nothing to show: {listing(damaged)}; "
            f"`optbench run CONFIG --out {root} --resume` moves them to quarantine/ and runs "
            "them again")


NUMERIC = ("f_final", "f_best", "f_opt", "wall_time_s", "fev_to_target", "target_value",
           "n_iter", "n_eval", "n_fev", "n_gev", "dim", "dist_final", "grad_norm_final")


def _clean(runs):
    """Numbers as floats (missing: NaN), and what a run that never reported lacks.

    A run killed at its timeout, or one whose set-up failed, records no dimension and no f*
    (dim 0, f_opt missing): those belong to the problem, so they are taken from its other runs,
    f* and x* only where those runs agree on one (a run-seeded problem has one per instance,
    and a run keeps its own).
    """
    import pandas as pd

    for name in NUMERIC:
        runs[name] = pd.to_numeric(runs[name], errors="coerce").astype(float)
    runs["target_hit"] = runs["target_hit"].map(lambda v: v is True or v == 1).astype(bool)
    dim = runs["dim"].where(runs["dim"] > 0)
    runs["dim"] = dim.fillna(dim.groupby(runs["problem_label"]).transform("max")).fillna(0)
    f_opt = runs["f_opt"].where(np.isfinite(runs["f_opt"]))
    shared = f_opt.groupby(runs["problem_label"]).transform(
        lambda s: s.dropna().iloc[0] if s.dropna().nunique() == 1 else np.nan)
    runs["f_opt"] = f_opt.fillna(shared)
    for name, read in PER_PROBLEM.items():
        runs[name] = _per_problem(runs, name, read)
    runs["optimizer_resolved"] = pd.Series([_text(v) for v in runs["optimizer_resolved"]],
                                           index=runs.index, dtype=object)
    return runs


def _bool(value) -> bool | None:
    return bool(value) if isinstance(value, bool | np.bool_) else None


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


# What a run records of its problem: None where it is not known (a set-up that failed, a run
# killed from outside, a folder written before these were recorded).
PER_PROBLEM = {"smooth": _bool, "gradient": _text, "x_opt": _text}


def _per_problem(runs, name: str, read):
    """Column ``name`` as ``read`` takes it; a run that lacks it takes its problem's value when
    the problem's other runs recorded one value (x* of a run-seeded problem differs per run)."""
    import pandas as pd

    values = [read(v) for v in runs[name]]
    known: dict[str, set] = {}
    for label, value in zip(runs["problem_label"], values, strict=True):
        if value is not None:
            known.setdefault(label, set()).add(value)
    known = {label: next(iter(v)) for label, v in known.items() if len(v) == 1}
    return pd.Series([known.get(label) if value is None else value
                      for label, value in zip(runs["problem_label"], values, strict=True)],
                     index=runs.index, dtype=object)


def load_traces(source: Path | Results, run_ids,
                columns: tuple[str, ...]) -> dict[str, dict[str, np.ndarray]]:
    """run_id -> {column: array} for the columns each trace has (a failed set-up has none).

    ``source``: a results folder, or loaded ``Results`` (whose runs may come from several)."""
    import pyarrow.parquet as pq

    where = source.trace_file if isinstance(source, Results) else \
        (lambda rid: Path(source) / "runs" / f"{rid}.parquet")
    traces = {}
    for rid in run_ids:
        path = where(rid)
        if not path.is_file():
            traces[rid] = {}
            continue
        try:
            table = pq.read_table(path)  # a few kB: one read beats a schema read and a second
        except FileNotFoundError:  # deleted since it was verified: a --force began writing
            traces[rid] = {}
            continue
        traces[rid] = {c: table.column(c).to_numpy() for c in columns
                       if c in table.column_names}
    return traces


def identical_runs(runs, traces: dict[str, dict[str, np.ndarray]]) -> set[tuple[str, str]]:
    """(problem label, configuration) whose seeds all ran the same: two or more seeds whose
    recorded f traces are equal, bit for bit (one fixed start on a deterministic problem)."""
    same = set()
    for key, rows in runs.groupby(["problem_label", "optimizer_label"], sort=False):
        fs = [traces.get(r, {}).get("f") for r in rows["run_id"]]
        if rows["seed"].nunique() < 2 or any(f is None or not len(f) for f in fs):
            continue
        if all(np.array_equal(fs[0], f, equal_nan=True) for f in fs[1:]):
            same.add(key)
    return same
