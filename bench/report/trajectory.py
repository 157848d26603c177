"""2-D trajectories on the problem's contour plot: each optimizer's path from its start.

One path per optimizer: its best configuration, at the seed whose final value is the median of
that configuration's seeds (a typical run, not a lucky one). The path is the recorded iterates
(every iteration at first, then on the runner's log-spaced schedule). The contours come from the
landscape stored in the results folder (``landscapes/``, mapped by ``optbench run`` over the box
``trajectory_box`` gives); without one the paths are drawn alone.
"""

from __future__ import annotations

import numpy as np

from optbench.bench.formatting import compact
from optbench.bench.report.figures import (
    Drawn,
    ProblemView,
    legend_outside,
    new_figure,
    wrap,
)
from optbench.bench.results.landscapes import Box
from optbench.bench.results.status import FAILED


def trajectory_figure(view: ProblemView) -> tuple[Drawn | None, list[str]]:
    """The figure (None when no run has a 2-D path) and notes on what was left out."""
    paths = _paths(view)
    if not paths:
        return None, [f"{view.label}: no 2-D trajectory was recorded, so no trajectory plot"]
    x_opt = view.x_opt
    box, shown = _box(paths, x_opt)
    fig, (ax,) = new_figure(7.4, 6.4)
    contoured, notes = _contours(fig, ax, view, box)
    handles = _draw_paths(ax, paths, view, box[0][1] - box[0][0])
    own = x_opt is None and _own_minimizers(ax, paths, view, box)
    if own:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], marker="*", ms=12, mfc="white", mec="black", ls="none",
                              label="each path's own minimizer x*\n(one instance per seed)"))
    if x_opt is not None:
        handles.append(_minimizer(ax, x_opt[:2], box, shown))
    ax.set(xlim=box[0], ylim=box[1], xlabel="x₀", ylabel="x₁", aspect="equal",
           title=view.title("paths of each optimizer's best configuration (median seed)"))
    ax.grid(False)
    legend_outside(ax, handles=handles, title="○ start   ■ end")
    where = "★ the known minimizer" if shown or x_opt is None else \
        "an arrow at the edge points to the known minimizer, off the plot"
    if own:
        where = ("a star in a path's colour its own run's minimizer (the runs are on different "
                 "instances of the problem, one per seed)")
    shades = " Shades and thin contour lines are f(x) on the box shown." if contoured else ""
    if contoured and view.per_run_optimum:
        shades += " The contours are of one instance; each path ran on its own seed's."
    caption = ("Recorded iterates of each optimizer's best configuration, at the seed with the "
               f"median final value; ○ marks the start, ■ the end, {where}.{shades}")
    return Drawn(fig, f"trajectory-{view.slug}", "Trajectories", caption, view.label), notes


def _own_minimizers(ax, paths, view: ProblemView, box) -> bool:
    """A star in each path's colour at its own run's x*, where runs differ in x* (one
    instance per seed); whether any was drawn."""
    drawn = False
    for run_id, optimizer, *_ in paths:
        x = view.x_opts.get(run_id)
        if x is None or len(x) < 2 or not np.isfinite(x[:2]).all():
            continue
        inside = box[0][0] <= x[0] <= box[0][1] and box[1][0] <= x[1] <= box[1][1]
        if inside:
            ax.plot(x[0], x[1], marker="*", ms=14, mfc=view.colors[optimizer], mec="black",
                    mew=1.0, ls="none", zorder=20)
            drawn = True
    return drawn


def trajectory_box(view: ProblemView) -> Box | None:
    """The box the trajectory plot of ``view`` shows; None when it has no plot (no 2-D path).

    ``optbench run`` maps the problem's landscape over this box, so the two must agree.
    """
    paths = _paths(view)
    return _box(paths, view.x_opt)[0] if paths else None


def _paths(view: ProblemView
           ) -> list[tuple[str, str, str, int, str, np.ndarray, np.ndarray]]:
    """(run_id, optimizer, label, seed, status, x_0, x_1) of each optimizer's typical best run."""
    out = []
    for optimizer, label, rows in view.configurations():
        if not view.is_best(optimizer, label):
            continue
        rows = rows[[len(view.traces.get(r, {}).get("x_1", ())) > 0 for r in rows["run_id"]]]
        if rows.empty:
            continue
        ordered = rows.sort_values("f_final", na_position="last", kind="stable")
        row = ordered.iloc[(len(ordered) - 1) // 2]
        trace = view.traces[row["run_id"]]
        out.append((row["run_id"], optimizer, label, int(row["seed"]), row["status"],
                    trace["x_0"], trace["x_1"]))
    return out


ZOOM = 20.0  # x* is kept in view unless that would shrink the paths below 1/ZOOM of the box


def _box(paths, x_opt) -> tuple[Box, bool]:
    """Axis limits holding the paths, and whether x* is inside them.

    A path that ran off to infinity is cut, not followed. x* is kept in view unless the paths
    would then be specks in a corner; it is then marked by an arrow at the edge instead.
    """
    every = np.array([(x, y) for *_, xs, ys in paths for x, y in zip(xs, ys, strict=True)
                      if np.isfinite(x) and np.isfinite(y)] or [(0.0, 0.0)])
    core = [(xs[0], ys[0]) for *_, xs, ys in paths]
    core += [(xs[-1], ys[-1]) for *_, status, xs, ys in paths
             if status not in FAILED]
    core = np.array([p for p in core if np.isfinite(p).all()] or [(0.0, 0.0)])
    span = np.ptp(every, axis=0)
    pts = core if (span > 5 * np.maximum(np.ptp(core, axis=0), 1e-12)).any() else every
    shown = False
    if x_opt is not None and np.isfinite(x_opt[:2]).all():
        with_opt = np.vstack([pts, x_opt[:2]])
        extent = max(np.ptp(pts, axis=0).max(), 1e-9)
        shown = np.ptp(with_opt, axis=0).max() <= ZOOM * extent
        pts = with_opt if shown else pts
    low, high = pts.min(axis=0), pts.max(axis=0)
    pad = np.maximum((high - low) * 0.08, 1e-3 * np.maximum(1.0, np.abs(high)))
    # a square box, so that aspect="equal" keeps the picture from collapsing to a strip
    centre, half = (low + high) / 2, ((high - low) / 2 + pad).max()
    return ((centre[0] - half, centre[0] + half), (centre[1] - half, centre[1] + half)), shown


def _minimizer(ax, x_opt: np.ndarray, box, shown: bool):
    """★ at x*, or, when x* is off the plot, an arrow at the edge pointing to it."""
    from matplotlib.lines import Line2D

    where = f"({compact(x_opt[0])}, {compact(x_opt[1])})"
    if shown:
        (star,) = ax.plot(*x_opt, marker="*", ms=15, mfc="white", mec="black", mew=1.2,
                          ls="none", zorder=20, label=f"known minimizer x* = {where}")
        return star
    (cx, cy), half = (np.mean(box[0]), np.mean(box[1])), (box[0][1] - box[0][0]) / 2
    d = x_opt - (cx, cy)
    tip = np.array([cx, cy]) + d / np.abs(d).max() * half * 0.97  # on the box's edge
    tail = tip - d / np.linalg.norm(d) * half * 0.3
    distance = float(np.linalg.norm(d))
    ax.annotate(f"x* = {where}\n{compact(distance)} away", xy=tip, xytext=tail, fontsize=8,
                ha="center", va="center", zorder=20,
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.4},
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.5", "alpha": 0.9})
    return Line2D([], [], color="black", marker=_ARROW, ms=12, ls="none",
                  label=f"known minimizer x* = {where},\noff the plot: the arrow points to it")


# the legend's arrow as a path: a mathtext marker ($\rightarrow$) would build matplotlib's
# mathtext parser for it, a second of a report's time
_ARROW = [(-1.0, 0.12), (0.35, 0.12), (0.35, 0.45), (1.0, 0.0), (0.35, -0.45), (0.35, -0.12),
          (-1.0, -0.12), (-1.0, 0.12)]

NO_CONTOURS = "trajectories drawn without contours"


# how a folder's landscapes get (re)mapped: the report maps only shipped problems itself
REMAP = ("`optbench run CONFIG --resume` without --no-report maps it, running nothing; a report "
         "maps only the problems optbench ships")


def _contours(fig, ax, view: ProblemView, box: Box) -> tuple[bool, list[str]]:
    """Shades and contour lines of the stored landscape: whether drawn, notes on what lacks."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, LogNorm
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

    land = view.landscape
    if land is None:
        return False, [f"{view.label}: no landscape of this problem is stored in the results "
                       f"folder ({REMAP}), so {NO_CONTOURS}"]
    notes = [f"{view.label}: {land.note}"] if land.note else []
    if not land.covers(box):
        notes.append(f"{view.label}: the stored landscape was mapped for other runs and covers "
                     f"only part of the plot; the rest has no contours ({REMAP})")
    z = land.z
    inside = ((land.ys[:, None] >= box[1][0]) & (land.ys[:, None] <= box[1][1])
              & (land.xs[None, :] >= box[0][0]) & (land.xs[None, :] <= box[0][1]))
    finite = z[np.isfinite(z) & inside]
    if len(finite) < 4 or finite.max() <= finite.min():
        return False, [*notes, f"{view.label}: too few distinct finite values of f on the box, "
                               f"so {NO_CONTOURS}"]
    low, high = float(finite.min()), float(finite.max())
    # log levels only when most of the picture would otherwise sit in the lowest shade
    log = low > 0 and high / low > 1e3 and np.median(finite) < low + 0.05 * (high - low)
    levels = np.geomspace(low, high, LEVELS) if log else \
        MaxNLocator(LEVELS, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
    grey = ListedColormap(colormaps["Greys_r"](np.linspace(0.3, 0.97, 256)))  # not black or white
    masked = np.ma.masked_invalid(z)
    norm = LogNorm(low, high) if log else None
    filled = ax.contourf(land.xs, land.ys, masked, levels=levels, cmap=grey, norm=norm,
                         zorder=0, rasterized=True)
    ax.contour(land.xs, land.ys, masked, levels=levels, colors="0.25", linewidths=0.3,
               alpha=0.6, norm=norm, zorder=1, rasterized=True)
    bar = fig.colorbar(filled, ax=ax, orientation="horizontal", fraction=0.05, pad=0.1)
    bar.locator = LogLocator() if log else MaxNLocator(8)
    bar.formatter = FuncFormatter(lambda v, _: compact(v))
    bar.update_ticks()
    bar.set_label(f"f(x) on the box shown ({'log' if log else 'linear'} shades, darker is lower; "
                  "thin lines are contours)")
    return True, notes


LEVELS = 40  # contour levels: enough to show Ackley's ripples on its outer plateau


STILL = 0.01  # a path within this fraction of the box from its start hides under its markers


def _stayed(xs: np.ndarray, ys: np.ndarray, width: float) -> str:
    """'' for a path that visibly moves; else what the legend says of one hidden at its start."""
    pts = np.column_stack([xs, ys])
    pts = pts[np.isfinite(pts).all(axis=1)]
    if not len(pts):
        return ""
    far = float(np.linalg.norm(pts - pts[0], axis=1).max())
    if far <= 1e-12 * max(1.0, float(np.abs(pts[0]).max())):
        return "did not move"
    return f"stayed within {compact(far)} of its start" if far < STILL * width else ""


def _draw_paths(ax, paths, view: ProblemView, width: float) -> list:
    from matplotlib.lines import Line2D

    handles = []
    for i, (_, optimizer, label, seed, status, xs, ys) in enumerate(paths):
        color = view.colors[optimizer]
        # start rings shrink path by path: starts on one point stay visible, concentric
        grow = 2.0 * (len(paths) - 1 - i)
        ax.plot(xs, ys, color=color, lw=1.4, marker=".", ms=3, zorder=3, alpha=0.9)
        ax.plot(xs[0], ys[0], marker="o", ms=8 + grow, mfc="none", mec=color, mew=1.8,
                zorder=4 + i)
        # ends above the x* star: an end on the minimizer is the success to see
        ax.plot(xs[-1], ys[-1], marker="s", ms=7, mfc=color, mec="black", mew=0.6,
                zorder=21 + i)
        still = _stayed(xs, ys, width)
        text = f"{label}, seed {seed} ({status}{'; ' + still if still else ''})"
        handles.append(Line2D([], [], color=color, lw=1.4, marker="o" if still else ".",
                              mfc="none" if still else color, label=wrap(text)))
    return handles
