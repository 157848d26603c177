"""COCO's measures of a results folder: ERT per target, ECDFs over functions and function groups,
and ERT against dimension (Hansen et al., "COCO: a platform for comparing continuous optimizers
in a black-box setting", Optimization Methods and Software 36(1), 2021).

Targets are COCO's 51 precisions Δf = 10^2, 10^1.8, …, 10^-8 on f − f*: the runner's ladder,
whose first hit (the evaluation count at which f − f* first fell below Δf) every run stores in
``runs/<id>.json`` under "hits". Only problems with a known f* have them.

ERT, the expected running time (Price 1997; Auger & Hansen 2005), of a configuration (a problem
with its parameters and an optimizer configuration, over all its seeds: for bbob with a null
instance, over instances seed + 1) at target Δf:

    ERT(Δf) = Σ_runs evaluations_i(Δf) / #{runs that reached Δf}

with evaluations_i(Δf) the evaluation of run i's hit when it reached Δf, and otherwise every
evaluation it made (its stored n_eval), failed runs (diverged, nan, error) included. A run killed
at its time limit records no count and is charged its whole evaluation budget. ERT is infinite
when no run reached Δf. A run that stopped at a value target above Δf (``stop_at_target``) was
never allowed to reach Δf and is left out of ERT(Δf) and of the ECDFs' pairs at Δf.

ECDFs aggregate (run, Δf) pairs over the 51 targets and over bbob functions, for all functions
and per group (separable, moderate, ill-conditioned, multi-modal, weakly structured), one figure
per dimension, with evaluations divided by the dimension as COCO draws them. The scaling figure
draws ERT / dimension against dimension for each problem family swept over ``dim``.

Like the rest of the report this reads the results folder only (the JSON of each run).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from optbench._coco import FUNCTIONS, GROUPS, group_of
from optbench.bench.report.figures import FigureFile, legend_outside, new_figure, save, wrap
from optbench.bench.results.store import Store
from optbench.bench.sweep.spec import label

TARGETS = 51  # Δf = 10^(2 − k/5), k = 0..50
TABLE_PRECISIONS = (1e1, 1e0, 1e-1, 1e-3, 1e-5, 1e-8)  # the columns of ert.md
SCALING_PRECISIONS = (1e-1, 1e-8)  # dashed, solid


def precision(key: int) -> float:
    """Δf of target ``key`` (0: 1e2 … 50: 1e-8), computed as the runner's ladder computes it."""
    return 10.0 ** (2 - 0.2 * key)


def target_key(delta_f: float) -> int:
    return round((2 - math.log10(delta_f)) * 5)


@dataclass(frozen=True)
class CocoRun:
    """One stored run as COCO's measures see it."""

    run_id: str
    problem: str
    params: dict[str, Any]
    label: str  # the problem's label in tables and figures
    optimizer: str
    config: str  # the optimizer configuration's label
    seed: int
    dim: int
    status: str
    charged: int  # evaluations an unsuccessful run adds to ERT
    reached: dict[int, int]  # target key -> evaluations at its first hit
    keys: frozenset[int]  # the targets the run could reach

    @property
    def function(self) -> int | None:
        """The bbob function number, or None for another problem."""
        return self.params.get("function", 1) if self.problem == "bbob" else None

    @property
    def family(self) -> tuple[str, str]:
        """(problem, its parameters but dim): what a sweep over dimensions varies along."""
        rest = {k: v for k, v in self.params.items() if k != "dim"}
        return self.problem, json.dumps(rest, sort_keys=True)

    def evaluations(self, key: int) -> int:
        """What run adds to ERT at target ``key``: its hit's evaluations, else all it used."""
        return self.reached.get(key, self.charged)


def load_runs(root: str | Path) -> list[CocoRun]:
    """The folder's runs of problems with a known f* (the only ones with hits), runs that
    recorded none (killed from outside) included when their problem's other runs know it."""
    docs = Store(root).load_docs()
    known = {d["summary"]["problem_label"] for d in docs
             if d["summary"].get("f_opt") is not None}
    docs = [d for d in docs if d["summary"]["problem_label"] in known]
    dims: dict[str, int] = {}
    for doc in docs:  # a run killed from outside records no dimension: its problem's other runs
        s = doc["summary"]
        if s.get("dim"):
            dims.setdefault(s["problem_label"], int(s["dim"]))
    runs = []
    for doc in docs:
        s, spec = doc["summary"], doc.get("spec") or {}
        params = json.loads(s["problem_params"] or "{}")
        dim = int(s.get("dim") or dims.get(s["problem_label"]) or params.get("dim") or 0)
        budget = (spec.get("budget") or {}).get("evaluations")
        charged = int(s.get("n_eval") or 0)
        if s["status"] == "timeout" and not charged and budget:
            charged = int(budget)
        runs.append(CocoRun(
            run_id=s["run_id"], problem=s["problem"], params=params, label=s["problem_label"],
            optimizer=s["optimizer"], config=s["optimizer_label"], seed=int(s["seed"]), dim=dim,
            status=s["status"], charged=charged, reached=_reached(doc.get("hits") or ()),
            keys=_reachable(spec),
        ))
    return runs


def _reached(hits) -> dict[int, int]:
    out: dict[int, int] = {}
    for delta_f, evaluations, *_ in hits:
        if delta_f and delta_f > 0:
            out.setdefault(target_key(delta_f), int(evaluations))
    return out


def _reachable(spec: dict[str, Any]) -> frozenset[int]:
    """All 51 targets, or those at or above the value target the run stopped at."""
    value = (spec.get("targets") or {}).get("value")
    if not spec.get("stop_at_target", True) or value is None:
        return frozenset(range(TARGETS))
    return frozenset(k for k in range(TARGETS) if precision(k) >= value * (1 - 1e-9))


# -- ERT ----------------------------------------------------------------------------------------
def ert(runs: list[CocoRun], key: int) -> tuple[float, int, int, int]:
    """(ERT, successes, evaluations summed, runs counted) at target ``key`` over ``runs``."""
    counted = [r for r in runs if key in r.keys]
    total = sum(r.evaluations(key) for r in counted)
    successes = sum(key in r.reached for r in counted)
    return (total / successes if successes else math.inf), successes, total, len(counted)


def configurations(runs: list[CocoRun]) -> dict[tuple[str, str, str], list[CocoRun]]:
    """(problem label, optimizer, configuration) -> its runs, in the folder's order."""
    out: dict[tuple[str, str, str], list[CocoRun]] = defaultdict(list)
    for r in runs:
        out[r.label, r.optimizer, r.config].append(r)
    return dict(out)


def ert_table(runs: list[CocoRun]):
    """A row per configuration and target: ERT, successes, runs, evaluations summed."""
    import pandas as pd

    rows = []
    for (problem, optimizer, config), group in configurations(runs).items():
        first = group[0]
        function = first.function
        for key in range(TARGETS):
            value, successes, total, counted = ert(group, key)
            if not counted:
                continue
            rows.append({
                "problem": problem, "function": function,
                "group": group_of(function) if function else None, "dim": first.dim,
                "optimizer": optimizer, "configuration": config, "target": precision(key),
                "runs": counted, "successes": successes, "evaluations": total, "ert": value,
            })
    columns = ["problem", "function", "group", "dim", "optimizer", "configuration", "target",
               "runs", "successes", "evaluations", "ert"]
    table = pd.DataFrame(rows, columns=columns)
    order = table["function"].fillna(0).astype(int)
    return (table.assign(_f=order).sort_values(["_f", "dim", "problem", "optimizer",
                                                 "configuration", "target"],
                                                ascending=[True] * 5 + [False], kind="stable")
            .drop(columns="_f").reset_index(drop=True))


def write_ert_tables(table, folder: Path) -> list[Path]:
    """tables/ert.csv (every target) and tables/ert.md (COCO's table targets)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "ert.csv"
    table.to_csv(csv, index=False)
    keys = {target_key(p) for p in TABLE_PRECISIONS}
    head = "| problem | configuration | " + " | ".join(
        f"ERT Δf={p:g}" for p in TABLE_PRECISIONS) + " | reached 1e-8 |"
    lines = [head, "|" + " --- |" * (len(TABLE_PRECISIONS) + 3)]
    for (problem, config), rows in table.groupby(["problem", "configuration"], sort=False):
        by_key = {target_key(t): r for t, r in zip(rows["target"], rows.itertuples(),
                                                   strict=True)}
        cells = [_ert_text(by_key[k].ert) if k in by_key else "–"
                 for k in sorted(keys)]
        last = by_key.get(TARGETS - 1)
        reached = f"{last.successes}/{last.runs}" if last is not None else "–"
        lines.append(f"| {problem} | {config} | {' | '.join(cells)} | {reached} |")
    md = folder / "ert.md"
    md.write_text("\n".join(lines) + "\n")
    return [csv, md]


def _ert_text(value: float) -> str:
    return "∞" if math.isinf(value) else f"{value:.3g}"


# -- ECDFs over functions and groups ------------------------------------------------------------
def ecdf_points(runs: list[CocoRun]) -> tuple[np.ndarray, int]:
    """Evaluations / dimension of every (run, target) pair reached, sorted, and the pair count."""
    reached = [r.reached[k] / r.dim for r in runs for k in r.keys if k in r.reached]
    return np.sort(np.asarray(reached, dtype=float)), sum(len(r.keys) for r in runs)


def ecdf_figures(runs: list[CocoRun], colors: dict[str, str], folder: Path,
                 ext: str) -> list[FigureFile]:
    """Per dimension of the bbob runs: a panel for all functions and one per group present."""
    bbob = [r for r in runs if r.function is not None and r.dim > 0]
    figures = []
    for dim in sorted({r.dim for r in bbob}):
        at_dim = [r for r in bbob if r.dim == dim]
        panels = [("all functions", at_dim)] + [
            (group, [r for r in at_dim if r.function in members])
            for group, members in GROUPS.items()]
        panels = [(name, rs) for name, rs in panels if rs]
        if len(panels) == 2:  # one group only: its panel repeats "all functions"
            panels = panels[1:]
        fig, axes = _grid(len(panels), 3, 3.4, 3.0)
        budget = max(r.charged for r in at_dim) / dim
        for ax, (name, rs) in zip(axes, panels, strict=False):
            functions = sorted({r.function for r in rs})
            for config, style in _config_styles(rs).items():
                x, pairs = ecdf_points([r for r in rs if r.config == config])
                y = np.arange(1, len(x) + 1) / max(pairs, 1)
                ax.step(np.concatenate([[1 / dim], x, [budget]]),
                        np.concatenate([[0.0], y, [y[-1] if len(y) else 0.0]]),
                        where="post", label=wrap(config, 34),
                        color=colors.get(style[0], "0.3"), ls=style[1], lw=1.6)
            ax.set(xscale="log", ylim=(-0.02, 1.02), xlabel="evaluations / dimension",
                   title=f"{name} ({len(functions)} function{'s' * (len(functions) != 1)})")
        for ax in axes[::3]:
            ax.set_ylabel("fraction of (run, Δf) pairs")
        legend_outside(axes[min(len(panels), 3) - 1])
        fig.suptitle(f"bbob, {dim}-D: ECDF of evaluations to reach Δf = 1e2 … 1e-8 "
                     f"({TARGETS} targets per run)", fontsize=10)
        path = save(fig, folder / f"coco-ecdf-{dim}d.{ext}")
        caption = (f"bbob at dimension {dim}: for each configuration, the fraction of (run, Δf) "
                   f"pairs over COCO's {TARGETS} targets 1e2 … 1e-8 and the functions of each "
                   "panel reached within the evaluations / dimension on the x-axis (one run per "
                   "seed, each seed its instance); the curve runs flat to the largest budget.")
        figures.append(FigureFile(path, f"bbob ECDFs, {dim}-D", caption, None))
    return figures


def _config_styles(runs: list[CocoRun]) -> dict[str, tuple[str, str]]:
    """configuration -> (its optimizer, a line style telling an optimizer's configurations
    apart)."""
    styles, seen = {}, defaultdict(int)
    for r in sorted(runs, key=lambda r: (r.optimizer, r.config)):
        if r.config not in styles:
            styles[r.config] = (r.optimizer, ("-", "--", ":", "-.")[seen[r.optimizer] % 4])
            seen[r.optimizer] += 1
    return styles


# -- ERT against dimension ----------------------------------------------------------------------
def scaling_figure(runs: list[CocoRun], colors: dict[str, str], folder: Path,
                   ext: str) -> FigureFile | None:
    """ERT / dimension against dimension, a panel per problem family swept over dim; None when
    no family spans two dimensions."""
    families: dict[tuple[str, str], list[CocoRun]] = defaultdict(list)
    for r in runs:
        if r.dim > 0:
            families[r.family].append(r)
    families = {k: rs for k, rs in sorted(families.items(), key=_family_order)
                if len({r.dim for r in rs}) > 1}
    if not families:
        return None
    fig, axes = _grid(len(families), 3, 3.4, 3.0)
    for ((problem, rest), rs), ax in zip(families.items(), axes, strict=False):
        dims = sorted({r.dim for r in rs})
        for config, (optimizer, _) in _config_styles(rs).items():
            color = colors.get(optimizer, "0.3")
            mine = [r for r in rs if r.config == config]
            ran = sorted({r.dim for r in mine})  # a configuration may miss some (two sweeps)
            for delta_f, ls in zip(SCALING_PRECISIONS, ("--", "-"), strict=True):
                key = target_key(delta_f)
                per_dim = [(d, ert([r for r in mine if r.dim == d], key)[0] / d) for d in ran]
                shown = [(d, v) for d, v in per_dim if math.isfinite(v)]
                if shown:
                    ax.plot(*zip(*shown, strict=True), ls=ls, marker="o", ms=4, color=color,
                            mfc=color if ls == "-" else "white")
            budget = [(d, max(r.charged for r in mine if r.dim == d) / d) for d in ran]
            ax.plot(*zip(*budget, strict=True), ls="none", marker="x", color=color, ms=5)
        ax.set(xscale="log", yscale="log", xticks=dims, xticklabels=[str(d) for d in dims],
               xlabel="dimension", title=_family_title(problem, json.loads(rest)))
        ax.minorticks_off()
    for ax in axes[::3]:
        ax.set_ylabel("ERT / dimension")
    legend_outside(axes[min(len(families), 3) - 1], handles=_scaling_handles(runs, colors))
    path = save(fig, folder / f"coco-scaling.{ext}")
    caption = ("ERT (evaluations summed over a configuration's runs, unsuccessful ones at all "
               "the evaluations they used, divided by the runs that reached the target) per "
               "dimension, against the dimension: solid Δf = 1e-8, dashed Δf = 0.1 (f − f*); "
               "a missing point: no run reached that target; a cross: the largest budget used "
               "/ dimension.")
    return FigureFile(path, "ERT against dimension", caption, None)


def _grid(n: int, ncols: int, width: float, height: float) -> tuple[Any, list]:
    """A figure with ``n`` axes on rows of ``ncols`` (the spare ones hidden)."""
    ncols = min(n, ncols)
    nrows = math.ceil(n / ncols)
    fig, _ = new_figure(width * ncols, height * nrows)
    fig.clear()
    axes = list(fig.subplots(nrows, ncols, squeeze=False).flat)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.subplots_adjust(hspace=0.55, wspace=0.3)
    return fig, axes[:n]


def _family_order(item) -> tuple:
    (problem, rest), _ = item
    return problem, json.loads(rest).get("function", 0), rest


def _family_title(problem: str, rest: dict[str, Any]) -> str:
    if problem == "bbob":
        f = rest.get("function", 1)
        text = f"f{f} {FUNCTIONS[f]} ({group_of(f)})"
        return wrap(text + (f", instance {rest['instance']}" if "instance" in rest else ""), 34)
    return wrap(label(problem, rest), 34)


def _scaling_handles(runs: list[CocoRun], colors: dict[str, str]) -> list:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors.get(opt, "0.3"), lw=1.6, label=wrap(config, 34))
               for config, (opt, _) in _config_styles(runs).items()]
    return [
        *handles,
        Line2D([], [], color="0.3", ls="-", marker="o", ms=4, label="Δf = 1e-8"),
        Line2D([], [], color="0.3", ls="--", marker="o", mfc="white", ms=4, label="Δf = 0.1"),
        Line2D([], [], color="0.3", ls="none", marker="x", label="largest budget / dim")]


# -- the report's part --------------------------------------------------------------------------
def report_runs(results) -> list[CocoRun]:
    """The runs of a loaded report (``data.Results``), each folder's read by ``load_runs``,
    with the report's run ids and labels (a report of several folders renames some)."""
    if not results.stored:
        return load_runs(results.root)
    ours = {(folder, rid): key for key, (folder, rid) in results.stored.items()}
    labels = results.runs.set_index("run_id")[["problem_label", "optimizer_label"]]
    runs = []
    for folder in dict.fromkeys(folder for folder, _ in results.stored.values()):
        for run in load_runs(folder):
            key = ours.get((folder, run.run_id))
            if key is not None:
                problem, config = labels.loc[key]
                runs.append(replace(run, run_id=key, label=problem, config=config))
    return runs


def coco_report(root: str | Path, colors: dict[str, str], fmt: str = "png",
                runs: list[CocoRun] | None = None) -> tuple[list[FigureFile], list[str]]:
    """Write tables/ert.{csv,md} and the COCO figures of ``root``; their figures and notes.
    ``runs``: the runs to measure (``report_runs``), by default the folder's.

    Only for a folder with bbob runs or a problem swept over dimensions: elsewhere the report's
    own tables and ECDFs say it all, and nothing is written.
    """
    from optbench.bench.report.figures import style

    root = Path(root)
    runs = load_runs(root) if runs is None else runs
    bbob = any(r.function is not None for r in runs)
    with style():
        scaling = scaling_figure(runs, colors, root / "figures", fmt) if runs else None
        if not (bbob or scaling):
            return [], []
        figures = ecdf_figures(runs, colors, root / "figures", fmt)
    write_ert_tables(ert_table(runs), root / "tables")
    if scaling is not None:
        return [*figures, scaling], []
    return figures, ["no problem was swept over two or more dimensions, so no figure of ERT "
                     "against dimension"]
