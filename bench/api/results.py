"""``optbench.sweep`` and ``optbench.load``: a sweep from Python, its results as DataFrames
and figures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optbench.bench.errors import ResultsError

__all__ = ["Results", "load", "sweep"]


class Results:
    """A results folder, read: ``summary`` (a row per run), ``traces()``, ``table()``,
    ``plot()`` and ``report()``. Reading never runs code named in the folder.

    Of several folders (``load(A, B)``): their runs side by side, ``folders`` the folders and
    ``root`` where ``report()`` writes (beside the first, named after all of them); the
    summary's first column, ``source``, names each run's folder (report/combine.py).
    """

    def __init__(self, root: str | Path, refused: Mapping[Any, Any] | None = None,
                 folders: list[Path] | None = None):
        self.folders = list(folders or [Path(root)])
        self.root = Path(root)
        # (label, lines of the failed gradient check) per problem left out of the sweep
        self.refused = dict(refused or {})
        self._loaded = None

    def __repr__(self) -> str:
        n = len(self.summary)
        where = " + ".join(repr(str(f)) for f in self.folders) if self._several else \
            repr(str(self.root))
        return f"Results({where}: {n} run{'s' * (n != 1)})"

    @property
    def _several(self) -> bool:
        return len(self.folders) > 1

    @property
    def _results(self):
        if self._loaded is None:
            from optbench.bench.report.combine import load_several
            from optbench.bench.report.data import load_results

            self._loaded = load_several(self.folders, self.root) if self._several else \
                load_results(self.root)
        return self._loaded

    @property
    def summary(self):
        """One row per run of the sweep: problem, optimizer, seed, status, message, counts,
        final and best f, evaluations and time to target (see the README's columns)."""
        from optbench.bench.results.records import SUMMARY_COLUMNS

        columns = ["source", *SUMMARY_COLUMNS] if self._several else list(SUMMARY_COLUMNS)
        return self._results.runs[columns].copy()

    @property
    def failed(self):
        """The rows of runs that failed (status failed, diverged, nan, error or timeout)."""
        from optbench.bench.results.records import Status

        summary = self.summary
        bad = [s.value for s in Status if s.failed]
        return summary[summary["status"].isin(bad)]

    @property
    def exit_code(self) -> int:
        """What ``optbench run`` would exit with: 1 when a run points at the user's code or
        setup (``error``, ``timeout``, ``nan``, or ``failed`` with a gradient that disagrees
        with differences where it stopped) or a problem was left out (``refused``), else 0.
        A loaded folder knows nothing of problems left out."""
        from optbench.bench.results.status import exit_code

        runs = self._results.runs
        pairs = zip(runs["status"], runs["gradient_check_failed"], strict=True)
        return exit_code(pairs, len(self.refused))

    def traces(self, run_ids=None):
        """Every recorded iteration of the runs (all, or ``run_ids``) as one long DataFrame,
        with each run's id, problem, optimizer and seed in front."""
        import pandas as pd
        import pyarrow.parquet as pq

        results = self._results
        runs = results.runs
        if run_ids is not None:
            runs = runs[runs["run_id"].isin(list(run_ids))]
        frames = []
        for row in runs.itertuples():
            trace = pq.read_table(results.trace_file(row.run_id)).to_pandas()
            for col, value in (("seed", row.seed), ("optimizer", row.optimizer_label),
                               ("problem", row.problem_label), ("run_id", row.run_id)):
                trace.insert(0, col, value)
            frames.append(trace)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def table(self):
        """Per problem × configuration: success, evaluations to target (median, IQR), median
        final f and time, status counts, the best entry per problem marked (as the report)."""
        from optbench.bench.report.tables import config_table

        return config_table(self._results.runs)

    def plot(self, kind: str = "convergence", problem: str | None = None) -> list:
        """The report's figures of ``kind`` as matplotlib Figures, written nowhere: one list,
        for every problem or for the one labelled ``problem`` (as in ``summary``).

        ``kind``: "convergence" (two per problem: against evaluations, then wall time),
        "ecdf" (per problem with a known f*, then over all problems when several have one),
        "trajectory" (2-D problems) or "sensitivity". Each configuration is one line, its
        label the configuration's; the table's best per optimizer is bold.
        ``fig.savefig(path, bbox_inches="tight")`` writes one (legends sit outside the axes).
        """
        from optbench.bench.report.build import draw

        return [d.figure for d in draw(self._results, kind, problem)]

    def report(self, path: str | Path | None = None, fmt: str = "png") -> Path | None:
        """Build the report (tables, figures, report.html) into the results folder and return
        the page's path; ``path`` copies the folder's report files there as well. A folder's
        own report first maps the contours a ``--no-report`` sweep left out, as ``optbench
        report`` does."""
        import shutil

        from optbench.bench.report.build import build_combined, build_report, check_format

        if self._several:
            page = build_combined(self.folders, self.root, quiet=True, fmt=fmt)
        else:
            from optbench.bench.run.landscape import map_missing

            check_format(fmt)
            map_missing(self.root, quiet=True)
            page = build_report(self.root, quiet=True, fmt=fmt)
        if path is not None and page is not None:
            dest = Path(path)
            if dest.suffix in (".html", ".htm"):
                shutil.copyfile(page, dest)
                return dest
            shutil.copytree(self.root, dest, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("runs"))
            return dest / page.name
        return page


def sweep(config: str | Path | Mapping[str, Any], *, out: str | Path | None = None,
          workers: int | None = None, resume: bool = False, force: bool = False,
          check: bool = True, progress: bool = True, report: bool = False) -> Results:
    """Run a sweep, as ``optbench run`` does, and return its results.

    ``config`` is a YAML file or a dict of the same schema whose ``problems`` may also be
    problem objects or plain functions (``{"problem": fun_or_problem, "targets": {...}}`` to
    give one its own targets) and whose ``optimizers`` may be bare names. ``workers`` is the
    number of processes (default: the CPU cores; 0 runs here): in-memory problems travel to
    them pickled by value, and the script is not run again in them, so no ``if __name__ ==
    "__main__":`` guard is needed. ``out`` defaults to ``results/<name>``.

    Mistakes raise ``optbench.ConfigError`` (and its kin) with the line the CLI prints.
    Problems refused by their gradient check are left out, and listed in ``Results.refused``.
    """
    from optbench.bench.run.sweep import run_sweep
    from optbench.bench.sweep.config import load_sweep, sweep_from_mapping

    spec = read(config, "sweep", sweep_from_mapping, load_sweep)
    outcome = run_sweep(spec, out, workers=workers, resume=resume, force=force, check=check,
                        progress=progress, say=_say if progress else _quiet)
    results = Results(outcome.store.root, outcome.refused)
    if report:
        results.report()
    return results


def read(config, command: str, from_mapping, from_file):
    """The config of ``optbench.sweep`` or ``optbench.tune``: a dict, or a YAML file's path."""
    if isinstance(config, Mapping):
        return from_mapping(config)
    if isinstance(config, str | Path):
        return from_file(config)
    raise ResultsError(f"{command}: config must be a YAML path or a dict, got "
                       f"{type(config).__name__}")


def load(results_dir: str | Path, *more: str | Path) -> Results:
    """The stored sweep in ``results_dir`` (written by ``optbench run`` or ``sweep``); with
    ``more`` folders, their runs side by side, as ``optbench report A B`` shows them."""
    from optbench.bench.report.combine import check_folders, default_out

    folders = check_folders([results_dir, *more])
    if more:
        return Results(default_out(folders), folders=folders)
    return Results(folders[0])


def _say(*parts) -> None:
    import sys

    print(*parts, file=sys.stderr)


def _quiet(*parts) -> None:
    pass
