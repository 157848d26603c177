"""Tables per problem × optimizer configuration, and the ranking that marks the best entry.

One DataFrame (``config_table``) is the source of the CSV, the Markdown and the LaTeX, so the
three always agree. The ranking, best first: higher success rate, fewer evaluations to target,
fewer failed runs, lower final value, less wall time.
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
    ("f_final_median", True), ("wall_time_s_median", True),
    ("configuration", True),  # a full tie: the label decides, so every rebuild marks the same
)
BEST_MARK = "★"
# The one text on non-smooth problems: the page, the tables and the figure captions say it.
KINKS = ("methods that assume a smooth model — L-BFGS-B's quasi-Newton model and line search "
         "above all, but also momentum and adaptive gradient steps — may stall at the kinks, "
         "zig-zag or stop early there (an 'ABNORMAL' line-search exit), so on a non-smooth "
         "problem a poor result says as much about the method's assumptions as about the "
         "problem")
NON_SMOOTH = ("Non-smooth problem (its class sets smooth = False): the objective has kinks, "
              f"where the gradient jumps or does not exist; {KINKS}.")


def non_smooth_among(labels: list[str]) -> str:
    """NON_SMOOTH for a figure over several problems, naming the non-smooth ones."""
    return f"Non-smooth among them: {', '.join(labels)}; {KINKS}."


def config_table(runs: pd.DataFrame) -> pd.DataFrame:
    """A row per (problem, optimizer configuration), in the order the runs come."""
    import pandas as pd

    rows = []
    for (problem, label), g in runs.groupby(["problem_label", "optimizer_label"], sort=False):
        evals = g.loc[g["target_hit"].astype(bool), "fev_to_target"].astype(float)
        status = g["status"]
        dim = g["dim"].max()
        rows.append({
            "problem": problem, "dim": int(dim) if math.isfinite(dim) else 0,
            "optimizer": g["optimizer"].iloc[0],
            "configuration": label, "runs": len(g),
            "successes": int(g["target_hit"].astype(bool).sum()),
            # no target configured: a success rate would only say "0%" about nothing asked
            "success_rate": g["target_hit"].astype(bool).mean() if g["has_target"].any()
            else math.nan,
            "evals_to_target_median": evals.median(),
            "evals_to_target_q25": evals.quantile(0.25),
            "evals_to_target_q75": evals.quantile(0.75),
            "f_final_median": g["f_final"].median(),
            "wall_time_s_median": g["wall_time_s"].median(),
            "failed": int(status.isin(FAILED).sum()),
            **{f"n_{s}": int((status == s).sum()) for s in STATUSES},
            "smooth": g["smooth"].iloc[0] if "smooth" in g else None,
        })
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["best"] = False
    table.loc[_ranked(table).groupby("problem", sort=False).head(1).index, "best"] = True
    return table


def _ranked(table):
    cols, ascending = zip(*RANK, strict=True)
    return table.sort_values(list(cols), ascending=list(ascending), na_position="last",
                             kind="stable")


def best_per_optimizer(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(problem label, optimizer name) -> the label of that optimizer's best configuration."""
    if table.empty:
        return {}
    first = _ranked(table).groupby(["problem", "optimizer"], sort=False).head(1)
    return {(r.problem, r.optimizer): r.configuration for r in first.itertuples()}


def _success(row) -> str:
    if math.isnan(row.success_rate):
        return "n/a (no target)"
    return f"{row.success_rate:.0%} ({row.successes}/{row.runs})"


def _evals(row) -> str:
    if math.isnan(row.evals_to_target_median):
        return "–"
    return (f"{number(row.evals_to_target_median)} "
            f"[{number(row.evals_to_target_q25)}–{number(row.evals_to_target_q75)}]")


def _statuses(row) -> str:
    return ", ".join(f"{s} {getattr(row, f'n_{s}')}" for s in STATUSES
                     if getattr(row, f"n_{s}"))


DISPLAY_HEADER = ("configuration", "runs", "success", "evals to target: median [IQR]",
                  "median final f", "median time (s)", "statuses")


def display_rows(table: pd.DataFrame, problem: str) -> list[tuple[bool, list[str]]]:
    """(is best, cells) for each configuration of ``problem``, cells as in DISPLAY_HEADER."""
    out = []
    for row in table[table["problem"] == problem].itertuples():
        label = f"{BEST_MARK} {row.configuration}" if row.best else row.configuration
        out.append((bool(row.best), [label, str(row.runs), _success(row), _evals(row),
                                     number(row.f_final_median), number(row.wall_time_s_median),
                                     _statuses(row)]))
    return out


def non_smooth(table: pd.DataFrame, problem: str) -> bool:
    rows = table[table["problem"] == problem]
    return "smooth" in rows and bool(rows["smooth"].map(lambda v: v is not None and not v).any())


def markdown_table(table: pd.DataFrame, problem: str) -> str:
    """One problem's table in GitHub Markdown; the best entry marked and bold."""
    def cells(values):
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    lines = [cells(DISPLAY_HEADER), "|" + "|".join(["---"] + ["--:"] * 5 + ["---"]) + "|"]
    for best, values in display_rows(table, problem):
        lines.append(cells([f"**{v}**" if best else v for v in values]))
    return "\n".join(lines)


def markdown(table: pd.DataFrame) -> str:
    parts = [f"Best entry per problem marked {BEST_MARK} (ranked by success rate, then median "
             "evaluations to target, failed runs, median final f, median time, label). IQR: "
             "25th–75th percentile over the runs that reached the target."]
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
        body = [" & ".join(_tex(h) for h in DISPLAY_HEADER) + r" \\", r"\midrule"]
        for best, values in display_rows(table, problem):
            cells = [_tex(v) for v in values]
            body.append(" & ".join(rf"\textbf{{{c}}}" if best else c for c in cells) + r" \\")
        kinks = f". {NON_SMOOTH}" if non_smooth(table, problem) else ""
        parts.append("\n".join([
            r"\begin{table}[ht]", r"\centering", r"\small",
            rf"\caption{{{_tex(problem)}: per optimizer configuration{_tex(kinks)}}}",
            r"\begin{tabular}{lrlrrrl}", r"\toprule", *body, r"\bottomrule", r"\end{tabular}",
            r"\end{table}",
        ]))
    return "\n\n".join(parts) + "\n"


def write_tables(table: pd.DataFrame, folder: Path) -> list[Path]:
    """tables/per_config.{csv,md,tex}; returns the paths written."""
    from optbench.bench.results.store import atomic_write

    folder.mkdir(parents=True, exist_ok=True)
    return [atomic_write(folder / "per_config.csv", lambda f: table.to_csv(f, index=False)),
            atomic_write(folder / "per_config.md", markdown(table)),
            atomic_write(folder / "per_config.tex", latex(table))]
