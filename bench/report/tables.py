"""Tables per problem × optimizer configuration, and the ranking that marks the best entry.

One DataFrame (``config_table``) is the source of the CSV, the Markdown and the LaTeX, so the
three always agree. The ranking, best first: higher success rate, fewer evaluations to target,
fewer failed runs, lower final f − f* (each run against its own f*; f where f* is unknown), less
wall time, then the label in natural order. It is the one definition of "best": the ★ here, the
bold curves and ECDF lines (``best_per_optimizer``) and the report's verdict all read it. A
configuration whose every run failed is never the ★.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from optbench.bench.formatting import number
from optbench.bench.results.status import FAILED, STATUSES

if TYPE_CHECKING:
    import pandas as pd

RANK = (  # column, ascending
    ("success_rate", False), ("evals_to_target_median", True), ("failed", True),
    ("final_median", True),  # final f − f* where f* is known, else final f
    ("wall_time_s_median", True),
    ("label_order", True),  # a full tie: the label decides, so every rebuild marks the same
)
RANK_TEXT = ("success rate, then median evaluations to target, failed runs, median final "
             "f − f* (f where f* is unknown), median time, label")
BEST_MARK = "★"
# The one text on non-smooth problems: the page, the tables and the figure captions say it.
KINKS = ("methods that assume a smooth model — L-BFGS-B's quasi-Newton model and line search "
         "above all, but also momentum and adaptive gradient steps — may stall at the kinks, "
         "zig-zag or stop early there (an 'ABNORMAL' line-search exit), so on a non-smooth "
         "problem a poor result says as much about the method's assumptions as about the "
         "problem")
NON_SMOOTH = ("Non-smooth problem (its class sets smooth = False): the objective has kinks, "
              f"where the gradient jumps or does not exist; {KINKS}.")


FINITE_DIFFERENCE = "finite-difference"  # the ``gradient`` column of a value-only problem


def fd_text(dim: int) -> str:
    """What the report says where a problem's runs used a finite-difference gradient."""
    here = f", here 2·{dim} = {2 * dim}" if dim > 0 else ""
    return f"finite-difference gradient (2·dim evaluations each{here})"


def non_smooth_among(labels: list[str]) -> str:
    """NON_SMOOTH for a figure over several problems, naming the non-smooth ones."""
    return f"Non-smooth among them: {', '.join(labels)}; {KINKS}."


def config_table(runs: pd.DataFrame, identical=None) -> pd.DataFrame:
    """A row per (problem, optimizer configuration), in the order the runs come.

    ``final_gap_median`` is the median of each run's final f − f*, against the run's own f*
    (NaN where f* is unknown). ``identical``, when given, holds the (problem, configuration)
    whose seeds ran identically (``data.identical_runs``): their IQR is no spread.
    """
    import pandas as pd

    rows = []
    # several folders in one report (report/combine.py): each row names its folder
    several = "source" in runs and runs["source"].nunique() > 1
    for (problem, label), g in runs.groupby(["problem_label", "optimizer_label"], sort=False):
        evals = g.loc[g["target_hit"].astype(bool), "fev_to_target"].astype(float)
        status = g["status"]
        dim = g["dim"].max()
        gap = (g["f_final"] - g["f_opt"]).astype(float)
        rows.append({
            "problem": problem, "dim": int(dim) if math.isfinite(dim) else 0,
            "optimizer": g["optimizer"].iloc[0],
            "configuration": label,
            **({"sweep": ", ".join(dict.fromkeys(g["source"]))} if several else {}),
            "runs": len(g),
            "successes": int(g["target_hit"].astype(bool).sum()),
            # no target configured: a success rate would only say "0%" about nothing asked
            "success_rate": g["target_hit"].astype(bool).mean() if g["has_target"].any()
            else math.nan,
            "evals_to_target_median": evals.median(),
            "evals_to_target_q25": evals.quantile(0.25),
            "evals_to_target_q75": evals.quantile(0.75),
            "f_final_median": g["f_final"].median(),
            "final_gap_median": gap.median(),
            "wall_time_s_median": g["wall_time_s"].median(),
            "failed": int(status.isin(FAILED).sum()),
            **{f"n_{s}": int((status == s).sum()) for s in STATUSES},
            "smooth": g["smooth"].iloc[0] if "smooth" in g else None,
            "f_opt_known": bool(g["f_opt"].notna().any()),
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    if identical is not None:
        table["identical"] = [(p, c) in identical for p, c in
                              zip(table["problem"], table["configuration"], strict=True)]
    table["best"] = False
    # a problem whose every run failed has no best (its verdict says no configuration won)
    alive = table[table["failed"] < table["runs"]]
    table.loc[ranked(alive).groupby("problem", sort=False).head(1).index, "best"] = True
    return table


def ranked(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` best first (within each problem when grouped by it), by RANK."""
    from optbench.bench.report.order import natural_ranks

    order = natural_ranks(table["configuration"])
    keyed = table.assign(
        final_median=table["final_gap_median"].where(table["f_opt_known"],
                                                     table["f_final_median"]),
        label_order=table["configuration"].map(order))
    cols, ascending = zip(*RANK, strict=True)
    return keyed.sort_values(list(cols), ascending=list(ascending), na_position="last",
                             kind="stable")


def best_per_optimizer(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(problem label, optimizer name) -> the label of that optimizer's best configuration."""
    if table.empty:
        return {}
    first = ranked(table).groupby(["problem", "optimizer"], sort=False).head(1)
    return {(r.problem, r.optimizer): r.configuration for r in first.itertuples()}


def _success(row) -> str:
    if math.isnan(row.success_rate):
        return "n/a (no target)"
    return f"{row.success_rate:.0%} ({row.successes}/{row.runs})"


def _evals(row) -> str:
    if math.isnan(row.evals_to_target_median):
        return "–"
    if getattr(row, "identical", False):
        return f"{number(row.evals_to_target_median)} (runs identical)"
    return (f"{number(row.evals_to_target_median)} "
            f"[{number(row.evals_to_target_q25)}–{number(row.evals_to_target_q75)}]")


def final_median(row) -> float:
    """The final value a row is ranked by: median f − f* where f* is known, else median f."""
    return row.final_gap_median if row.f_opt_known else row.f_final_median


def _statuses(row) -> str:
    return ", ".join(f"{s} {getattr(row, f'n_{s}')}" for s in STATUSES
                     if getattr(row, f"n_{s}"))


DISPLAY_HEADER = ("configuration", "runs", "success", "evals to target: median [IQR]",
                  "median final f", "median time (s)", "statuses")
FINAL_GAP = "median final f − f*"


def display_header(table: pd.DataFrame, problem: str) -> tuple[str, ...]:
    """DISPLAY_HEADER, with final f − f* where the problem's f* is known, and the sweep (its
    folder) after the configuration in a report of several folders."""
    rows = table[table["problem"] == problem]
    header = DISPLAY_HEADER
    if "f_opt_known" in rows and rows["f_opt_known"].any():
        header = (*DISPLAY_HEADER[:4], FINAL_GAP, *DISPLAY_HEADER[5:])
    return (header[0], "sweep", *header[1:]) if "sweep" in table else header


def display_rows(table: pd.DataFrame, problem: str) -> list[tuple[bool, list[str]]]:
    """(is best, cells) for each configuration of ``problem``, cells as in display_header."""
    out = []
    for row in table[table["problem"] == problem].itertuples():
        label = f"{BEST_MARK} {row.configuration}" if row.best else row.configuration
        label = [label, row.sweep] if "sweep" in table else [label]
        out.append((bool(row.best), [*label, str(row.runs), _success(row), _evals(row),
                                     number(final_median(row)),
                                     number(row.wall_time_s_median),
                                     _statuses(row)]))
    return out


def non_smooth(table: pd.DataFrame, problem: str) -> bool:
    rows = table[table["problem"] == problem]
    return "smooth" in rows and bool(rows["smooth"].map(lambda v: v is not None and not v).any())


def markdown_table(table: pd.DataFrame, problem: str) -> str:
    """One problem's table in GitHub Markdown; the best entry marked and bold."""
    def cells(values):
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    left = ["---"] * _text_columns(table)
    lines = [cells(display_header(table, problem)),
             "|" + "|".join([*left, *["--:"] * 5, "---"]) + "|"]
    for best, values in display_rows(table, problem):
        lines.append(cells([f"**{v}**" if best else v for v in values]))
    return "\n".join(lines)


def _text_columns(table: pd.DataFrame) -> int:
    """The columns before the numbers: the configuration, and its sweep when several."""
    return 2 if "sweep" in table else 1


def markdown(table: pd.DataFrame) -> str:
    parts = [f"Best entry per problem marked {BEST_MARK} (ranked by {RANK_TEXT}). IQR: "
             "25th–75th percentile over the runs that reached the target. Final f − f*: each "
             "run against its own f*."]
    for problem in dict.fromkeys(table["problem"]):
        note = f"{NON_SMOOTH}\n\n" if non_smooth(table, problem) else ""
        parts.append(f"### {problem}\n\n{note}{markdown_table(table, problem)}")
    return "\n\n".join(parts) + "\n"


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "★": r"$\star$", "–": "--", "—": "---",
                  "∞": r"$\infty$", "−": "-"}


def _tex(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def latex(table: pd.DataFrame) -> str:
    """One ``table`` environment per problem (needs \\usepackage{booktabs})."""
    parts = ["% optbench results per problem x optimizer configuration; needs booktabs"]
    for problem in dict.fromkeys(table["problem"]):
        body = [" & ".join(_tex(h) for h in display_header(table, problem)) + r" \\",
                r"\midrule"]
        for best, values in display_rows(table, problem):
            cells = [_tex(v) for v in values]
            body.append(" & ".join(rf"\textbf{{{c}}}" if best else c for c in cells) + r" \\")
        kinks = f". {NON_SMOOTH}" if non_smooth(table, problem) else ""
        parts.append("\n".join([
            r"\begin{table}[ht]", r"\centering", r"\small",
            rf"\caption{{{_tex(problem)}: per optimizer configuration{_tex(kinks)}}}",
            rf"\begin{{tabular}}{{{'l' * _text_columns(table)}rlrrrl}}", r"\toprule", *body,
            r"\bottomrule", r"\end{tabular}",
            r"\end{table}",
        ]))
    return "\n\n".join(parts) + "\n"


def write_tables(table: pd.DataFrame, folder: Path) -> list[Path]:
    """tables/per_config.{csv,md,tex}; returns the paths written."""
    from optbench.bench.results.files import atomic_write

    folder.mkdir(parents=True, exist_ok=True)
    return [atomic_write(folder / "per_config.csv", lambda f: table.to_csv(f, index=False)),
            atomic_write(folder / "per_config.md", markdown(table)),
            atomic_write(folder / "per_config.tex", latex(table))]
