"""A results folder: one JSON summary and one parquet trace per run, written atomically.

    results/<sweep>/
      config.yaml          the sweep as given
      environment.json     versions, CPU, BLAS and thread counts of the machine that ran it
      runs/<id>.parquet    the trace (columns: see records.TRACE_COLUMNS)
      runs/<id>.json       the summary row, the spec, the precision hits, and the trace's row
                           count and sha256; written last, so its presence means the run is
                           complete, and a run counts as stored only when both files read back
                           and agree (``verify``)
      sweep_runs.json      the ids of the last `optbench run`'s sweep: summary.csv and the
                           report read only these (older folders without it: every stored run)
      config.previous.yaml the config before the last `--resume` that changed it
      summary.csv          one row per run (and summary.parquet), rebuilt from runs/
      landscapes/<key>.npz f on a grid for each 2-D problem's trajectory plot (landscapes.py)
      quarantine/<time>/   damaged or half-written runs a later run set aside (why.json: why)
      .optbench.lock       the writer's lock (lock.py)

Each file is written to a temporary name in the same folder and renamed into place, so a killed
sweep leaves complete runs and nothing half-written (a temporary file it leaves is deleted by
the next writer). Runs of an earlier, edited config stay in runs/ (returning to that config
reruns nothing) but are not part of the sweep's results.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from optbench.bench.errors import UsageError
from optbench.bench.results.files import Flusher, atomic_write, signature, sync_folder
from optbench.bench.results.landscapes import FOLDER, Landscape, landscape_key
from optbench.bench.results.lock import cannot_write
from optbench.bench.results.records import SUMMARY_COLUMNS, SUMMARY_TYPES, RunRecord
from optbench.bench.results.verify import Scan, verify

MANIFEST = "sweep_runs.json"
QUARANTINE = "quarantine"
KEPT_ROWS = 20_000  # summary rows a writer keeps in memory (~3.5 KB each)
# the files of the folder itself that a sweep writes (and --force deletes, but config.yaml)
SWEEP_FILES = ("config.yaml", "config.previous.yaml", "environment.json", MANIFEST,
               "summary.csv", "summary.parquet")
RUN_FILE = re.compile(r"^[0-9a-f]{16}\.(json|parquet)$")


_PLAIN = frozenset({str, int, bool, type(None)})


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:  # most of a row: no further test
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


class Store:
    """A results folder. ``sync_every`` > 0: the runs ``save`` writes are flushed to disk
    together, by a thread, about that many seconds after they are written, and at ``sync``
    (a sweep's end, which waits for it), instead of each file by itself before its rename (an
    fsync costs milliseconds: more than a short run). A SIGKILL loses nothing written either
    way (the kernel holds it); a power loss may cost the runs of the last seconds, which
    ``verify`` then finds missing or damaged."""

    def __init__(self, root: str | Path, sync_every: float = 0.0):
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.landscapes = self.root / FOLDER
        self.sync_every = sync_every
        self._unsynced = 0  # runs written since the last sync
        self._flusher: Flusher | None = None
        # run id -> the stat of its two files as this store wrote them or last found them sound:
        # ``scan`` does not verify them again while unchanged (verify() reads and hashes both)
        self._written: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        # run id -> the summary row ``save`` wrote (up to KEPT_ROWS): summary.csv is made from
        # them while their files are unchanged, not read back
        self._rows: dict[str, dict[str, Any]] = {}

    def prepare(self) -> None:
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise cannot_write(self.root, e) from None

    def sync(self) -> None:
        """Flush to disk the runs written since the last sync, and wait for it (a no-op when
        there are none); the flushing thread stops (``save`` starts another)."""
        if self._flusher is not None:
            self._flusher.close()
            self._flusher = None
        if self._unsynced:
            try:
                sync_folder(self.runs)
            except OSError as e:
                raise cannot_write(self.runs, e) from None
        self._unsynced = 0

    def stored_ids(self) -> set[str]:
        """The runs whose summary is on disk (not yet verified: see ``scan``)."""
        if not self.runs.is_dir():
            return set()
        return {p.stem for p in self.runs.glob("*.json")}

    def scan(self, ids=None, orphans: bool = False) -> Scan:
        """Verify the stored runs (all, or those of ``ids``); ``orphans`` also counts a trace
        without its summary as damaged (a writer killed between the two; only the folder's
        writer may call it so, since for a reader it is a run being written now)."""
        found = Scan()
        names = _names(self.runs)
        jsons = {n[:-5] for n in names if n.endswith(".json")}
        for rid in sorted(jsons):
            if ids is None or rid in ids:
                doc, why = self._verify(rid)
                if doc is not None:
                    found.sound[rid] = doc
                else:
                    found.damaged[rid] = why
        if orphans:
            for name in names:
                rid = name.removesuffix(".parquet")
                if name.endswith(".parquet") and rid not in jsons and (ids is None or rid in ids):
                    found.damaged[rid] = "half-written: a trace without its summary"
        return found

    def _verify(self, rid: str) -> tuple[dict[str, Any] | None, str]:
        """``verify``, less its hashing for a run this store wrote or already found sound and
        whose two files are the same files, unchanged, since (inode, size, times): a sweep
        scans its folder several times (recovery, summary, landscapes, table, report)."""
        json_path = self.runs / f"{rid}.json"
        known = self._signatures(rid)
        if self._written.get(rid) == known:
            with contextlib.suppress(OSError, ValueError):
                return json.loads(json_path.read_bytes()), ""
        doc, why = verify(self.runs, rid)
        if doc is not None and None not in known:  # taken before the read: a change since
            self._written[rid] = known  # shows as another signature next time
        return doc, why

    def _signatures(self, rid: str) -> tuple:
        runs = str(self.runs)
        return (signature(os.path.join(runs, f"{rid}.json")),
                signature(os.path.join(runs, f"{rid}.parquet")))

    def recover(self) -> Scan:
        """What the folder's writer does first: delete stale temporary files, verify every
        stored run and move the damaged ones (and their half-written kin) to quarantine/."""
        self.clean_temporary()
        found = self.scan(orphans=True)
        if found.damaged:
            self.quarantine(found.damaged)
        return found

    def quarantine(self, damaged: dict[str, str]) -> Path:
        """Move the files of these runs to quarantine/<time>/, with why.json; nothing deleted."""
        folder = self.root / QUARANTINE / time.strftime("%Y%m%dT%H%M%S")
        n = 1
        while folder.exists():
            n += 1
            folder = folder.with_name(f"{folder.name.split('.')[0]}.{n}")
        try:
            folder.mkdir(parents=True)
            for rid in damaged:
                for suffix in (".json", ".parquet"):
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(self.runs / f"{rid}{suffix}", folder / f"{rid}{suffix}")
        except OSError as e:
            raise cannot_write(self.root, e) from None
        atomic_write(folder / "why.json", json.dumps(damaged, indent=1, sort_keys=True))
        return folder

    def clean_temporary(self) -> int:
        """Delete the temporary files a killed writer left (only its writer may call it)."""
        gone = 0
        for folder, owned in ((self.runs, None), (self.landscapes, None),
                              (self.root, SWEEP_FILES)):
            for name in _names(folder):
                if name.startswith(".") and name.endswith(".tmp") and (
                        owned is None or name[1:].removesuffix(".tmp").rsplit(".", 1)[0] in owned):
                    with contextlib.suppress(FileNotFoundError):
                        (folder / name).unlink()
                        gone += 1
        return gone

    def clear(self) -> None:
        """Delete this folder's stored runs, landscapes and sweep files (``--force``).

        Only files optbench names (``<id>.json``, ``<id>.parquet``, its temporary files...) are
        deleted, each by its own name: a symbolic link is unlinked, never followed, and a
        runs/ or landscapes/ that is itself a link is refused, so nothing outside the folder is
        ever deleted. The lock, config.yaml and quarantine/ stay.
        """
        for folder in (self.runs, self.landscapes):
            if folder.is_symlink():
                raise UsageError(
                    f"--force: {folder} is a symbolic link (to {os.readlink(folder)}); "
                    "optbench deletes nothing through a link: remove the link (or its files) "
                    "yourself, or give another --out")
        self.clean_temporary()
        try:
            for name in _names(self.runs):
                if RUN_FILE.match(name):
                    (self.runs / name).unlink(missing_ok=True)
            for name in _names(self.landscapes):
                if name.endswith(".npz"):
                    (self.landscapes / name).unlink(missing_ok=True)
            for name in SWEEP_FILES[1:]:
                (self.root / name).unlink(missing_ok=True)
        except OSError as e:
            raise cannot_write(self.root, e) from None

    def write_text(self, name: str, text: str) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise cannot_write(self.root, e) from None
        atomic_write(self.root / name, text)

    def write_config(self, text: str) -> None:
        """config.yaml; one that differs is kept as config.previous.yaml (its runs stay)."""
        path = self.root / "config.yaml"
        if path.is_file() and (old := path.read_bytes()) != text.encode():  # kept as it is
            atomic_write(self.root / "config.previous.yaml", old)
        self.write_text("config.yaml", text)

    def select(self, ids) -> None:
        """Name the runs that make up this folder's sweep (what summary and report show)."""
        self.write_text(MANIFEST, json.dumps(sorted(ids), indent=0))

    def selected_ids(self) -> set[str] | None:
        path = self.root / MANIFEST
        if not path.is_file():
            return None
        try:
            ids = json.loads(path.read_text())
        except (OSError, ValueError):
            return None  # unreadable: every stored run, as in a folder without one
        return {i for i in ids if isinstance(i, str)} if isinstance(ids, list) else None

    def save(self, record: RunRecord) -> None:
        """Write one finished run: trace first, then the summary that marks it complete and
        carries the trace's row count and sha256 (what ``verify`` checks)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._unsynced:  # once per batch: the folder exists for the rest of it
            self.prepare()
        rid = record.run_id
        table = pa.table(record.trace)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        trace = sink.getvalue().to_pybytes()
        batched = self.sync_every > 0
        runs = str(self.runs)
        atomic_write(os.path.join(runs, f"{rid}.parquet"), trace, sync=not batched)
        row = {k: _jsonable(v) for k, v in record.summary().items()}
        doc = {
            "summary": row,
            "spec": record.spec.stored,
            "hits": [list(h) for h in record.hits],
            "trace": {"rows": table.num_rows, "sha256": hashlib.sha256(trace).hexdigest()},
        }
        text = json.dumps(doc, allow_nan=False, separators=(",", ":"))  # C encoder: no indent
        atomic_write(os.path.join(runs, f"{rid}.json"), text, sync=not batched)
        self._written[rid] = self._signatures(rid)
        if len(self._rows) < KEPT_ROWS:
            self._rows[rid] = row
        if batched:
            self._unsynced += 1
            if self._flusher is None:
                self._flusher = Flusher(self.runs, self.sync_every)
            self._flusher.written.set()

    def summary_rows(self) -> list[dict[str, Any]]:
        """The summary rows of the sweep's sound runs (see ``load_docs``): those this store
        wrote from memory while their files are unchanged, the others read and verified."""
        ids = self.selected_ids()
        rows, others = [], set()
        for name in _names(self.runs):
            rid = name[:-5]
            if not name.endswith(".json") or (ids is not None and rid not in ids):
                continue
            row = self._rows.get(rid)
            if row is not None and self._written.get(rid) == self._signatures(rid):
                rows.append(row)
            else:
                others.add(rid)
        if others:  # an older run's row may lack a newer column
            rows += [{c: doc["summary"].get(c) for c in SUMMARY_COLUMNS}
                     for doc in self.load_docs(self.scan(others))]
        return rows

    def load_docs(self, scan: Scan | None = None) -> list[dict[str, Any]]:
        """The sound stored runs of the folder's sweep (see ``select``), by run id."""
        scan = scan if scan is not None else self.scan(self.selected_ids())
        return [scan.sound[rid] for rid in sorted(scan.sound)]

    def load_trace(self, run_id: str):
        import pyarrow.parquet as pq

        return pq.read_table(self.runs / f"{run_id}.parquet").to_pandas()

    def save_landscape(self, landscape: Landscape) -> Path:
        try:
            self.landscapes.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise cannot_write(self.root, e) from None
        path = self.landscapes / f"{landscape_key(landscape.problem, landscape.problem_params)}.npz"
        return atomic_write(path, lambda f: np.savez_compressed(f, **landscape.arrays()))

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

    def write_summary(self) -> list[dict[str, Any]]:
        """summary.csv and summary.parquet from the sweep's stored runs; returns their rows.

        Written with the csv module and pyarrow (no DataFrame, no run read back): the file a
        pandas ``to_csv`` would write, but for counts beside blanks, which stay integers."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.sync()  # the runs it names are on disk before it is
        rows = sorted(self.summary_rows(),
                      key=lambda r: (r["problem_label"], r["optimizer_label"], r["seed"]))
        atomic_write(self.root / "summary.csv", lambda f: _write_csv(f, rows))
        table = pa.Table.from_pylist(rows, schema=_summary_schema())
        atomic_write(self.root / "summary.parquet", lambda f: pq.write_table(table, f))
        return rows


def _write_csv(f, rows: list[dict[str, Any]]) -> None:
    import csv
    import io

    text = io.TextIOWrapper(f, encoding="utf-8", newline="")
    table = csv.writer(text, lineterminator="\n")
    table.writerow(SUMMARY_COLUMNS)
    table.writerows([row[c] for c in SUMMARY_COLUMNS] for row in rows)
    text.flush()
    text.detach()  # the caller closes ``f``


def _summary_schema():
    """summary.parquet's column types, from RunRecord's fields."""
    import pyarrow as pa

    kinds = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "str": pa.string()}
    types = {name: kinds[SUMMARY_TYPES[name]] for name in SUMMARY_COLUMNS}
    return pa.schema(list(types.items()))


def _names(folder: Path) -> list[str]:
    """The names in ``folder`` (none when it is missing or not a folder)."""
    try:
        return os.listdir(folder)
    except OSError:
        return []
