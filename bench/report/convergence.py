"""Convergence curves: f − f* (else f) against evaluations and against wall time, per problem.

Each configuration is one line, the median over its seeds on a shared log-spaced grid (each run
read as a step function of its recorded iterations), so a 1,000-run sweep draws one line per
configuration, not one per run. The best configuration of each optimizer is bold with its
25–75% band; its other configurations are faint and unbanded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optbench.bench.formatting import compact
from optbench.bench.report.figures import (
    FAINT_ALPHA,
    LOG_FLOOR,
    FigureFile,
    ProblemView,
    finite_max,
    legend_outside,
    log_grid,
    new_figure,
    plain_log_ticks,
    quartiles,
    save,
    step_values,
    wrap,
)

AXES = {  # trace column -> x-axis label, file suffix, what it is in a title
    "evaluations": ("function evaluations (oracle calls, log scale; the start x₀ drawn at 1)",
                    "evals", "evaluations"),
    "time_s": ("wall time (s, log scale; the start x₀ drawn at the first time recorded)", "time",
               "wall time"),
}


def convergence_figures(view: ProblemView, folder: Path, ext: str) -> list[FigureFile]:
    figures = []
    for column, (xlabel, suffix, what) in AXES.items():
        drawn = curves(view, column)
        if not drawn:
            continue
        fig, (ax,) = new_figure()
        handles = _draw(ax, view, drawn)
        log = _log_y(view, drawn)
        ax.set(xscale="log", xlabel=xlabel, ylabel=_ylabel(view, log),
               yscale="log" if log else "linear",
               title=view.title(f"{_over(view)} against {what}"))
        handles += _targets(ax, view)
        plain_log_ticks(ax, "y")
        plain_log_ticks(ax, "x")
        legend_outside(ax, handles=handles, title="bold: best configuration of each optimizer")
        path = save(fig, folder / f"convergence-{suffix}-{view.slug}.{ext}")
        figures.append(FigureFile(path, f"Convergence against {what}", _caption(view, what),
                                  view.label))
    return figures


def _over(view: ProblemView) -> str:
    return "one seed" if view.seeds == 1 else f"median over {view.seeds} seeds"


def _ylabel(view: ProblemView, log: bool) -> str:
    scale = ", log scale" if log else ""
    if view.f_opt is None:
        return f"best f(x) so far (no known minimum f*{scale})"
    return f"best f(x) so far − f*  (f* = {compact(view.f_opt)}{scale})"


def curves(view: ProblemView, column: str):
    """(optimizer, label, x, median, q25, q75, runs with data) per configuration.

    Each curve begins at the start: the trace's first record (evaluation 0, f(x0)) is drawn at
    the grid's first point (evaluation 1, or the first wall time recorded), where a log axis can
    show it; the run's later records follow as a step function on a shared log-spaced grid.
    """
    per_config = []
    for optimizer, label, rows in view.configurations():
        # best so far over evaluated points, as targets and ECDFs judge (COCO draws the same);
        # an iterate's own f can sit above a look-ahead or line-search point that met a target
        pairs = [(np.asarray(t[column], dtype=float), _y(view, t["f_best"]))
                 for rid in rows["run_id"]
                 if len(t := view.traces.get(rid, {})) and len(t.get(column, ()))]
        if pairs:
            per_config.append((optimizer, label, pairs))
    xs = np.concatenate([x for *_, pairs in per_config for x, _ in pairs]) if per_config else []
    xs = np.asarray(xs, dtype=float)
    xs = xs[np.isfinite(xs)]
    if len(xs) == 0:
        return []
    positive = xs[xs > 0]
    if column == "evaluations":
        grid = log_grid(1, max(xs.max(), 1), integer=True)
    else:
        grid = log_grid(positive.min(), positive.max()) if len(positive) else np.array([1e-6])
    out = []
    for optimizer, label, pairs in per_config:
        end = finite_max([x[-1] for x, _ in pairs], grid[0])
        g = grid[grid <= end] if (grid <= end).any() else grid[:1]
        if g[-1] < end:  # the shared grid falls short of the last record: draw where it ended
            g = np.append(g, end)
        starts = [y[0] for _, y in pairs]  # a trace's first record is the start x0
        later = np.vstack([step_values(x, y, g) for x, y in pairs])
        values = np.column_stack([starts, later])
        out.append((optimizer, label, np.concatenate([grid[:1], g]), *quartiles(values),
                    len(pairs)))
    return out


def _y(view: ProblemView, f: np.ndarray) -> np.ndarray:
    if view.f_opt is None:
        return f.astype(float)
    return np.maximum(f - view.f_opt, LOG_FLOOR)


def _log_y(view: ProblemView, curves) -> bool:
    """Log y when the values (and targets) span a decade; a narrow range reads better linear."""
    values = np.concatenate([c[3] for c in curves] + [np.asarray(view.targets, dtype=float)])
    values = values[np.isfinite(values)]
    return len(values) > 0 and values.min() > 0 and values.max() / values.min() >= 10


def _draw(ax, view: ProblemView, curves) -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles, faint, band = [], False, False
    for optimizer, label, grid, median, q25, q75, n in curves:
        color = view.colors[optimizer]
        if view.is_best(optimizer, label):
            ax.plot(grid, median, color=color, lw=2.2, zorder=3)
            seen = np.flatnonzero(np.isfinite(median))
            last = seen[-1:] if len(seen) else []  # where it ended (its last finite value)
            ax.plot(grid[last], median[last], "o", color=color, ms=5, zorder=3)
            if n > 1:
                ax.fill_between(grid, q25, q75, color=color, alpha=0.18, lw=0, zorder=2)
                band = True
            handles.append(Line2D([], [], color=color, lw=2.2, marker="o", ms=4,
                                  label=wrap(label)))
        else:
            ax.plot(grid, median, color=color, lw=0.9, alpha=FAINT_ALPHA, zorder=1)
            faint = True
    if faint:
        handles.append(Line2D([], [], color="0.4", lw=0.9, alpha=FAINT_ALPHA,
                              label="other configurations (faint,\ncoloured by optimizer)"))
    if band:
        handles.append(Patch(color="0.5", alpha=0.25, label="25–75% over seeds"))
    return handles


def _targets(ax, view: ProblemView) -> list:
    from matplotlib.lines import Line2D

    handles = []
    what = "f − f*" if view.f_opt is not None else "f"
    for t in view.targets:
        if view.f_opt is not None and t <= 0:
            continue
        ax.axhline(t, color="0.25", ls="--", lw=1.0, zorder=4)
        handles.append(Line2D([], [], color="0.25", ls="--", lw=1.0,
                              label=f"target {what} = {compact(t)}"))
    return handles


def _caption(view: ProblemView, what: str) -> str:
    y = "f(x) − f*" if view.f_opt is not None else "f(x) (f* unknown)"
    start = "evaluation 1" if what == "evaluations" else "the first time recorded"
    drawn = [t for t in view.targets if view.f_opt is None or t > 0]  # as _targets draws them
    targets = "; dashed lines are the value targets" if drawn else ""
    return (f"Best {y} among the points evaluated so far against {what}: for each "
            f"configuration the median over its seeds, starting at f(x0), drawn at {start} (a "
            f"log axis has no 0); bold with a 25–75% band is each optimizer's best configuration "
            f"(see the table), faint are its others{targets}.")
