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


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"report format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def report_command(args: argparse.Namespace, prepare=None) -> int:
    """``optbench report RESULTS_DIR [RESULTS_DIR ...] [--out DIR] [--format png|svg|pdf]``:
    one folder's report in that folder; several folders' (or one with --out) in --out, which
    writes nothing into them. ``prepare(folder)``: called on a folder reported in place once
    the arguments are checked (the command maps its missing landscapes: run/landscape.py)."""
    from optbench.bench.report.combine import check_folders
    from optbench.bench.results.store import Store

    roots = check_folders(args.results)
    for root in roots:
        if not Store(root).stored_ids():
            raise UsageError(f"{root} holds no finished runs yet: nothing to report")
    if len(roots) == 1 and args.out is None:
        check_format(args.format)
        if prepare is not None:
            prepare(roots[0])
        written = build_report(roots[0], quiet=False, fmt=args.format)
    else:
        written = build_combined(roots, args.out, quiet=False, fmt=args.format)
    if written is None:  # it said why, in one line
        return 2
    print(f"report: {written}")
    return 0


def build_combined(roots, out: str | Path | None = None, quiet: bool = False,
                   fmt: str = "png") -> Path | None:
    """One report of several results folders (report/combine.py), written to ``out`` (default
    ``combine.default_out``) under its writer lock; its report.html, or None without runs."""
    from optbench.bench.report.combine import (
        check_folders,
        check_out,
        default_out,
        load_several,
        write_sources,
    )
    from optbench.bench.results.lock import FolderLock

    check_format(fmt)
    roots = check_folders(roots)
    out = Path(out) if out is not None else default_out(roots)
    check_out(out, roots)
    with FolderLock(out):
        results = load_several(roots, out, quiet=quiet)
        written = write_report(results, quiet=quiet, fmt=fmt)
        if written is not None:
            write_sources(results)
    return written


def build_report(root: str | Path, quiet: bool = False, fmt: str = "png",
                 brief: bool = False, store=None) -> Path | None:
    """Write the report of the results folder ``root``; its report.html, or None without runs.

    Each note on what was left out goes to stderr; ``brief`` (the end of ``optbench run``) prints
    only the figures that failed and a count of the rest, which the page lists in full.
    ``store``: the folder's writer's, which need not verify again the runs it knows sound.
    """
    from optbench.bench.report.data import load_results

    check_format(fmt)
    return write_report(load_results(Path(root), quiet=quiet, store=store), quiet, fmt, brief)


def write_report(results, quiet: bool = False, fmt: str = "png",
                 brief: bool = False) -> Path | None:
    """Write the report of loaded ``results`` into ``results.root`` (see ``build_report``)."""
    from optbench.bench.report.data import identical_runs, load_traces

    root = results.root
    if results.runs.empty:
        if not quiet:
            print(f"report: {results.origin} holds no finished runs; no report written",
                  file=sys.stderr)
        return None
    from optbench.bench.report.page import Report, write_pages
    from optbench.bench.report.tables import config_table, write_tables

    traces = load_traces(results, results.runs["run_id"], TRACE_COLUMNS_USED)
    identical = identical_runs(results.runs, traces)
    table = config_table(results.runs, identical)
    table_files = write_tables(table, root / "tables")
    views = problem_views(results, table, traces, identical)
    figures, notes = _figures(results, views, fmt)
    notes = _general_notes(results) + _identical_notes(views) + notes
    if results.writer is None:  # a sweep that began writing while the report read the folder
        from optbench.bench.results.lock import holder

        results.writer = holder(root)
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


def problem_views(results, table=None, traces=None, identical=None) -> list:
    """A ProblemView per problem of ``results``: its runs, traces, best configurations, colours.

    ``traces`` and ``identical`` (``data.identical_runs``) are read from the folder when not
    given; ``table`` (``tables.config_table``) is built when not given.
    """
    from optbench.bench.report import figures as plots
    from optbench.bench.report.data import identical_runs, load_traces
    from optbench.bench.report.tables import best_per_optimizer, config_table
    from optbench.bench.results.store import Store

    runs = results.runs
    if traces is None:
        traces = load_traces(results, runs["run_id"], TRACE_COLUMNS_USED)
    if identical is None:
        identical = identical_runs(runs, traces)
    colors = plots.optimizer_colors(list(dict.fromkeys(runs["optimizer"])))
    best = best_per_optimizer(config_table(runs) if table is None else table)
    taken: set[str] = set()
    views = [_view(label, runs[runs["problem_label"] == label], traces, best, colors, taken,
                   {c for p, c in identical if p == label})
             for label in results.problems()]
    for view in views:
        if view.dim == 2:
            first = view.runs.iloc[0]
            view.landscape = Store(results.folder_of(first["run_id"])).load_landscape(
                first["problem"], first["problem_params"])
    return views


KINDS = ("convergence", "ecdf", "trajectory", "sensitivity")


def draw(results, kind: str, problem: str | None = None) -> list:
    """The figures of ``kind`` (one of KINDS) as ``figures.Drawn``, not written anywhere: for
    every problem, or for the problem labelled ``problem``. Convergence gives two per problem
    (against evaluations, against wall time); "ecdf" without a problem adds the ECDF over all
    problems when more than one has a known f*. What does not apply is left out, as in the report.
    """
    from optbench.bench.errors import ResultsError
    from optbench.bench.report import figures as plots
    from optbench.bench.report.convergence import convergence_figures
    from optbench.bench.report.ecdf import ecdf_all_figure, ecdf_figure
    from optbench.bench.report.sensitivity import sensitivity_figure
    from optbench.bench.report.trajectory import trajectory_figure

    if kind not in KINDS:
        raise ResultsError(f"plot: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    views = problem_views(results)
    if problem is not None:
        views = [v for v in views if v.label == problem]
        if not views:
            raise ResultsError(f"plot: no problem {problem!r} in {results.root}; its problems "
                               f"are {', '.join(results.problems())}")
    drawn = []
    with plots.style():
        for view in views:
            if kind == "convergence":
                drawn += convergence_figures(view)
            elif kind == "ecdf" and view.has_f_opt:
                drawn.append(ecdf_figure(view, results.hits)[0])
            elif kind == "trajectory" and view.dim == 2:
                drawn.append(trajectory_figure(view)[0])
            elif kind == "sensitivity":
                drawn.append(sensitivity_figure(view)[0])
        known = [v for v in views if v.has_f_opt]
        if kind == "ecdf" and problem is None and len(known) > 1:
            drawn.append(ecdf_all_figure(known, results.hits, known[0].colors))
    return [d for d in drawn if d is not None]


def _figures(results, views, fmt: str):
    """Every figure that applies, written, and a note for each one that does not."""
    from optbench.bench.report import figures as plots
    from optbench.bench.report.ecdf import ecdf_all_figure

    folder = results.root / "figures"
    _clear(folder)
    figures, notes = [], []

    def write(drawn) -> None:
        figures.extend(plots.save_drawn(d, folder, fmt) for d in drawn)

    with plots.style():
        for view in views:
            got, why = _problem_figures(view, results.hits)
            write(got)
            notes += why
        known = [v for v in views if v.has_f_opt]
        if len(known) > 1:
            colors = views[0].colors
            got, why = _guard("ECDF over all problems", ecdf_all_figure, known, results.hits,
                              colors)
            write(_non_smooth_caption(f, known) for f in got)
            notes += why
        elif known:
            notes.append(f"only one problem ({known[0].label}) has a known minimum f*, so there "
                         "is no ECDF over all problems: it would repeat that problem's ECDF")
        else:
            notes.append("no problem has a known minimum f*, so no ECDF over all problems")
        # tuning studies (tune.json) and performance profiles: bench/report/study.py
        from optbench.bench.report.study import study_figures

        got, why = study_figures(results, folder, fmt)
        figures += got
        notes += why
    if not any(v.dim == 2 for v in views):
        notes.append("no 2-D problem in this sweep, so no trajectory plot")
    got, why = _coco(results, views, fmt)  # bbob runs, or a sweep over dimensions
    return figures + got, notes + why


def _coco(results, views, fmt: str):
    """COCO's measures (report/coco.py): ERT tables, ECDFs per bbob group, ERT against dim."""
    from optbench.bench.report.coco import coco_report, report_runs

    try:
        return coco_report(results.root, views[0].colors if views else {}, fmt,
                           report_runs(results))
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


def _problem_figures(view, hits):
    from optbench.bench.report.convergence import convergence_figures, reference
    from optbench.bench.report.ecdf import ecdf_figure
    from optbench.bench.report.sensitivity import sensitivity_figure
    from optbench.bench.report.trajectory import trajectory_figure

    figures, notes = [], []

    def add(what: str, draw, *args) -> None:
        got, why = _guard(f"{view.label}: {what}", draw, *args)
        figures.extend(got)
        notes.extend(why)

    add("convergence curves", convergence_figures, view)
    if not figures and not notes:
        notes.append(f"{view.label}: no run recorded a trace, so no convergence curves")
    if not view.has_f_opt:
        shown = ("f − (the best f found in the sweep) on a log axis, which is what separates "
                 "the configurations," if reference(view).kind == "best" else "f")
        notes.append(f"{view.label}: no known minimum f*, so the convergence curves show "
                     f"{shown} and there is no ECDF of evaluations to target")
    else:
        add("ECDF", ecdf_figure, view, hits)
    if view.dim == 2:
        add("trajectories", trajectory_figure, view)
    add("sensitivity", sensitivity_figure, view)
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


def _view(label: str, rows, traces, best, colors, taken: set[str], identical: set[str]):
    from optbench.bench.report.figures import ProblemView, slug

    f_opts = {r: float(f) for r, f in zip(rows["run_id"], rows["f_opt"], strict=True)
              if math.isfinite(f)}
    x_opts = {r: x for r, text in zip(rows["run_id"], rows["x_opt"], strict=True)
              if (x := _vector(text)) is not None}
    shared_f = set(f_opts.values())
    shared_x = {tuple(x) for x in x_opts.values()}
    targets = sorted({float(t) for t in rows["target_value"].dropna()})
    gradient = rows["gradient"].dropna()
    return ProblemView(
        label=label, slug=slug(label, taken), dim=int(rows["dim"].max()),
        f_opt=shared_f.pop() if len(shared_f) == 1 else None,
        runs=rows, traces={r: traces[r] for r in rows["run_id"]},
        best={opt: cfg for (p, opt), cfg in best.items() if p == label},
        colors=colors, targets=targets, smooth=rows["smooth"].iloc[0],
        x_opt=next(iter(x_opts.values())) if len(shared_x) == 1 else None,
        f_opts=f_opts, x_opts=x_opts, identical=identical,
        gradient=gradient.iloc[0] if len(gradient) else None,
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
    notes = list(results.notes)
    if runs["seed"].nunique() == 1:
        notes.append("a single seed: each curve is one run and no 25–75% band is drawn")
    failed = runs[runs["status"].isin(FAILED)]
    if len(failed):
        counts = failed["status"].value_counts()
        what = ", ".join(f"{n} {s}" for s, n in counts.items())
        notes.append(f"{len(failed)} of {len(runs)} runs failed ({what}): they count as not "
                     "reaching any target, are left out of the sensitivity medians, and are "
                     "listed under Failed runs")
    from optbench.bench.report.verdict import left_out_reason

    for item in results.left_out:
        why = left_out_reason(item)[0]
        notes.append(f"{item['problem']} was left out of the sweep: its entry check refused it "
                     f"({why})")
    if not results.config_text:
        notes.append("config.yaml is missing from the results folder")
    if results.environment is None:
        notes.append("environment.json is missing from the results folder")
    return notes


def _identical_notes(views) -> list[str]:
    """One note per problem whose configurations' seeds ran identically."""
    notes = []
    for view in views:
        if not view.identical:
            continue
        labels = list(dict.fromkeys(view.runs["optimizer_label"]))
        which = "every configuration" if view.identical >= set(labels) else \
            ", ".join(label for label in labels if label in view.identical)
        notes.append(f"{view.label}: the {view.seeds} seeds of {which} ran identically (one "
                     "start point on a deterministic problem: the same trace), so each such "
                     "curve is one run and no 25–75% band is drawn; a start drawn from the "
                     "seed (no fixed x0) gives a spread")
    return notes


def _clear(folder: Path) -> None:
    """Old figures go, so a rebuilt report never shows a figure from other results."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.suffix.lstrip(".") in FORMATS and path.is_file():
                path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
