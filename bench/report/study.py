"""The report of tuning studies, and performance profiles for sweeps.

Read from the results folder alone: ``tune.json`` (settings; per study its best configuration
and the held-out runs of it and of the defaults) and ``trials.csv`` (one row per trial), both
written by ``optbench tune``; the held-out runs are the folder's runs. Figures:

- best-so-far: the lowest score after each trial, per optimizer;
- tuned against defaults: held-out scores side by side, per optimizer;
- sensitivity: each trial's score against each sampled hyperparameter;
- performance profiles (``profiles.py``) of the tuned and default configurations, from the
  held-out runs; for a plain sweep with targets on two or more problems, of its configurations.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from optbench.bench.formatting import compact
from optbench.bench.report.figures import (
    FigureFile,
    legend_outside,
    new_figure,
    optimizer_colors,
    save,
    slug,
)
from optbench.bench.report.profiles import profile_figure, sweep_times

MAX_PARAMS = 16
PER_ROW = 4


def load_study(root: Path):
    """(tune.json as a dict, trials as a DataFrame), or None for a folder without studies."""
    import pandas as pd

    doc, table = root / "tune.json", root / "trials.csv"
    if not doc.is_file() or not table.is_file():
        return None
    return json.loads(doc.read_text()), pd.read_csv(table)


def study_figures(results, folder: Path, fmt: str) -> tuple[list[FigureFile], list[str]]:
    """Every study figure and profile that applies, and a note for each that does not."""
    figures, notes = [], []
    loaded = load_study(results.root)
    colors = optimizer_colors(list(dict.fromkeys(results.runs["optimizer"])))

    def add(what: str, draw, *args) -> None:
        try:
            got = draw(*args)
        except Exception as e:
            notes.append(f"{what} could not be drawn ({type(e).__name__}: {e})")
            return
        figures.extend(got if isinstance(got, list) else [got])

    if loaded is None:
        problems = sweep_times(results.runs)
        if len(problems) >= 2:
            add("performance profile", _sweep_profile, results, problems, folder, fmt, colors)
        else:
            notes.append("fewer than two problems with a target, so no performance profile")
        return figures, notes
    doc, trials = loaded
    colors.update(optimizer_colors([s["optimizer"] for s in doc["studies"]]))
    add("best score so far", best_so_far_figure, doc, trials, folder, fmt, colors)
    add("tuned against defaults", tuned_figure, doc, folder, fmt, colors)
    taken: set[str] = set()
    for s in doc["studies"]:
        add(f"{s['study']}: sensitivity", sensitivity_figure, s, doc, trials, folder, fmt,
            colors, taken)
    add("performance profile", _tune_profile, results, doc, folder, fmt, colors)
    return figures, notes


def _objective_text(doc) -> str:
    s = doc["settings"]
    if s["objective"] == "evals_to_target":
        return (f"evaluations to target, mean over the tuning seeds; a miss costs "
                f"{compact(s['penalty'])} × {s['evaluations']} evaluations plus up to one budget "
                "more by how many decades it stayed above the target")
    return "best f, mean over the tuning seeds"


def _budget_text(doc) -> str:
    asked = {s["optimizer"]: s["trials_asked"] for s in doc["studies"]}
    if len(set(asked.values())) == 1:
        return f"Every optimizer had {next(iter(asked.values()))} trials (equal budgets)."
    return ("Trials per optimizer differ (unequal tuning budgets): " +
            ", ".join(f"{k} {v}" for k, v in asked.items()) + ".")


def best_so_far_figure(doc, trials, folder: Path, fmt: str, colors) -> list[FigureFile]:
    out = []
    for problem in dict.fromkeys(s["problem_label"] for s in doc["studies"]):
        fig, (ax,) = new_figure(8.0, 4.4)
        for s in (s for s in doc["studies"] if s["problem_label"] == problem):
            rows = trials[(trials["study"] == s["study"])].sort_values("number")
            values = np.where(rows["state"] == "complete", rows["value"].astype(float), np.inf)
            best = np.minimum.accumulate(values) if len(values) else values
            shown = np.isfinite(best)
            ax.step(rows["number"].to_numpy()[shown] + 1, best[shown], where="post",
                    color=colors.get(s["optimizer"]), label=s["study"].split(" · ", 1)[-1])
        settings = doc["settings"]
        if settings["objective"] == "evals_to_target":
            miss = settings["penalty"] * settings["evaluations"]
            ax.axhline(miss, color="0.4", ls=":", lw=1)
            ax.annotate("a miss costs at least this", (1, miss), fontsize=7, color="0.3",
                        va="bottom")
            ax.set_ylabel("best score so far (evaluations to target)")
        else:
            ax.set_ylabel("best score so far (best f)")
        _log_if_positive(ax, trials["value"])
        ax.set_xlabel("trials")
        ax.set_title(f"{problem}\nbest score so far against trials")
        legend_outside(ax, title="optimizer")
        path = folder / f"tune-best-so-far-{slug(problem, set())}.{fmt}"
        out.append(FigureFile(save(fig, path), "Best score so far",
                              f"Lowest score after each trial ({_objective_text(doc)}). "
                              f"{_budget_text(doc)}", problem))
    return out


def tuned_figure(doc, folder: Path, fmt: str, colors) -> list[FigureFile]:
    out = []
    for problem in dict.fromkeys(s["problem_label"] for s in doc["studies"]):
        studies = [s for s in doc["studies"] if s["problem_label"] == problem]
        fig, (ax,) = new_figure(8.0, 0.9 + 0.55 * len(studies))
        for y, s in enumerate(studies):
            tuned, default = s.get("tuned") or {}, s.get("default") or {}
            color = colors.get(s["optimizer"])
            xs = [d.get("score") for d in (default, tuned)]
            if all(x is not None for x in xs):
                ax.plot(xs, [y, y], color=color, lw=1, alpha=0.6)
            for d, marker, name in ((default, "x", "defaults"), (tuned, "o", "tuned")):
                if d.get("score") is not None:
                    ax.plot([d["score"]], [y], marker, color=color, ms=8,
                            label=name if y == 0 else None)
                    ax.annotate(f"{d['hits']}/{d['runs']}", (d["score"], y),
                                textcoords="offset points", xytext=(0, 7), ha="center",
                                fontsize=7)
        ax.set_yticks(range(len(studies)), [s["study"].split(" · ", 1)[-1] for s in studies])
        ax.set_ylim(-0.7, len(studies) - 0.3)
        _log_if_positive(ax, [d.get("score") for s in studies
                              for d in (s.get("tuned") or {}, s.get("default") or {})], "x")
        ax.set_xlabel("held-out score (lower is better); label: runs that reached the target")
        ax.set_title(f"{problem}\ntuned (o) against defaults (x) on the held-out seeds")
        legend_outside(ax)
        held = ", ".join(str(x) for x in doc["settings"]["held_out"])
        path = folder / f"tune-vs-defaults-{slug(problem, set())}.{fmt}"
        out.append(FigureFile(
            save(fig, path), "Tuned against defaults",
            f"Each optimizer's best configuration (o) and its defaults (x), re-run on the "
            f"held-out seeds {held}: score = {_objective_text(doc).replace('tuning', 'held-out')}"
            f". {_budget_text(doc)}", problem))
    return out


def sensitivity_figure(study, doc, trials, folder: Path, fmt: str, colors, taken
                       ) -> list[FigureFile]:
    rows = trials[(trials["study"] == study["study"]) & (trials["state"] == "complete")]
    if rows.empty:
        return []
    params = [json.loads(p) for p in rows["params"]]
    names = sorted(dict.fromkeys(k for p in params for k in p),
                   key=lambda k: (k.count("."), k.split(".")[:2]))[:MAX_PARAMS]
    if not names:
        return []
    cols = min(len(names), PER_ROW)
    fig, axes = _grid(len(names), cols)
    values = rows["value"].astype(float).to_numpy()
    color = colors.get(study["optimizer"])
    for ax, name in zip(axes, names, strict=False):
        xs = [p.get(name) for p in params]
        shown = [i for i, x in enumerate(xs) if x is not None]
        numeric = all(isinstance(xs[i], int | float) and not isinstance(xs[i], bool)
                      for i in shown)
        if numeric:
            x = np.array([float(xs[i]) for i in shown])
            ax.plot(x, values[shown], "o", ms=3.5, alpha=0.7, color=color)
            if len(x) and x.min() > 0 and x.max() / x.min() > 100:
                ax.set_xscale("log")
        else:
            cats = list(dict.fromkeys(str(xs[i]) for i in shown))
            jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(shown))
            pos = np.array([cats.index(str(xs[i])) for i in shown]) + jitter
            ax.plot(pos, values[shown], "o", ms=3.5, alpha=0.7, color=color)
            ax.set_xticks(range(len(cats)), cats, rotation=30, fontsize=7)
        ax.set_xlabel(f"{name} ({len(shown)} trials)", fontsize=8)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    _log_if_positive(axes[0], values)  # the axes share y
    for ax in axes[::cols]:
        ax.set_ylabel("trial score")
    fig.suptitle(f"{study['study']}: each trial's score against its sampled values", fontsize=9)
    path = folder / f"tune-sensitivity-{slug(study['study'], taken)}.{fmt}"
    return [FigureFile(save(fig, path), "Sensitivity (trials)",
                       f"Each complete trial of {study['optimizer']} as a dot ({len(rows)} "
                       f"trials; score: {_objective_text(doc)}). A schedule family's parameters "
                       "(lr.cosine.steps, ...) exist only in the trials that drew it.",
                       study["problem_label"])]


def _grid(n: int, cols: int):
    """A figure of n panels, ``cols`` to a row, sharing the y axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = -(-n // cols)
    fig = Figure(figsize=(2.9 * cols, 2.7 * rows + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, list(fig.subplots(rows, cols, squeeze=False, sharey=True).flat)


def _tune_profile(results, doc, folder: Path, fmt: str, colors) -> FigureFile:
    role = {}
    for s in doc["studies"]:
        name = s["study"].split(" · ", 1)[-1]
        for rid in s["default_run_ids"]:
            role[rid] = f"{name} defaults"
        for rid in s["tuned_run_ids"]:  # tuned last: a best that is the defaults is "tuned"
            role[rid] = f"{name} tuned"
    times = sweep_times(results.runs, lambda row: role.get(row["run_id"]))
    methods, styles = [], {}
    for s in doc["studies"]:
        name = s["study"].split(" · ", 1)[-1]
        for kind, ls in (("tuned", "-"), ("defaults", "--")):
            m = f"{name} {kind}"
            if m not in methods:
                methods.append(m)
                styles[m] = {"color": colors.get(s["optimizer"]), "ls": ls}
    return profile_figure(times, methods, styles, folder / f"profile-tuned.{fmt}",
                          "tuned and default configurations, held-out runs")


def _sweep_profile(results, times, folder: Path, fmt: str, colors) -> FigureFile:
    runs = results.runs
    methods = list(dict.fromkeys(runs["optimizer_label"]))
    optimizer = dict(zip(runs["optimizer_label"], runs["optimizer"], strict=True))
    styles, seen = {}, {}
    for m in methods:
        k = seen[optimizer[m]] = seen.get(optimizer[m], -1) + 1
        styles[m] = {"color": colors.get(optimizer[m]), "ls": ("-", "--", ":", "-.")[k % 4]}
    return profile_figure(times, methods, styles, folder / f"profile-configurations.{fmt}",
                          "every optimizer configuration")


def _log_if_positive(ax, values, axis: str = "y") -> None:
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[np.isfinite(v)]
    if len(v) and v.min() > 0 and (v.max() / v.min() > 20 or math.isclose(v.min(), v.max())):
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
