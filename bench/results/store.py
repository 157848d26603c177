"""A results folder: one JSON summary and one parquet trace per run, written atomically.

    results/<sweep>/
      config.yaml          the sweep as given
      environment.json     versions, CPU, BLAS and thread counts of the machine that ran it
      runs/<id>.parquet    the trace (columns: see records.TRACE_COLUMNS)
      runs/<id>.json       the summary row, the spec and the precision hits; written last,
                           so its presence means the run is complete
      sweep_runs.json      the ids of the last `optbench run`'s sweep: summary.csv and the
                           report read only these (older folders without it: every stored run)
      config.previous.yaml the config before the last `--resume` that changed it
      summary.csv          one row per run (and summary.parquet), rebuilt from runs/
      landscapes/<key>.npz f on a grid for each 2-D problem's trajectory plot (landscapes.py)

Each file is written to a temporary name in the same folder and renamed into place, so a killed
sweep leaves complete runs and nothing half-written. Runs of an earlier, edited config stay in
runs/ (returning to that config reruns nothing) but are not part of the sweep's results.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from optbench.bench.results.landscapes import FOLDER, Landscape, landscape_key
from optbench.bench.results.records import SUMMARY_COLUMNS, RunRecord

MANIFEST = "sweep_runs.json"


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


def spec_fields(spec) -> dict[str, Any]:
    """The spec as stored: its fields, less an in-memory problem's pickled code (data in a
    results folder is never turned back into code)."""
    fields = asdict(spec)
    fields.pop("payload", None)
    return fields


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.landscapes = self.root / FOLDER

    def prepare(self) -> None:
        self.runs.mkdir(parents=True, exist_ok=True)

    def stored_ids(self) -> set[str]:
        if not self.runs.is_dir():
            return set()
        return {p.stem for p in self.runs.glob("*.json")}

    def clear(self) -> None:
        for folder in (self.runs, self.landscapes):
            for p in folder.glob("*") if folder.is_dir() else ():
                p.unlink()
        for name in ("summary.csv", "summary.parquet", MANIFEST, "config.previous.yaml"):
            (self.root / name).unlink(missing_ok=True)

    def write_text(self, name: str, text: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.root / name, lambda f: f.write(text.encode()))

    def write_config(self, text: str) -> None:
        """config.yaml; one that differs is kept as config.previous.yaml (its runs stay)."""
        path = self.root / "config.yaml"
        if path.is_file() and (old := path.read_text()) != text:
            self.write_text("config.previous.yaml", old)
        self.write_text("config.yaml", text)

    def select(self, ids) -> None:
        """Name the runs that make up this folder's sweep (what summary and report show)."""
        self.write_text(MANIFEST, json.dumps(sorted(ids), indent=0))

    def selected_ids(self) -> set[str] | None:
        path = self.root / MANIFEST
        return set(json.loads(path.read_text())) if path.is_file() else None

    def save(self, record: RunRecord) -> None:
        """Write one finished run: trace first, then the summary that marks it complete."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.prepare()
        rid = record.run_id
        table = pa.table(record.trace)
        _atomic_write(self.runs / f"{rid}.parquet", lambda f: pq.write_table(table, f))
        doc = {
            "summary": {k: _jsonable(v) for k, v in record.summary().items()},
            "spec": spec_fields(record.spec),
            "hits": [list(h) for h in record.hits],
        }
        text = json.dumps(doc, indent=1, allow_nan=False)
        _atomic_write(self.runs / f"{rid}.json", lambda f: f.write(text.encode()))

    def load_docs(self) -> list[dict[str, Any]]:
        """The stored runs of the folder's sweep (see ``select``)."""
        keep = self.selected_ids()
        docs = []
        for path in sorted(self.runs.glob("*.json")) if self.runs.is_dir() else ():
            if keep is None or path.stem in keep:
                docs.append(json.loads(path.read_text()))
        return docs

    def load_trace(self, run_id: str):
        import pyarrow.parquet as pq

        return pq.read_table(self.runs / f"{run_id}.parquet").to_pandas()

    def save_landscape(self, landscape: Landscape) -> Path:
        self.landscapes.mkdir(parents=True, exist_ok=True)
        path = self.landscapes / f"{landscape_key(landscape.problem, landscape.problem_params)}.npz"
        _atomic_write(path, lambda f: np.savez_compressed(f, **landscape.arrays()))
        return path

    def load_landscape(self, problem: str, problem_params: str) -> Landscape | None:
        """The stored landscape of this problem; None when there is none (or it is unreadable)."""
        path = self.landscapes / f"{landscape_key(problem, problem_params)}.npz"
        try:
            with np.load(path, allow_pickle=False) as data:
                landscape = Landscape.from_arrays(data)
        except Exception:  # missing, cut short, or not ours (a bad zip is no OSError)
            return None
        same = (landscape.problem, landscape.problem_params) == (problem, problem_params)
        return landscape if same else None

    def write_summary(self):
        """summary.csv and summary.parquet from the sweep's stored runs; returns the DataFrame."""
        import pandas as pd

        rows = [doc["summary"] for doc in self.load_docs()]
        df = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
        df = df.sort_values(["problem_label", "optimizer_label", "seed"], kind="stable")
        _atomic_write(self.root / "summary.csv", lambda f: df.to_csv(f, index=False))
        _atomic_write(self.root / "summary.parquet", lambda f: df.to_parquet(f, index=False))
        return df


def environment() -> dict[str, Any]:
    """What the numbers were measured on: versions, CPU, BLAS libraries and their threads."""
    from importlib.metadata import PackageNotFoundError, version

    from threadpoolctl import threadpool_info

    versions = {}
    for dist in ("optbench", "numpy", "scipy", "pandas", "matplotlib", "pyarrow", "pydantic",
                 "scikit-learn", "threadpoolctl", "pebble", "dask", "distributed"):
        with contextlib.suppress(PackageNotFoundError):
            versions[dist] = version(dist)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "threadpools": [
            {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for info in threadpool_info()
        ],
        "runs_use_blas_threads": 1,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
