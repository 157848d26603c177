"""What the report reads from a results folder: the runs' summaries, specs, hits and traces.

The per-run JSON files are the truth (summary.csv is rebuilt from them), so the report reads
those; traces are read column-wise with pyarrow, only for the runs a figure needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UsageError
from .records import SUMMARY_COLUMNS, Status
from .store import Store

FAILED = tuple(s.value for s in Status if s.failed)
STATUSES = tuple(s.value for s in Status)


@dataclass
class Results:
    """One results folder, loaded: a row per run plus what the rows cannot hold."""

    root: Path
    runs: Any  # DataFrame: SUMMARY_COLUMNS + target_value, has_target, targets (JSON), base_dir
    hits: dict[str, list[tuple[float, int, float]]]  # run_id -> precision ladder hits
    config_text: str
    environment: dict[str, Any] | None

    def problems(self) -> list[str]:
        return list(dict.fromkeys(self.runs["problem_label"]))


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


def load_results(root: Path) -> Results:
    import pandas as pd

    check_results_folder(root)
    docs = Store(root).load_docs()
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
        rows.append(row)
        hits[row["run_id"]] = [tuple(h) for h in doc.get("hits") or ()]
    columns = [*SUMMARY_COLUMNS, "target_value", "has_target", "targets", "base_dir"]
    runs = pd.DataFrame(rows, columns=columns)
    for name in ("f_final", "f_best", "f_opt", "wall_time_s", "fev_to_target", "target_value"):
        runs[name] = pd.to_numeric(runs[name], errors="coerce").astype(float)
    runs = runs.sort_values(["problem_label", "optimizer", "optimizer_label", "seed"],
                            kind="stable").reset_index(drop=True)
    config = root / "config.yaml"
    env = root / "environment.json"
    return Results(
        root=root, runs=runs, hits=hits,
        config_text=config.read_text() if config.is_file() else "",
        environment=json.loads(env.read_text()) if env.is_file() else None,
    )


def load_traces(root: Path, run_ids, columns: tuple[str, ...]) -> dict[str, dict[str, np.ndarray]]:
    """run_id -> {column: array} for the columns each trace has (a failed set-up has none)."""
    import pyarrow.parquet as pq

    traces = {}
    for rid in run_ids:
        path = Path(root) / "runs" / f"{rid}.parquet"
        if not path.is_file():
            traces[rid] = {}
            continue
        table = pq.read_table(path)  # a few kB: one read beats a schema read and a second
        traces[rid] = {c: table.column(c).to_numpy() for c in columns
                       if c in table.column_names}
    return traces
