"""2-D trajectories on the problem's contour plot: each optimizer's path from its start.

One path per optimizer: its best configuration, at the seed whose final value is the median of
that configuration's seeds (a typical run, not a lucky one). The path is the recorded iterates
(every iteration at first, then on the runner's log-spaced schedule). The contours come from the
problem rebuilt from its stored name and parameters.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import numpy as np

from .plots import FigureFile, ProblemView, legend_outside, new_figure, save, wrap

GRID = 200  # contour resolution per axis
CONTOUR_SECONDS = 10.0  # a slow problem gets a coarser contour grid rather than a slow report


def trajectory_figure(view: ProblemView, folder: Path, ext: str
                      ) -> tuple[FigureFile | None, list[str]]:
    """The figure (None when no run has a 2-D path) and notes on what was left out."""
    paths = _paths(view)
    if not paths:
        return None, [f"{view.label}: no 2-D trajectory was recorded, so no trajectory plot"]
    problem, notes = _rebuild(view)
    x_opt = None if problem is None or problem.x_opt is None else np.asarray(problem.x_opt)
    box = _box(paths, x_opt)
    fig, (ax,) = new_figure(7.4, 6.0)
    if problem is not None:
        notes += _contours(fig, ax, problem, box)
    handles = _draw_paths(ax, paths, view)
    if x_opt is not None:
        ax.plot(*x_opt[:2], marker="*", ms=15, mfc="white", mec="black", mew=1.2, ls="none",
                zorder=20, label="known minimizer x*")
        handles.append(ax.lines[-1])
    ax.set(xlim=box[0], ylim=box[1], xlabel="x₀", ylabel="x₁", aspect="equal",
           title=view.title("paths of each optimizer's best configuration (median seed)"))
    ax.grid(False)
    legend_outside(ax, handles=handles, title="○ start   ■ end")
    path = save(fig, folder / f"trajectory-{view.slug}.{ext}")
    caption = ("Recorded iterates of each optimizer's best configuration, at the seed with the "
               "median final value; ○ marks the start, ■ the end, ★ the known minimizer.")
    return FigureFile(path, "Trajectories", caption, view.label), notes


def _paths(view: ProblemView) -> list[tuple[str, str, int, str, np.ndarray, np.ndarray]]:
    """(optimizer, label, seed, status, x_0, x_1) of each optimizer's typical best run."""
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
        out.append((optimizer, label, int(row["seed"]), row["status"], trace["x_0"],
                    trace["x_1"]))
    return out


def _rebuild(view: ProblemView):
    from .plugins import make_problem

    row = view.runs.iloc[0]
    try:
        problem = make_problem(row["problem"], json.loads(row["problem_params"]),
                               row["base_dir"] or ".")
    except Exception as e:  # a plugin that is gone or broken: draw the paths without contours
        return None, [f"{view.label}: could not rebuild the problem to draw contours "
                      f"({type(e).__name__}: {e}); trajectories drawn without them"]
    return problem, []


def _box(paths, x_opt) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits holding the paths; a path that ran off to infinity is cut, not followed."""
    every = np.array([(x, y) for *_, xs, ys in paths for x, y in zip(xs, ys, strict=True)
                      if np.isfinite(x) and np.isfinite(y)] or [(0.0, 0.0)])
    core = [(xs[0], ys[0]) for *_, xs, ys in paths]
    core += [(xs[-1], ys[-1]) for *_, status, xs, ys in paths
             if status not in ("diverged", "nan", "error", "timeout")]
    if x_opt is not None:
        core.append(tuple(x_opt[:2]))
    core = np.array([p for p in core if np.isfinite(p).all()] or [(0.0, 0.0)])
    span = np.ptp(every, axis=0)
    pts = core if (span > 5 * np.maximum(np.ptp(core, axis=0), 1e-12)).any() else every
    low, high = pts.min(axis=0), pts.max(axis=0)
    pad = np.maximum((high - low) * 0.08, 1e-3 * np.maximum(1.0, np.abs(high)))
    # a square box, so that aspect="equal" keeps the picture from collapsing to a strip
    centre, half = (low + high) / 2, ((high - low) / 2 + pad).max()
    return ((centre[0] - half, centre[0] + half), (centre[1] - half, centre[1] + half))


def _contours(fig, ax, problem, box) -> list[str]:
    z, xs, ys, n = _grid_values(problem, box)
    finite = z[np.isfinite(z)]
    notes = [] if n == GRID else [f"{problem.name}: contour grid coarsened to {n}×{n} "
                                   "(slow evaluation)"]
    if len(finite) < 4:
        return [*notes, f"{problem.name}: too few finite values to draw contours"]
    # levels at quantiles: a multimodal landscape shows its basins whatever its scale
    levels = np.unique(np.quantile(finite, np.linspace(0, 1, 11)))
    if len(levels) < 3:
        return notes
    filled = ax.contourf(xs, ys, np.ma.masked_invalid(z), levels=levels, cmap="Greys_r",
                         alpha=0.5, zorder=0)
    bar = fig.colorbar(filled, ax=ax, orientation="horizontal", fraction=0.05, pad=0.1,
                       format="%.3g")
    bar.set_ticks(levels[::2])
    bar.set_label("f(x): shades at deciles of the values shown (darker is lower)")
    return notes


def _grid_values(problem, box):
    n = GRID
    start = time.perf_counter()
    probe = [_value(problem, np.array([x, box[1][0]])) for x in np.linspace(*box[0], 20)]
    per_call = (time.perf_counter() - start) / len(probe)
    if per_call * n * n > CONTOUR_SECONDS:
        n = max(12, int((CONTOUR_SECONDS / per_call) ** 0.5))
    xs, ys = np.linspace(*box[0], n), np.linspace(*box[1], n)
    z = np.array([[_value(problem, np.array([x, y])) for x in xs] for y in ys])
    return z, xs, ys, n


def _value(problem, x: np.ndarray) -> float:
    with contextlib.suppress(Exception):  # a problem that raises somewhere: a hole in the map
        f = float(problem.value(x))
        return f if np.isfinite(f) else np.nan
    return np.nan


def _draw_paths(ax, paths, view: ProblemView) -> list:
    from matplotlib.lines import Line2D

    handles = []
    for i, (optimizer, label, seed, status, xs, ys) in enumerate(paths):
        color = view.colors[optimizer]
        # markers shrink path by path, so marks on one point stay visible as concentric rings
        grow = 2.0 * (len(paths) - 1 - i)
        ax.plot(xs, ys, color=color, lw=1.4, marker=".", ms=3, zorder=3, alpha=0.9)
        ax.plot(xs[0], ys[0], marker="o", ms=8 + grow, mfc="none", mec=color, mew=1.8,
                zorder=4 + i)
        ax.plot(xs[-1], ys[-1], marker="s", ms=6 + grow, mfc=color, mec="black", mew=0.6,
                zorder=4 + i)
        handles.append(Line2D([], [], color=color, lw=1.4, marker=".",
                              label=wrap(f"{label}, seed {seed} ({status})")))
    return handles
