"""Dolan–Moré performance profiles: on what fraction of the problems is a method within a factor
τ of the best method's evaluations to target?

For problem p and method m with cost t(p, m) (evaluations to target; ∞ when m missed it), the
ratio is r(p, m) = t(p, m) / min over methods of t(p, ·), and ∞ when m missed or when every
method missed p. The profile of m is ρ_m(τ) = |{p : r(p, m) ≤ τ}| / (number of problems), a
step function from τ = 1 on: ρ_m(1) is the fraction of problems where m was (one of) the fastest,
and a method that missed a problem never counts it, however large τ.

E. D. Dolan and J. J. Moré, "Benchmarking optimization software with performance profiles",
Mathematical Programming 91 (2002), 201–213.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from optbench.bench.report.figures import FigureFile, legend_outside, new_figure, save, wrap

INF = math.inf
TAU_MIN_RIGHT = 4.0  # the axis always reaches τ = 4


def ratios(times: Mapping[str, Mapping[str, float]], methods: Sequence[str]
           ) -> dict[str, dict[str, float]]:
    """problem -> method -> r(p, m); a method without a cost on a problem missed it."""
    out = {}
    for problem, costs in times.items():
        t = {m: _cost(costs.get(m)) for m in methods}
        finite = [v for v in t.values() if math.isfinite(v)]
        best = min(finite) if finite else INF
        out[problem] = {m: (v / best if math.isfinite(v) and best > 0 else
                            (1.0 if v == 0 else INF)) for m, v in t.items()}
    return out


def _cost(value) -> float:
    if value is None:
        return INF
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else INF


def profile(times: Mapping[str, Mapping[str, float]], methods: Sequence[str],
            taus: Sequence[float]) -> dict[str, np.ndarray]:
    """method -> ρ_m(τ) at each τ of ``taus``."""
    r = ratios(times, methods)
    n = len(r)
    taus = np.asarray(taus, dtype=float)
    return {m: np.array([sum(r[p][m] <= tau for p in r) / n if n else 0.0 for tau in taus])
            for m in methods}


def tau_max(times, methods) -> float:
    """The right end of the τ axis: 4, or a little past the largest finite ratio."""
    finite = [v for row in ratios(times, methods).values() for v in row.values()
              if math.isfinite(v)]
    return max(TAU_MIN_RIGHT, 1.25 * max(finite, default=1.0))


def sweep_times(runs, method_of=None) -> dict[str, dict[str, float]]:
    """problem -> method -> median evaluations to target over its runs (seeds), a run that
    missed counting ∞; problems without a target are left out. ``method_of(row)`` names a
    run's method (default: its optimizer configuration label)."""
    out: dict[str, dict[str, list[float]]] = {}
    for row in runs.to_dict("records"):
        if not row.get("has_target"):
            continue
        method = method_of(row) if method_of else row["optimizer_label"]
        if method is None:
            continue
        hit = bool(row["target_hit"]) and row["fev_to_target"] is not None and \
            math.isfinite(float(row["fev_to_target"]))
        cost = float(row["fev_to_target"]) if hit else INF
        out.setdefault(row["problem_label"], {}).setdefault(method, []).append(cost)
    return {p: {m: float(np.median(v)) for m, v in costs.items()} for p, costs in out.items()}


def profile_figure(times: Mapping[str, Mapping[str, float]], methods: Sequence[str],
                   styles: Mapping[str, dict], path: Path, what: str) -> FigureFile:
    """The profiles of ``methods`` drawn as steps on a log2 τ axis from 1."""
    top = tau_max(times, methods)
    r = ratios(times, methods)
    n = len(r)
    fig, (ax,) = new_figure(7.5, 4.2)
    for m in methods:
        points = sorted(v for row in r.values() for v in [row[m]] if math.isfinite(v))
        x = [1.0, *points, top]
        y = [sum(p <= 1.0 for p in points) / n]
        y += [sum(p <= v for p in points) / n for v in points] + [len(points) / n]
        ax.step(x, y, where="post", label=wrap(m, 40), **styles.get(m, {}))
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xscale("log", base=2)
    ax.set_xlim(1.0, top)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("τ: within this factor of the best method's evaluations to target")
    ax.set_ylabel(f"fraction of the {n} problem{'s' * (n != 1)}")
    ax.set_title(f"Performance profile: {what}")
    legend_outside(ax)
    caption = (f"Dolan–Moré performance profile over {n} problem{'s' * (n != 1)}: for each "
               "method, the fraction of problems on which its evaluations to target (median "
               "over seeds, a missed run counting as never) were within a factor τ of the "
               "fastest method's. At τ = 1: how often it was the fastest; a curve that stays "
               "below 1 missed the target on the remaining problems.")
    return FigureFile(save(fig, path), "Performance profile", caption, None)
