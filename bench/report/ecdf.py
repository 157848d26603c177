"""ECDFs of evaluations to target, as COCO draws them (Hansen et al., "COCO: a platform for
comparing continuous optimizers in a black-box setting", 2021).

Each run contributes one (run, target) pair per precision 1e-1, 10^-1.2, …, 1e-8 (the runner's
ladder, five per decade: 36 targets); a pair counts as reached from the first evaluation at which
f − f* fell below that precision. The curve is the fraction of pairs reached against evaluations.
Over all problems the evaluations are divided by the dimension, as COCO aggregates.

A run that stopped at its value target (``stop_at_target``, the default) can never reach the
precisions below that target, so its ladder is cut there: the curve can then reach 1, and its
ceiling means "every target these runs could reach", not an artefact of the stopping rule.

Each run's precisions are on f − f* against its own f* (the runner records when each was
reached). The bold line of each optimizer is the table's best configuration of it (one
definition of "best" for table, curves and ECDF); over all problems, the one the table marks
best on the most problems.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from optbench.bench.report.figures import (
    FAINT_ALPHA,
    Drawn,
    ProblemView,
    finite_max,
    legend_outside,
    new_figure,
    plain_log_ticks,
    wrap,
)
from optbench.bench.report.order import natural_key

HARDEST, EASIEST = 1e-8, 1e-1
PER_DECADE = 5


def _key(precision: float) -> int:
    return round(-PER_DECADE * math.log10(precision))


def precision(key: int) -> float:
    return 10.0 ** (-key / PER_DECADE)


TARGET_KEYS = frozenset(range(_key(EASIEST), _key(HARDEST) + 1))
TARGETS_TEXT = f"f − f* ≤ 1e-1 … 1e-8 ({len(TARGET_KEYS)} targets per run)"


def _p(x: float) -> str:
    """1e-1, 6.3e-4: the ladder's precisions as the text names them."""
    return re.sub(r"e([+-])0(\d)", r"e\1\2", f"{x:.1e}".replace(".0e", "e"))


def ladder(target_value: float | None, stop_at_target: bool) -> frozenset[int]:
    """The ECDF's precisions a run can reach: all 36, or, when it stopped at its value target,
    those at or above that target (the ones below it it was never allowed to reach)."""
    if not stop_at_target or target_value is None or not math.isfinite(target_value):
        return TARGET_KEYS
    return frozenset(k for k in TARGET_KEYS if precision(k) >= target_value * (1 - 1e-9))


def reached(hits: list[tuple[float, int, float]], keys=TARGET_KEYS) -> list[int]:
    """Evaluations at which each of the ECDF's targets (``keys``) was first reached by one run."""
    return [int(e) for p, e, _ in hits if p > 0 and _key(p) in keys]


@dataclass
class Line:
    """One configuration's ECDF: the evaluations at which its pairs were reached, of ``pairs``."""

    optimizer: str
    label: str
    evals: np.ndarray
    pairs: int
    budget: float  # the largest budget its runs used (NaN when none reported one)
    bold: bool = False

    def fractions(self, at) -> np.ndarray:
        """The fraction of pairs reached within each of the evaluations ``at``."""
        found = np.searchsorted(np.sort(self.evals), np.asarray(at, dtype=float), side="right")
        return found / max(self.pairs, 1)

    def steps(self, start: float) -> tuple[np.ndarray, np.ndarray]:
        """The step curve as drawn: 0 at ``start``, a step per pair, flat to the budget."""
        x = np.sort(self.evals)
        y = np.arange(1, len(x) + 1) / max(self.pairs, 1)
        end = finite_max([self.budget, x[-1] if len(x) else start], start)
        return (np.concatenate([[start], x, [end]]),
                np.concatenate([[0.0], y, [y[-1] if len(y) else 0.0]]))


def ecdf_lines(views: list[ProblemView], hits: dict, per_dim: bool = False) -> list[Line]:
    """A line per configuration over ``views`` (evaluations / dimension when ``per_dim``)."""
    groups: dict[tuple[str, str], dict[str, list]] = {}
    for view in views:
        dim = max(view.dim, 1) if per_dim else 1
        for optimizer, label, rows in view.configurations():
            g = groups.setdefault((optimizer, label), {"evals": [], "pairs": [], "budget": []})
            for r in rows.itertuples():
                keys = ladder(r.target_value, r.stop_at_target)
                g["evals"] += [e / dim for e in reached(hits.get(r.run_id, []), keys)]
                g["pairs"].append(len(keys))
                g["budget"].append(r.n_eval / dim)
    return [Line(opt, label, np.asarray(g["evals"], dtype=float), sum(g["pairs"]),
                 finite_max(g["budget"], math.nan))
            for (opt, label), g in groups.items()]


def best_over_problems(views: list[ProblemView]) -> dict[str, str]:
    """optimizer -> the configuration the table marks best for it on the most of ``views``
    (ties: the first in natural order of labels)."""
    counts: dict[str, Counter] = {}
    for view in views:
        for optimizer, label in view.best.items():
            counts.setdefault(optimizer, Counter())[label] += 1
    return {opt: min(c, key=lambda label: (-c[label], natural_key(label)))
            for opt, c in counts.items()}


def mark_best(lines: list[Line], best: dict[str, str]) -> None:
    """Bold the line of each optimizer's best configuration (``best``: optimizer -> label)."""
    for line in lines:
        line.bold = best.get(line.optimizer) == line.label


def ladder_text(view: ProblemView) -> tuple[str, str | None]:
    """What the ECDF of ``view`` counts (for its title), and a note when its ladder was cut."""
    runs = view.runs
    ladders = [ladder(t, s) for t, s in zip(runs["target_value"], runs["stop_at_target"],
                                            strict=True)]
    cut = [k for k in ladders if k != TARGET_KEYS]
    if not cut:
        return TARGETS_TEXT, None
    keys = max(set(cut), key=cut.count)
    target = float(runs["target_value"].min())
    share = "" if len(cut) == len(ladders) else f" ({len(cut)} of {len(ladders)} runs)"
    if not keys:
        return (f"f − f* ≤ 1e-1 … 1e-8: none below the value target {target:g}",
                f"{view.label}: runs stopped at the value target f − f* ≤ {target:g}, above "
                "every ECDF precision (1e-1 … 1e-8), so no ECDF")
    text = (f"f − f* ≤ 1e-1 … {_p(precision(max(keys)))} ({len(keys)} targets per run{share};\n"
            f"ladder cut at the value target {target:g}, where runs stopped)")
    note = (f"{view.label}: runs stopped at the value target f − f* ≤ {target:g}{share}, so "
            f"the ECDF counts only the {len(keys)} precisions 1e-1 … {_p(precision(max(keys)))} "
            f"they could reach and leaves out the {len(TARGET_KEYS) - len(keys)} below the "
            "target (set stop_at_target: false to run on and count them)")
    return text, note


def ecdf_figure(view: ProblemView, hits: dict) -> tuple[Drawn | None, list[str]]:
    """The ECDF of one problem with a known f*: a line per configuration."""
    text, note = ladder_text(view)
    notes = [note] if note else []
    lines = ecdf_lines([view], hits)
    if not sum(line.pairs for line in lines):
        return None, notes
    end = finite_max([line.budget for line in lines] + [finite_max(line.evals, 1.0)
                                                         for line in lines], 1.0)
    mark_best(lines, view.best)
    fig, (ax,) = new_figure()
    handles = _draw(ax, lines, view.colors, start=1.0, end=end)
    ax.set(xscale="log", xlabel="function evaluations (log scale)",
           ylabel="fraction of (run, target) pairs reached", ylim=(-0.02, 1.02),
           title=view.title(f"ECDF of evaluations to reach {text}"))
    plain_log_ticks(ax, "x")
    legend_outside(ax, handles=handles, title=BOLD_TITLE)
    own = (" Each run's targets are on f − f* against its own f* (its problem instance's)."
           if view.per_run_optimum else "")
    caption = (f"For each configuration, the fraction of (run, target) pairs with "
               f"{text.replace(chr(10), ' ')} reached within the evaluations on the x-axis; a "
               f"cross marks the largest budget its runs used.{own} {BOLD_CAPTION}")
    return Drawn(fig, f"ecdf-{view.slug}", "ECDF of evaluations to target", caption,
                 view.label), notes


BOLD_TITLE = "bold: best configuration of each optimizer"
BOLD_CAPTION = ("Bold is each optimizer's best configuration as the table ranks them (the one "
                "definition of best, as in the convergence curves), faint its others.")


def ecdf_all_figure(views: list[ProblemView], hits: dict, colors: dict[str, str]) -> Drawn:
    """The ECDF over every problem with a known f*, evaluations divided by dimension."""
    lines = ecdf_lines(views, hits, per_dim=True)
    start = min(1.0 / max(v.dim for v in views), 1.0)
    end = finite_max([line.budget for line in lines] + [finite_max(line.evals, start)
                                                         for line in lines], 1.0)
    mark_best(lines, best_over_problems(views))
    fig, (ax,) = new_figure()
    handles = _draw(ax, lines, colors, start=start, end=end)
    cut = [v for v in views if ladder_text(v)[1]]
    what = ("f − f* ≤ 1e-1 … 1e-8, each problem's ladder cut at its value target where runs "
            "stopped there" if cut else TARGETS_TEXT)
    ax.set(xscale="log", xlabel="function evaluations / dimension (log scale)",
           ylabel="fraction of (run, target) pairs reached", ylim=(-0.02, 1.02),
           title=f"{len(views)} problems with a known f*\n"
                 f"ECDF of evaluations / dimension to reach\n{what}")
    plain_log_ticks(ax, "x")
    legend_outside(ax, handles=handles, title=BOLD_TITLE)
    counts = "; ".join(f"{v.label}: {ladder_text(v)[0].split(' (')[0]}" for v in views)
    caption = (f"Pairs (run, target) over every problem with a known f*, evaluations divided by "
               f"the problem's dimension; the targets per problem are {counts}. Bold is each "
               "optimizer's configuration that the table marks best on the most problems "
               "(ties: label order), faint its others.")
    return Drawn(fig, "ecdf-all-problems", "ECDF over all problems", caption, None)


def _draw(ax, lines: list[Line], colors: dict[str, str], start: float, end: float) -> list:
    from matplotlib.lines import Line2D

    handles, faint = [], False
    # bold ones on top; the rest in natural order
    for line in sorted(lines, key=lambda line: (line.bold, natural_key(line.optimizer),
                                                natural_key(line.label))):
        x, y = line.steps(start)
        color = colors[line.optimizer]
        style = {"lw": 2.2, "zorder": 3} if line.bold else {"lw": 0.9, "alpha": FAINT_ALPHA}
        ax.step(x, y, where="post", color=color, label=line.label, **style)
        ax.plot([x[-1]], [y[-1]], marker="x", color=color, ms=7 if line.bold else 4,
                alpha=1 if line.bold else FAINT_ALPHA, ls="none")
        if line.bold:
            none = "" if len(line.evals) else " (reached no target)"
            handles.append(Line2D([], [], color=color, lw=2.2, label=wrap(line.label + none)))
        faint |= not line.bold
    if faint:
        handles.append(Line2D([], [], color="0.4", lw=0.9, alpha=FAINT_ALPHA,
                              label="other configurations (faint,\ncoloured by optimizer)"))
    handles.append(Line2D([], [], color="0.3", marker="x", ls="none", label="largest budget used"))
    ax.set_xlim(start * 0.9, end * 1.1)
    return handles
