"""``optbench export --coco DIR RESULTS_DIR``: the bbob runs of a results folder in COCO's data
format, for cocopp (``python -m cocopp DIR/*``) and IOHanalyzer.

One folder per optimizer configuration (cocopp compares algorithms folder by folder), in the
layout and "bbob-new2" format of COCO's bbob logger::

    DIR/<configuration>/bbobexp_f8.info               per dimension: a header line, a comment,
                                                      and the data file with instance:evals|Δf
                                                      of each run
    DIR/<configuration>/data_f8/bbobexp_f8_DIM10.dat  rows when f − f* first fell below a target
    DIR/<configuration>/data_f8/bbobexp_f8_DIM10.tdat rows at the run's recorded iterations

Each run is a trial of its instance (seed + 1 when the config left ``instance`` null). Rows
have COCO's five columns: evaluations, constraint evaluations (0), best f − f*, f, best f.

Only what the method paid for is written: a run stores the evaluation at which f − f* first
fell below each of the 51 precisions 1e2 … 1e-8 (its "hits") and the evaluation counts of its
trace rows, not the points themselves. A row's best f − f* is therefore known to the ladder's
resolution: below the finest precision hit by then and not below the next finer one. The
written value is the run's recorded best (the trace's f_best, whose first row is f at the
start, which every built-in evaluates first) held inside that interval, just under its upper
end when the recorded value lies outside: so cocopp finds every target at the evaluation at
which the run reached it, and each run's evaluation count is its n_eval. Runs that recorded no
evaluation count (killed from outside, failed to start) are left out and counted in a note.

It reads the results folder's JSON and parquet files and nothing else: no plugin or module the
folder names is imported.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from optbench.bench.errors import UsageError

LADDER = tuple(10.0 ** (2 - 0.2 * k) for k in range(51))  # the runner's precisions
MARGIN = 1e-6  # written values sit this far (relative) inside the interval the hits prove
HEADER = ("% f evaluations | g evaluations | best noise-free fitness - Fopt ({f_opt:.12e}) + "
          "sum g_i+ | measured fitness | best measured fitness or single-digit g-values\n")


def export_command(args: argparse.Namespace) -> int:
    from optbench.bench.report.data import check_results_folder

    root = Path(args.results)
    check_results_folder(root)
    written, notes = export_coco(root, Path(args.coco))
    for note in notes:
        print(f"export: {note}", file=sys.stderr)
    if not written:
        raise UsageError(f"{root} holds no finished bbob runs: nothing to export in COCO's "
                         "format (it numbers bbob's functions)")
    folders = " ".join(str(p) for p in written)
    print(f"export: {len(written)} configuration(s) in COCO's format; post-process with\n"
          f"  python -m cocopp {folders}")
    return 0


def export_coco(root: Path, out: Path) -> tuple[list[Path], list[str]]:
    """Write the bbob runs of ``root`` under ``out``; the algorithm folders and notes."""
    from optbench import __version__
    from optbench.bench.results.store import Store

    store = Store(root)
    docs = store.load_docs()
    bbob = [d for d in docs if d["summary"]["problem"] == "bbob"]
    counted = [d for d in bbob if d["summary"].get("n_eval") and d["summary"].get("f_opt")
               is not None]
    notes = []
    if len(docs) > len(bbob):
        notes.append(f"{len(docs) - len(bbob)} runs of problems other than bbob left out "
                     "(COCO's format numbers bbob's functions)")
    if len(bbob) > len(counted):
        notes.append(f"{len(bbob) - len(counted)} bbob runs recorded no evaluation count "
                     "(killed from outside or failed to start) and are left out")
    by_alg: dict[str, list[dict]] = defaultdict(list)
    for doc in counted:
        by_alg[doc["summary"]["optimizer_label"]].append(doc)
    folders = _folders(out, sorted(by_alg))
    for alg, runs in by_alg.items():
        _write_algorithm(store, folders[alg], alg, runs, f"optbench {__version__}", root)
    return list(folders.values()), notes


def _folders(out: Path, algs: list[str]) -> dict[str, Path]:
    """A new folder per configuration (a name made safe for files), refusing to mix exports."""
    folders, taken = {}, set()
    for alg in algs:
        base = re.sub(r"[^A-Za-z0-9.]+", "-", alg).strip("-.") or "optimizer"
        name, i = base, 2
        while name in taken:
            name, i = f"{base}-{i}", i + 1
        taken.add(name)
        folder = out / name
        if folder.exists() and any(folder.iterdir()):
            raise UsageError(f"export --coco: {folder} already holds files; remove it or export "
                             "to another folder (cocopp would read old and new runs together)")
        folders[alg] = folder
    return folders


def _write_algorithm(store, folder: Path, alg: str, runs: list[dict], version: str,
                     root: Path) -> None:
    groups: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for doc in runs:
        params = json.loads(doc["summary"]["problem_params"])
        groups[params.get("function", 1), int(doc["summary"]["dim"])].append(doc)
    info: dict[int, list[str]] = defaultdict(list)
    for (function, dim), docs in sorted(groups.items()):
        docs.sort(key=lambda d: (_instance(d), d["summary"]["seed"]))
        stem = f"data_f{function}/bbobexp_f{function}_DIM{dim}"
        dat, tdat, trials = [], [], []
        for doc in docs:
            rows, trace_rows, final = _rows(store, doc)
            f_opt = float(doc["summary"]["f_opt"])
            header = HEADER.format(f_opt=f_opt)
            dat.append(header + "".join(_line(e, v, f_opt) for e, v in rows))
            tdat.append(header + "".join(_line(e, v, f_opt) for e, v in trace_rows))
            trials.append(f"{_instance(doc)}:{doc['summary']['n_eval']}|{final:.1e}")
        path = folder / stem
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".dat").write_text("".join(dat))
        path.with_suffix(".tdat").write_text("".join(tdat))
        info[function] += [
            f"suite = 'bbob', funcId = {function}, DIM = {dim}, Precision = 1.000e-08, "
            f"algId = '{alg}', coco_version = '2.8', logger = 'bbob', data_format = 'bbob-new2'",
            f"% exported by {version} from {root}: only the evaluations the method paid for",
            f"{stem}.dat, " + ", ".join(trials),
        ]
    for function, lines in info.items():
        (folder / f"bbobexp_f{function}.info").write_text("\n".join(lines) + "\n")


def _instance(doc: dict) -> int:
    params = json.loads(doc["summary"]["problem_params"])
    instance = params.get("instance")
    return int(instance) if instance is not None else int(doc["summary"]["seed"]) + 1


def _line(evaluations: int, delta_f: float, f_opt: float) -> str:
    f = f_opt + delta_f
    return f"{evaluations} 0 {delta_f:+.9e} {f:+.9e} {f:+.9e}\n"


def _rows(store, doc: dict) -> tuple[list[tuple[int, float]], list[tuple[int, float]], float]:
    """The .dat rows (the first evaluation, each new hit, the last evaluation), the .tdat rows
    (the first evaluation, the trace's rows, the last), and the final best f − f*."""
    s = doc["summary"]
    n_eval, f_opt = int(s["n_eval"]), float(s["f_opt"])
    hits = sorted((int(e), float(p)) for p, e, *_ in doc.get("hits") or ())
    recorded_at, recorded = _trace(store, s["run_id"], f_opt)

    def best(e: int) -> float:
        """The run's best f − f* after e evaluations, held inside what its hits prove."""
        finest = min((p for at, p in hits if at <= e), default=None)
        high = math.inf if finest is None else finest * (1 - MARGIN)
        lower = [p for p in LADDER if finest is None or p < finest * (1 - 1e-9)]
        low = lower[0] * (1 + MARGIN) if lower else 0.0
        i = np.searchsorted(recorded_at, e, side="right") - 1
        value = recorded[i] if i >= 0 else math.nan
        if not math.isfinite(value):
            return high if math.isfinite(high) else low
        return min(max(value, low), high)

    dat = sorted({1, n_eval, *(at for at, _ in hits if at <= n_eval)})
    tdat = sorted({1, n_eval, *(int(e) for e in recorded_at if 1 <= e <= n_eval)})
    return [(e, best(e)) for e in dat], [(e, best(e)) for e in tdat], best(n_eval)


def _trace(store, run_id: str, f_opt: float) -> tuple[np.ndarray, np.ndarray]:
    """Evaluations and best f − f* of the trace's rows (empty when there is no trace)."""
    try:
        trace = store.load_trace(run_id)
    except OSError:
        return np.zeros(0), np.zeros(0)
    best = np.fmin.accumulate(trace["f_best"].to_numpy(dtype=float) - f_opt)
    return trace["evaluations"].to_numpy(), best
