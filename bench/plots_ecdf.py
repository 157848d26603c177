"""ECDFs of evaluations to target, as COCO draws them (Hansen et al., "COCO: a platform for
comparing continuous optimizers in a black-box setting", 2021).

Each run contributes one (run, target) pair per precision 1e-1, 10^-1.2, …, 1e-8 (the runner's
ladder, five per decade: 36 targets); a pair counts as reached from the first evaluation at which
f − f* fell below that precision. The curve is the fraction of pairs reached against evaluations.
Over all problems the evaluations are divided by the dimension, as COCO aggregates.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .plots import FAINT_ALPHA, FigureFile, ProblemView, legend_outside, new_figure, save, wrap

HARDEST, EASIEST = 1e-8, 1e-1
PER_DECADE = 5


def _key(precision: float) -> int:
    return round(-PER_DECADE * math.log10(precision))


TARGET_KEYS = frozenset(range(_key(EASIEST), _key(HARDEST) + 1))
TARGETS_TEXT = f"f − f* ≤ 1e-1 … 1e-8 ({len(TARGET_KEYS)} targets per run)"


def reached(hits: list[tuple[float, int, float]]) -> list[int]:
    """Evaluations at which each of the ECDF's targets was first reached by one run."""
    return [int(e) for p, e, _ in hits if p > 0 and _key(p) in TARGET_KEYS]


def ecdf_points(evals: list[float], pairs: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted evaluations and the fraction of ``pairs`` reached at each."""
    x = np.sort(np.asarray(evals, dtype=float))
    return x, np.arange(1, len(x) + 1) / max(pairs, 1)


def ecdf_figure(view: ProblemView, hits: dict, folder: Path, ext: str) -> FigureFile:
    """The ECDF of one problem with a known f*: a line per configuration."""
    fig, (ax,) = new_figure()
    end = max(float(view.runs["n_eval"].max()), 1.0)
    lines = []
    for optimizer, label, rows in view.configurations():
        evals = [e for rid in rows["run_id"] for e in reached(hits.get(rid, []))]
        lines.append((optimizer, label, evals, len(rows) * len(TARGET_KEYS),
                      float(rows["n_eval"].max()), view.is_best(optimizer, label)))
    handles = _draw(ax, lines, view.colors, start=1.0, end=end)
    ax.set(xscale="log", xlabel="function evaluations (log scale)",
           ylabel="fraction of (run, target) pairs reached", ylim=(-0.02, 1.02),
           title=view.title(f"ECDF of evaluations to reach {TARGETS_TEXT}"))
    legend_outside(ax, handles=handles, title="bold: best configuration of each optimizer")
    path = save(fig, folder / f"ecdf-{view.slug}.{ext}")
    caption = (f"For each configuration, the fraction of (run, target) pairs with {TARGETS_TEXT} "
               "reached within the evaluations on the x-axis; a cross marks the largest "
               "budget its runs used.")
    return FigureFile(path, "ECDF of evaluations to target", caption, view.label)


def ecdf_all_figure(views: list[ProblemView], hits: dict, colors: dict[str, str],
                    folder: Path, ext: str) -> FigureFile:
    """The ECDF over every problem with a known f*, evaluations divided by dimension."""
    import pandas as pd

    runs = pd.concat([v.runs for v in views])
    fig, (ax,) = new_figure()
    lines = []
    for (optimizer, label), rows in runs.groupby(["optimizer", "optimizer_label"], sort=False):
        evals = [e / dim for rid, dim in zip(rows["run_id"], rows["dim"], strict=True)
                 for e in reached(hits.get(rid, []))]
        budget = float((rows["n_eval"] / rows["dim"]).max())
        lines.append([optimizer, label, evals, len(rows) * len(TARGET_KEYS), budget, False])
    _mark_largest_area(lines)
    end = max(line[4] for line in lines)
    start = min(1.0 / max(v.dim for v in views), 1.0)
    handles = _draw(ax, lines, colors, start=start, end=end)
    names = ", ".join(v.label for v in views)
    ax.set(xscale="log", xlabel="function evaluations / dimension (log scale)",
           ylabel="fraction of (run, target) pairs reached", ylim=(-0.02, 1.02),
           title=f"{len(views)} problem{'s' if len(views) > 1 else ''} with a known f*\n"
                 f"ECDF of evaluations / dimension to reach {TARGETS_TEXT}")
    legend_outside(ax, handles=handles, title="bold: largest area of each optimizer")
    path = save(fig, folder / f"ecdf-all-problems.{ext}")
    caption = (f"Pairs (run, target) over {names}, evaluations divided by the problem's "
               "dimension; bold is the configuration of each optimizer with the largest area "
               "under its curve (on the log axis), faint its others.")
    return FigureFile(path, "ECDF over all problems", caption, None)


def _mark_largest_area(lines: list[list]) -> None:
    grid = np.geomspace(1e-3, max(max(line[4] for line in lines), 1e-3 * 1.01), 200)
    best: dict[str, tuple[float, int]] = {}
    for i, (optimizer, _, evals, pairs, *_rest) in enumerate(lines):
        x = np.sort(np.asarray(evals, dtype=float))
        area = float(np.mean(np.searchsorted(x, grid, side="right") / max(pairs, 1)))
        if optimizer not in best or area > best[optimizer][0]:
            best[optimizer] = (area, i)
    for _, i in best.values():
        lines[i][5] = True


def _draw(ax, lines, colors: dict[str, str], start: float, end: float) -> list:
    from matplotlib.lines import Line2D

    handles, faint = [], False
    lines = sorted(lines, key=lambda line: line[5])  # bold ones on top
    for optimizer, label, evals, pairs, budget, bold in lines:
        x, y = ecdf_points(evals, pairs)
        x = np.concatenate([[start], x, [max(budget, x[-1] if len(x) else start)]])
        y = np.concatenate([[0.0], y, [y[-1] if len(y) else 0.0]])
        color = colors[optimizer]
        style = {"lw": 2.2, "zorder": 3} if bold else {"lw": 0.9, "alpha": FAINT_ALPHA}
        ax.step(x, y, where="post", color=color, **style)
        ax.plot([x[-1]], [y[-1]], marker="x", color=color, ms=7 if bold else 4,
                alpha=1 if bold else FAINT_ALPHA, ls="none")
        if bold:
            handles.append(Line2D([], [], color=color, lw=2.2, label=wrap(label)))
        faint |= not bold
    if faint:
        handles.append(Line2D([], [], color="0.4", lw=0.9, alpha=FAINT_ALPHA,
                              label="other configurations (faint,\ncoloured by optimizer)"))
    handles.append(Line2D([], [], color="0.3", marker="x", ls="none", label="largest budget used"))
    ax.set_xlim(start * 0.9, end * 1.1)
    return handles
