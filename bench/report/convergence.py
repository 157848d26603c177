"""Convergence curves: f − f* (else f) against evaluations and against wall time, per problem.

Each configuration is one line, the median over its seeds on a shared log-spaced grid (each run
read as a step function of its recorded iterations), so a 1,000-run sweep draws one line per
configuration, not one per run. Each run is measured against its own f* (a run-seeded problem
has one instance, and one f*, per seed), then the median and band are taken. The best
configuration of each optimizer (the table's ranking) is bold with its 25–75% band; its other
configurations are faint and unbanded; seeds that ran identically get no band.

Where f* is unknown the curves show f, unless the configurations' final values crowd into a
sliver of that axis: then they show f − (the best f found in the sweep) on a log axis, which is
what separates them, and the caption and axis label say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optbench.bench.formatting import compact
from optbench.bench.report.figures import (
    FAINT_ALPHA,
    Drawn,
    ProblemView,
    finite_max,
    legend_outside,
    log_grid,
    new_figure,
    plain_log_ticks,
    quartiles,
    step_values,
    wrap,
)
from optbench.bench.report.tables import FINITE_DIFFERENCE, fd_text

AXES = {  # trace column -> x-axis label, file suffix, what it is in a title
    "evaluations": ("function evaluations (oracle calls, log scale; the start x₀ drawn at 1)",
                    "evals", "evaluations"),
    "time_s": ("wall time (s, log scale; the start x₀ drawn at the first time recorded)", "time",
               "wall time"),
}


def convergence_figures(view: ProblemView) -> list[Drawn]:
    figures = []
    ref = reference(view)
    for column, (xlabel, suffix, what) in AXES.items():
        drawn = curves(view, column, ref)
        if not drawn:
            continue
        fig, (ax,) = new_figure()
        handles = _draw(ax, view, drawn)
        log = ref.kind == "best" or _log_y(view, drawn)
        ax.set(xscale="log", xlabel=xlabel, ylabel=_ylabel(view, ref, log),
               yscale="log" if log else "linear",
               title=view.title(f"{_over(view)} against {what}"))
        handles += _targets(ax, view, ref)
        plain_log_ticks(ax, "y")
        plain_log_ticks(ax, "x")
        legend_outside(ax, handles=handles, title="bold: best configuration of each optimizer")
        figures.append(Drawn(fig, f"convergence-{suffix}-{view.slug}",
                             f"Convergence against {what}", _caption(view, what, ref),
                             view.label))
    return figures


def _over(view: ProblemView) -> str:
    return "one seed" if view.seeds == 1 else f"median over {view.seeds} seeds"


def _ylabel(view: ProblemView, ref: Reference, log: bool) -> str:
    scale = ", log scale" if log else ""
    if ref.kind == "best":
        return (f"best f(x) so far − best f found in the sweep\n(f* unknown; best found "
                f"{ref.best:.6g}{scale})")
    if ref.kind == "f":
        return f"best f(x) so far (no known minimum f*{scale})"
    if view.f_opt is None:
        return f"best f(x) so far − f*  (each run's own f*{scale})"
    return f"best f(x) so far − f*  (f* = {compact(view.f_opt)}{scale})"


SEPARATES = 0.1  # final values within this share of the f axis do not separate on it


@dataclass(frozen=True)
class Reference:
    """What the curves subtract from f: each run's own f* (``"f*"``), the best f any run of
    the sweep found on the problem (``"best"``, when f* is unknown and that is what separates
    the configurations), or nothing (``"f"``)."""

    kind: str
    best: float = float("nan")  # the best f found, for "best"
    floor: float = float("nan")  # where f − best = 0 sits on the log axis, for "best"
    crowded: float = float("nan")  # for "best": the share of the f axis the finals span

    def y(self, view: ProblemView, run_id: str, f: np.ndarray) -> np.ndarray | None:
        """The curve's values for run ``run_id`` (None: its f* is unknown, it is not drawn)."""
        if self.kind == "f*":
            return view.gap(run_id, f)
        if self.kind == "best":
            return np.maximum(np.asarray(f, dtype=float) - self.best, self.floor)
        return np.asarray(f, dtype=float)


def reference(view: ProblemView) -> Reference:
    """Each run's f* where known; else f − best found when the configurations' final values
    crowd into less than SEPARATES of the f axis and spread wider on a log axis of f − best."""
    if view.has_f_opt:
        return Reference("f*")
    finals, values = [], []
    for _, _, rows in view.configurations():
        last = [t["f_best"][-1] for r in rows["run_id"]
                if len(t := view.traces.get(r, {})) and len(t.get("f_best", ()))]
        values += [t["f_best"] for r in rows["run_id"]
                   if len(t := view.traces.get(r, {})) and len(t.get("f_best", ()))]
        if np.isfinite(last).any():
            finals.append(float(np.nanmedian(last)))
    values = np.concatenate(values) if values else np.array([])
    values = values[np.isfinite(values)]
    if len(finals) < 2 or not len(values):
        return Reference("f")
    finals = np.asarray(finals)
    f_log = values.min() > 0 and values.max() / values.min() >= 10
    on_f = _spread(finals, values, np.log10 if f_log else (lambda v: v))
    best = float(values.min())
    gaps = values - best
    if not (gaps > 0).any():
        return Reference("f")
    floor = float(gaps[gaps > 0].min()) / 10
    on_gap = _spread(np.maximum(finals - best, floor), np.maximum(gaps, floor), np.log10)
    if on_f < SEPARATES and on_gap > on_f:
        return Reference("best", best, floor, on_f)
    return Reference("f")


def _spread(finals: np.ndarray, values: np.ndarray, scale) -> float:
    """The share of the axis (``scale``d) that the final values span."""
    span = float(scale(values.max()) - scale(values.min()))
    return float(scale(finals.max()) - scale(finals.min())) / span if span > 0 else 0.0


def curves(view: ProblemView, column: str, ref: Reference | None = None):
    """(optimizer, label, x, median, q25, q75, runs with data) per configuration.

    Each curve begins at the start: the trace's first record (evaluation 0, f(x0)) is drawn at
    the grid's first point (evaluation 1, or the first wall time recorded), where a log axis can
    show it; the run's later records follow as a step function on a shared log-spaced grid.
    """
    ref = reference(view) if ref is None else ref
    per_config = []
    for optimizer, label, rows in view.configurations():
        pairs = [(x, y) for _, x, y in run_curves(view, column, rows, ref)]
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


def run_curves(view: ProblemView, column: str, rows, ref: Reference
               ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(run_id, x, y) of each run of ``rows`` with a trace: y the best f so far among evaluated
    points (as targets and ECDFs judge; COCO draws the same), less the run's own f*."""
    out = []
    for rid in rows["run_id"]:
        t = view.traces.get(rid, {})
        if not len(t) or not len(t.get(column, ())):
            continue
        y = ref.y(view, rid, t["f_best"])
        if y is not None:
            out.append((rid, np.asarray(t[column], dtype=float), y))
    return out


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
            ax.plot(grid, median, color=color, lw=2.2, zorder=3, label=label)
            seen = np.flatnonzero(np.isfinite(median))
            last = seen[-1:] if len(seen) else []  # where it ended (its last finite value)
            ax.plot(grid[last], median[last], "o", color=color, ms=5, zorder=3)
            if n > 1 and label not in view.identical:  # identical seeds: no spread to show
                ax.fill_between(grid, q25, q75, color=color, alpha=0.18, lw=0, zorder=2)
                band = True
            handles.append(Line2D([], [], color=color, lw=2.2, marker="o", ms=4,
                                  label=wrap(label)))
        else:
            ax.plot(grid, median, color=color, lw=0.9, alpha=FAINT_ALPHA, zorder=1, label=label)
            faint = True
    if faint:
        handles.append(Line2D([], [], color="0.4", lw=0.9, alpha=FAINT_ALPHA,
                              label="other configurations (faint,\ncoloured by optimizer)"))
    if band:
        handles.append(Patch(color="0.5", alpha=0.25, label="25–75% over seeds"))
    return handles


def _targets(ax, view: ProblemView, ref: Reference) -> list:
    from matplotlib.lines import Line2D

    handles = []
    for t in view.targets:
        at = t - ref.best if ref.kind == "best" else t
        if ref.kind != "f" and at <= 0:
            continue
        ax.axhline(at, color="0.25", ls="--", lw=1.0, zorder=4)
        what = "f − f*" if ref.kind == "f*" else "f"
        handles.append(Line2D([], [], color="0.25", ls="--", lw=1.0,
                              label=f"target {what} = {compact(t)}"))
    return handles


def _caption(view: ProblemView, what: str, ref: Reference) -> str:
    y = {"f*": "f(x) − f*", "best": "f(x) − (best f found in the sweep)",
         "f": "f(x) (f* unknown)"}[ref.kind]
    start = "evaluation 1" if what == "evaluations" else "the first time recorded"
    drawn = [t for t in view.targets if ref.kind == "f"
             or t - (ref.best if ref.kind == "best" else 0.0) > 0]  # as _targets draws them
    targets = "; dashed lines are the value targets" if drawn else ""
    text = (f"Best {y} among the points evaluated so far against {what}: for each "
            f"configuration the median over its seeds, starting at f(x0), drawn at {start} (a "
            f"log axis has no 0); bold with a 25–75% band is each optimizer's best configuration "
            f"(see the table), faint are its others{targets}.")
    if ref.kind == "f*" and view.per_run_optimum:
        text += (" Each run is measured against its own f* (its problem instance's), before "
                 "the median is taken.")
    if ref.kind == "best":
        text += (f" f* is unknown, and on f itself the configurations' final values span only "
                 f"{ref.crowded:.0%} of the axis, so the curves show how far each is above the "
                 f"best f any run of this sweep found ({compact(ref.best)}), on a log axis; a run "
                 f"at that best value is drawn at {compact(ref.floor)}, the axis' floor.")
    if what == "evaluations" and view.gradient == FINITE_DIFFERENCE:
        text += f" {fd_text(view.dim)}: they count in the evaluations."
    if view.identical:
        which = "every configuration" if view.identical >= set(view.runs["optimizer_label"]) \
            else ", ".join(lbl for lbl in dict.fromkeys(view.runs["optimizer_label"])
                           if lbl in view.identical)
        text += (f" The seeds of {which} ran identically (one start point on a deterministic "
                 "problem): such a curve is one run, with no band.")
    return text

