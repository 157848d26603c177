"""``optbench report``: stored runs → tables → figures → report.html and report.md.

Reads only the results folder (report_data), ranks configurations (tables), draws (plots_*),
and writes the page (report_page). A part that does not apply to these results (one seed, no
known minimum, no 2-D problem, nothing swept) is left out and said so, in the report and on
stderr; the rest is still written.

    results/<sweep>/report.html, report.md
    results/<sweep>/tables/per_config.{csv,md,tex}
    results/<sweep>/figures/{convergence-evals,convergence-time,ecdf,trajectory,sensitivity}-*.png
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from optbench.bench.errors import UsageError, describe

FORMATS = ("png", "svg", "pdf")
FAILED_FIGURE = "could not be drawn"
TRACE_COLUMNS_USED = ("evaluations", "time_s", "f", "f_best", "x_0", "x_1")


def report_command(args: argparse.Namespace) -> int:
    """``optbench report RESULTS_DIR [--format png|svg|pdf]``."""
    from optbench.bench.report.data import check_results_folder
    from optbench.bench.results.store import Store

    root = Path(args.results)
    check_results_folder(root)
    if not Store(root).stored_ids():
        raise UsageError(f"{root} holds no finished runs yet: nothing to report")
    print(f"report: {build_report(root, quiet=False, fmt=args.format)}")
    return 0


def build_report(root: str | Path, quiet: bool = False, fmt: str = "png",
                 brief: bool = False) -> Path | None:
    """Write the report of the results folder ``root``; its report.html, or None without runs.

    Each note on what was left out goes to stderr; ``brief`` (the end of ``optbench run``) prints
    only the figures that failed and a count of the rest, which the page lists in full.
    """
    from optbench.bench.report.data import load_results

    if fmt not in FORMATS:
        raise UsageError(f"report format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    root = Path(root)
    results = load_results(root)
    if results.runs.empty:
        if not quiet:
            print(f"report: {root} holds no finished runs; no report written", file=sys.stderr)
        return None
    from optbench.bench.report.page import Report, write_pages
    from optbench.bench.report.tables import config_table, write_tables

    table = config_table(results.runs)
    table_files = write_tables(table, root / "tables")
    figures, notes = _figures(results, table, fmt)
    notes = _general_notes(results) + notes
    page = Report(results=results, table=table, table_files=table_files, figures=figures,
                  notes=notes)
    written = write_pages(page)
    if not quiet:
        failed = [n for n in notes if FAILED_FIGURE in n]
        for note in failed if brief else notes:
            print(f"report: left out: {note}", file=sys.stderr)
        if brief and len(notes) > len(failed):
            print(f"report: {len(notes) - len(failed)} notes on what it leaves out and why are "
                  f"under 'Left out, and why' in {written.name} (or run optbench report)",
                  file=sys.stderr)
    return written


def problem_views(results, table=None) -> list:
    """A ProblemView per problem of ``results``: its runs, traces, best configurations, colours."""
    from optbench.bench.report import figures as plots
    from optbench.bench.report.data import load_traces
    from optbench.bench.report.tables import best_per_optimizer, config_table
    from optbench.bench.results.store import Store

    runs = results.runs
    traces = load_traces(results.root, runs["run_id"], TRACE_COLUMNS_USED)
    colors = plots.optimizer_colors(list(dict.fromkeys(runs["optimizer"])))
    best = best_per_optimizer(config_table(runs) if table is None else table)
    taken: set[str] = set()
    views = [_view(label, runs[runs["problem_label"] == label], traces, best, colors, taken)
             for label in results.problems()]
    for view in views:
        if view.dim == 2:
            first = view.runs.iloc[0]
            view.landscape = Store(results.root).load_landscape(first["problem"],
                                                                first["problem_params"])
    return views


def _figures(results, table, fmt: str):
    """Every figure that applies, and a note for each one that does not."""
    from optbench.bench.report import figures as plots
    from optbench.bench.report.ecdf import ecdf_all_figure

    folder = results.root / "figures"
    _clear(folder)
    views = problem_views(results, table)
    figures, notes = [], []
    with plots.style():
        for view in views:
            got, why = _problem_figures(view, results.hits, folder, fmt)
            figures += got
            notes += why
        known = [v for v in views if v.f_opt is not None]
        if len(known) > 1:
            colors = views[0].colors
            got, why = _guard("ECDF over all problems", ecdf_all_figure, known, results.hits,
                              colors, folder, fmt)
            figures += [_non_smooth_caption(f, known) for f in got]
            notes += why
        elif known:
            notes.append(f"only one problem ({known[0].label}) has a known minimum f*, so there "
                         "is no ECDF over all problems: it would repeat that problem's ECDF")
        else:
            notes.append("no problem has a known minimum f*, so no ECDF over all problems")
    if not any(v.dim == 2 for v in views):
        notes.append("no 2-D problem in this sweep, so no trajectory plot")
    got, why = _coco(results, views, fmt)  # bbob runs, or a sweep over dimensions
    return figures + got, notes + why


def _coco(results, views, fmt: str):
    """COCO's measures (report/coco.py): ERT tables, ECDFs per bbob group, ERT against dim."""
    from optbench.bench.report.coco import coco_report

    try:
        return coco_report(results.root, views[0].colors if views else {}, fmt)
    except Exception as e:
        return [], [f"COCO's measures (ERT, ECDFs per group) {FAILED_FIGURE} ({describe(e)})"]


def _non_smooth_caption(figure, views):
    """A figure of a non-smooth problem says so in its caption."""
    from dataclasses import replace

    from optbench.bench.report.tables import NON_SMOOTH, non_smooth_among

    kinked = [v.label for v in views if v.smooth is False]
    if not kinked:
        return figure
    note = NON_SMOOTH if figure.problem is not None else non_smooth_among(kinked)
    return replace(figure, caption=f"{figure.caption} {note}")


def _problem_figures(view, hits, folder: Path, fmt: str):
    from optbench.bench.report.convergence import convergence_figures
    from optbench.bench.report.ecdf import ecdf_figure
    from optbench.bench.report.sensitivity import sensitivity_figure
    from optbench.bench.report.trajectory import trajectory_figure

    figures, notes = [], []

    def add(what: str, draw, *args) -> None:
        got, why = _guard(f"{view.label}: {what}", draw, *args)
        figures.extend(got)
        notes.extend(why)

    add("convergence curves", convergence_figures, view, folder, fmt)
    if not figures and not notes:
        notes.append(f"{view.label}: no run recorded a trace, so no convergence curves")
    if view.f_opt is None:
        notes.append(f"{view.label}: no known minimum f*, so the convergence curves show f and "
                     "there is no ECDF of evaluations to target")
    else:
        add("ECDF", ecdf_figure, view, hits, folder, fmt)
    if view.dim == 2:
        add("trajectories", trajectory_figure, view, folder, fmt)
    add("sensitivity", sensitivity_figure, view, folder, fmt)
    return [_non_smooth_caption(f, [view]) for f in figures], notes


def _guard(what: str, draw, *args):
    """A figure that cannot be drawn costs a note, not the rest of the report."""
    try:
        got = draw(*args)
    except Exception as e:
        return [], [f"{what} {FAILED_FIGURE} ({describe(e)})"]
    if isinstance(got, tuple):  # (figure or None, notes)
        figure, notes = got
        return ([figure] if figure is not None else []), notes
    return (got if isinstance(got, list) else [got]), []


def _view(label: str, rows, traces, best, colors, taken: set[str]):
    from optbench.bench.report.figures import ProblemView, slug

    f_opt = rows["f_opt"].dropna()
    targets = sorted({float(t) for t in rows["target_value"].dropna()})
    return ProblemView(
        label=label, slug=slug(label, taken), dim=int(rows["dim"].max()),
        f_opt=float(f_opt.iloc[0]) if len(f_opt) and math.isfinite(f_opt.iloc[0]) else None,
        runs=rows, traces={r: traces[r] for r in rows["run_id"]},
        best={opt: cfg for (p, opt), cfg in best.items() if p == label},
        colors=colors, targets=targets, smooth=rows["smooth"].iloc[0],
        x_opt=_vector(rows["x_opt"].iloc[0]),
    )


def _vector(text: str | None):
    """A JSON list of numbers as an array; None for None or anything else."""
    import json

    import numpy as np

    try:
        x = np.asarray(json.loads(text), dtype=float) if text else None
    except (TypeError, ValueError):
        return None
    return x if x is not None and x.ndim == 1 else None


def _general_notes(results) -> list[str]:
    from optbench.bench.results.status import FAILED

    runs = results.runs
    notes = []
    if runs["seed"].nunique() == 1:
        notes.append("a single seed: each curve is one run and no 25–75% band is drawn")
    failed = runs[runs["status"].isin(FAILED)]
    if len(failed):
        counts = failed["status"].value_counts()
        what = ", ".join(f"{n} {s}" for s, n in counts.items())
        notes.append(f"{len(failed)} of {len(runs)} runs failed ({what}): they count as not "
                     "reaching any target, are left out of the sensitivity medians, and are "
                     "listed under Failed runs")
    if not results.config_text:
        notes.append("config.yaml is missing from the results folder")
    if results.environment is None:
        notes.append("environment.json is missing from the results folder")
    return notes


def _clear(folder: Path) -> None:
    """Old figures go, so a rebuilt report never shows a figure from other results."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.suffix.lstrip(".") in FORMATS and path.is_file():
                path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
