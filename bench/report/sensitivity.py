"""Hyperparameter sensitivity: final value against each hyperparameter an optimizer was swept over.

A hyperparameter counts as swept when, with every other hyperparameter of that optimizer held
fixed, it takes two or more numeric values (schedule parameters count too: ``lr.exponential.lr``).
Each such sweep is one line: the median over seeds of the runs that did not fail, their
25–75% band, each seed as a dot, and a cross at the top where runs failed.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np

from optbench.bench.formatting import compact, config_value
from optbench.bench.report.figures import (
    LOG_FLOOR,
    Drawn,
    ProblemView,
    legend_outside,
    new_figure,
    plain_log_ticks,
    quartiles,
    wrap,
)
from optbench.bench.results.status import FAILED

LINESTYLES = ("-", "--", ":", "-.")
MAX_PANELS = 4
DODGE = 0.04  # decades (or fraction of the range on a linear axis) between lines' dots


def flatten(params: dict, prefix: str = "") -> dict[str, object]:
    """{"lr": {"exponential": {"lr": 0.3}}} -> {"lr.exponential.lr": 0.3}; lists as text."""
    flat: dict[str, object] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, list) else value
    return flat


def _numeric(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)


def swept(view: ProblemView) -> dict[str, list[tuple[str, str, list[tuple[float, object]]]]]:
    """hyperparameter -> [(optimizer, what is held fixed, [(value, rows)])], two values or more."""
    out: dict[str, list] = defaultdict(list)
    for optimizer, rows in view.runs.groupby("optimizer", sort=False):
        configs = [(flatten(json.loads(p)), g) for p, g in rows.groupby("optimizer_params",
                                                                         sort=False)]
        # a parameter one configuration leaves at its default still varies: lbfgsb against
        # lbfgsb(maxcor=5) is maxcor 10 against 5 (the default as the run recorded it)
        given = {k for flat, _ in configs for k in flat}
        configs = [({**{k: v for k, v in _defaults(g).items() if k in given}, **flat}, g)
                   for flat, g in configs]
        for key in dict.fromkeys(k for flat, _ in configs for k in flat):
            lines: dict[str, list] = defaultdict(list)
            for flat, g in configs:
                if _numeric(flat.get(key)):
                    others = {k: v for k, v in flat.items() if k != key}
                    lines[json.dumps(others, sort_keys=True)].append((float(flat[key]), g))
            for others, points in lines.items():
                if len({x for x, _ in points}) >= 2:
                    fixed = ", ".join(f"{k}={config_value(v)}"
                                      for k, v in json.loads(others).items())
                    out[key].append((optimizer, fixed, sorted(points, key=lambda p: p[0])))
    return dict(out)


def _defaults(rows) -> dict[str, object]:
    """The numeric hyperparameters the runs of one configuration recorded, defaults included
    (``optimizer_resolved``); none where they were not recorded (an older results folder)."""
    recorded = [t for t in rows.get("optimizer_resolved", ()) if isinstance(t, str) and t]
    if not recorded:
        return {}
    return {k: v for k, v in flatten(json.loads(recorded[0])).items() if _numeric(v)}


def sensitivity_figure(view: ProblemView) -> tuple[Drawn | None, list[str]]:
    sweeps = swept(view)
    if not sweeps:
        return None, [f"{view.label}: no optimizer was swept over a numeric hyperparameter, "
                      "so no sensitivity plot", *_not_on_a_line(view, {})]
    runs = view.runs
    if not (~runs["status"].isin(FAILED) & np.isfinite(runs["f_final"])).any():
        return None, [f"{view.label}: every run failed, so no sensitivity plot"]
    notes = []
    keys = list(sweeps)
    if len(keys) > MAX_PANELS:
        notes.append(f"{view.label}: sensitivity drawn for {', '.join(keys[:MAX_PANELS])}; "
                     f"left out {', '.join(keys[MAX_PANELS:])}")
        keys = keys[:MAX_PANELS]
    notes += _not_on_a_line(view, {k: sweeps[k] for k in keys})
    fig, axes = new_figure(4.3 * len(keys) + 1.0, 4.4, ncols=len(keys))
    handles, styles = {}, defaultdict(dict)  # a line style per line of one colour
    for ax, key in zip(axes, keys, strict=True):
        lines = sweeps[key]
        for i, (optimizer, fixed, points) in enumerate(lines):
            label = wrap(f"{optimizer} ({fixed})" if fixed else optimizer)
            own = styles[optimizer]
            ls = own.setdefault(label, LINESTYLES[len(own) % len(LINESTYLES)])
            dodge = (i - (len(lines) - 1) / 2) * DODGE
            handles.setdefault(label, _draw_line(ax, view, optimizer, points, (ls, dodge), label))
        _x_axis(ax, key, [x for *_, pts in sweeps[key] for x, _ in pts])
    handles.update(_extras(axes, view))
    log = _y_log(axes)
    for ax in axes:
        ax.set_yscale("log" if log else "linear")
        plain_log_ticks(ax, "y")
        plain_log_ticks(ax, "x")
    axes[0].set_ylabel(_ylabel(view, log))
    over = "one seed" if view.seeds == 1 else f"median over {view.seeds} seeds, 25–75% band"
    fig.suptitle(view.title(f"final value against each swept hyperparameter ({over})"), y=1.02)
    legend_outside(axes[-1], handles=list(handles.values()))
    own = (" Each run's final f − f* is against its own f* (its problem instance's)."
           if view.has_f_opt and view.per_run_optimum else "")
    caption = ("Final value of each run against the hyperparameter on the x-axis, the others "
               "held at the values in the legend: the line is the median over the seeds that did "
               "not fail, the band their 25–75% range, dots the seeds, crosses at the top count "
               f"failed runs.{own}")
    return Drawn(fig, f"sensitivity-{view.slug}", "Hyperparameter sensitivity", caption,
                 view.label), notes


def _not_on_a_line(view: ProblemView, drawn: dict) -> list[str]:
    """A note per optimizer with several configurations some of which no drawn line holds."""
    on_a_line = {g["optimizer_params"].iloc[0] for lines in drawn.values()
                 for *_, points in lines for _, g in points}
    notes = []
    for optimizer, rows in view.runs.groupby("optimizer", sort=False):
        configs = dict(zip(rows["optimizer_params"], rows["optimizer_label"], strict=True))
        missing = [label for params, label in configs.items() if params not in on_a_line]
        if len(configs) < 2 or not missing:
            continue
        schedules = sorted({k for params in configs if params not in on_a_line
                            for k, v in json.loads(params).items() if isinstance(v, dict)})
        verb = "is a schedule" if len(schedules) == 1 else "are schedules"
        why = (f"their {' and '.join(schedules)} {verb} (no one value for an x-axis) and "
               if schedules else "")
        notes.append(f"{view.label}: the sensitivity plot leaves out {len(missing)} of "
                     f"{optimizer}'s {len(configs)} configurations ({'; '.join(missing)}): "
                     f"{why}no one numeric hyperparameter varies between them with the others "
                     "held fixed")
    return notes


def _extras(axes, view: ProblemView) -> dict:
    """Value targets as dashed lines, and the legend entries for dots, crosses and targets."""
    from matplotlib.lines import Line2D

    extras = {"seeds": Line2D([], [], color="0.3", marker="o", ms=3, ls="none", alpha=0.5,
                              label="each seed (runs that did not fail)")}
    if any(line.get_marker() == "x" for ax in axes for line in ax.lines):
        extras["failed"] = Line2D([], [], color="0.3", marker="x", mew=2, ls="none",
                                  label=f"failed runs, how many beside\n({', '.join(FAILED)})")
    what = "f − f*" if view.has_f_opt else "f"
    for t in view.targets:
        if view.has_f_opt and t <= 0:
            continue
        for ax in axes:
            ax.axhline(t, color="0.25", ls="--", lw=1.0, zorder=1)
        extras[f"target {t}"] = Line2D([], [], color="0.25", ls="--", lw=1.0,
                                       label=f"target {what} = {compact(t)}")
    return extras


def _final(view: ProblemView, rows) -> tuple[np.ndarray, int]:
    """The final values of the runs that did not fail (f − f*, each run against its own f*,
    where f* is known), and how many failed."""
    ok = ~rows["status"].isin(FAILED) & np.isfinite(rows["f_final"])
    f = rows.loc[ok, "f_final"].to_numpy(dtype=float)
    if view.has_f_opt:
        f = np.maximum(f - rows.loc[ok, "f_opt"].to_numpy(dtype=float), LOG_FLOOR)
        f = f[np.isfinite(f)]  # a run whose f* is not known has no f − f*
    return f, int((~ok).sum())


def _draw_line(ax, view: ProblemView, optimizer: str, points, style: tuple[str, float],
               label: str):
    (ls, dodge), color = style, view.colors[optimizer]
    xs = np.array([x for x, _ in points])
    # seeds' dots shifted a little sideways per line, so lines at the same x do not hide each other
    dots = xs * 10**dodge if xs.min() > 0 else xs + dodge * (np.ptp(xs) or 1.0)
    finals = [_final(view, rows) for _, rows in points]
    width = max(len(f) for f, _ in finals) or 1
    table = np.full((len(points), width), np.nan)
    for i, (f, _) in enumerate(finals):
        table[i, : len(f)] = f
        ax.plot(np.full(len(f), dots[i]), f, "o", ms=3, color=color, alpha=0.45, zorder=2)
    median, q25, q75 = quartiles(table.T)
    (line,) = ax.plot(xs, median, ls=ls, marker="D", ms=4, lw=1.8, color=color, zorder=3,
                      label=label)
    ax.fill_between(xs, q25, q75, color=color, alpha=0.15, lw=0)
    failed = [(x, n) for x, (_, n) in zip(xs, finals, strict=True) if n]
    for x, n in failed:
        ax.plot(x, 0.97, marker="x", color=color, ms=8, mew=2,
                transform=ax.get_xaxis_transform(), clip_on=False, zorder=5)
        ax.annotate(str(n), (x, 0.97), xycoords=ax.get_xaxis_transform(),
                    xytext=(5, -3), textcoords="offset points", fontsize=7, color=color)
    return line


def _x_axis(ax, key: str, xs: list[float]) -> None:
    log_x = min(xs) > 0 and max(xs) / min(xs) >= 10  # a learning rate grid spans decades
    ax.set_xscale("log" if log_x else "linear")
    ax.set_xlabel(f"{key} ({'log scale' if log_x else 'linear scale'})")
    ax.set_title(key)


def _y_log(axes) -> bool:
    """Log y only when the values span a decade: a narrow range reads better linear."""
    ys = np.concatenate([line.get_ydata() for ax in axes for line in ax.lines
                         if line.get_marker() != "x"])
    ys = ys[np.isfinite(ys)]
    return bool(len(ys)) and ys.min() > 0 and ys.max() / ys.min() >= 10


def _ylabel(view: ProblemView, log: bool) -> str:
    what = "final f(x) − f*" if view.has_f_opt else "final f(x) (no known minimum f*)"
    return f"{what}{' (log scale)' if log else ''}"
