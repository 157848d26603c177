"""The report's first section: per problem, who won and by what margin, what failed and why,
and what was left out.

The winner is the table's best entry (``tables.ranked``: the one definition of "best"), and its
margin is stated on the first measure of that ranking on which it beats the runner-up:
"lbfgsb reached the target in 3/3 runs with a median of 39 evaluations, 4.2× fewer than the
next, adam(lr=0.1) (165)". Failures are grouped by status (every status that counts as failed,
``Status.failed``) and by the first line of their message.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from optbench.bench.formatting import number
from optbench.bench.report.tables import FINITE_DIFFERENCE, RANK_TEXT, fd_text, ranked
from optbench.bench.results.status import FAILED

INTRO = (f"Per problem: the best configuration as the table ranks them ({RANK_TEXT}) and its "
         "margin over the next; then what failed and why, and what was left out.")
MESSAGES_SHOWN = 3  # per status; the rest are under Failed runs


def verdict(results, table) -> list[tuple[str, str, list[str]]]:
    """(problem, what won and by what margin, [details]) per problem, then per problem the
    sweep's entry checks left out."""
    runs = results.runs
    items = []
    for problem in results.problems():
        rows = runs[runs["problem_label"] == problem]
        details = failures(rows)
        gradient = rows["gradient"].dropna()
        if len(gradient) and gradient.iloc[0] == FINITE_DIFFERENCE:
            details.append(f"Its runs used a {fd_text(int(rows['dim'].max()))}: the "
                           "evaluations counted include them.")
        items.append((problem, winner(table, problem), details))
    for item in results.left_out:
        why, rest = left_out_reason(item)
        items.append((item["problem"], f"left out: its entry check refused it, so none of its "
                                       f"runs ran. {why}", rest))
    return items


def left_out_reason(item: dict) -> tuple[str, list[str]]:
    """The line that says why a problem was left out (the check's FAIL line, else its first),
    and the check's other lines."""
    lines = [line.strip() for line in item["why"] if line.strip()] or ["no reason recorded"]
    why = next((line for line in lines if line.startswith("FAIL")), lines[0])
    return why, [line for line in lines if line != why]


def winner(table, problem: str) -> str:
    """The table's best configuration of ``problem`` and its margin over the next."""
    rows = ranked(table[table["problem"] == problem])
    if rows.empty:
        return "no runs."
    w = rows.iloc[0]
    if (rows["failed"] == rows["runs"]).all():
        return "every run failed (below), so no configuration won."
    if len(rows) == 1:
        return f"{w.configuration} {_headline(w)} (the only configuration)."
    return f"{w.configuration} {_headline(w)}{_margin(w, rows.iloc[1])}."


def _what(row) -> str:
    return "f − f*" if row.f_opt_known else "f"


def _headline(w) -> str:
    if math.isnan(w.success_rate):
        return f"ended at a median final {_what(w)} of {number(w.final_median)} (no target set)"
    reached = f"reached the target in {w.successes}/{w.runs} runs"
    if w.successes:
        return f"{reached} with a median of {number(w.evals_to_target_median)} evaluations"
    return f"{reached} (as did every other configuration), median final {_what(w)} " \
           f"{number(w.final_median)}"


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _times(more: float, less: float) -> str:
    """'4.2×' or '12×' (ratio at least 1.1), else '5%': how much ``less`` is under ``more``."""
    ratio = more / less
    if ratio >= 1.1:
        return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"
    return f"{(1 - less / more):.0%}"


def _margin(w, n) -> str:
    """The margin on the first ranking measure on which the winner ``w`` beats ``n``."""
    nxt = n.configuration
    if not _same(w.success_rate, n.success_rate):
        return f", against {n.successes}/{n.runs} for the next, {nxt}"
    if not _same(w.evals_to_target_median, n.evals_to_target_median):
        return (f", {_times(n.evals_to_target_median, w.evals_to_target_median)} fewer than "
                f"the next, {nxt} ({number(n.evals_to_target_median)})")
    if w.failed != n.failed:
        return f", with {w.failed} failed runs against {n.failed} for the next, {nxt}"
    if not _same(w.final_median, n.final_median):
        if w.final_median > 0 and n.final_median / w.final_median >= 1.1:
            return (f"; the next, {nxt}, ended at {number(n.final_median)}, "
                    f"{_times(n.final_median, w.final_median)} higher")
        return (f"; the next, {nxt}, ended {number(n.final_median - w.final_median)} higher "
                f"(at {number(n.final_median)})")
    if not _same(w.wall_time_s_median, n.wall_time_s_median):
        return (f"; tied with the next, {nxt}, on every measure but time (median "
                f"{number(w.wall_time_s_median)} s against {number(n.wall_time_s_median)} s)")
    return f"; tied with the next, {nxt}, on every measure (the label order decides)"


def failures(rows) -> list[str]:
    """A line per failed status of ``rows``: how many runs, of which configurations, and
    their messages' first lines (a few; the rest under Failed runs)."""
    out = []
    for status in FAILED:
        bad = rows[rows["status"] == status]
        if bad.empty:
            continue
        configs = Counter(bad["optimizer_label"])
        who = ", ".join(f"{c} ×{k}" if k > 1 else c for c, k in configs.items())
        firsts: dict[str, list[str]] = {}  # messages alike but for their numbers, together
        for m in bad["message"]:
            line = _first_line(m)
            firsts.setdefault(NUMBERS.sub("#", line), []).append(line)
        groups = sorted(firsts.values(), key=len, reverse=True)[:MESSAGES_SHOWN]
        shown = [f"“{_cut(g[0])}”" + _count(g) for g in groups]
        more = len(firsts) - len(shown)
        rest = f"; and {more} other messages (see Failed runs)" if more > 0 else ""
        runs = "run" if len(bad) == 1 else "runs"
        out.append(f"{status} in {len(bad)} {runs} ({who}): {'; '.join(shown)}{rest}")
    if not out:
        out.append("No run failed.")
    return out


NUMBERS = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
LONGEST = 200  # characters of a message shown in the verdict; Failed runs has them whole


def _count(lines: list[str]) -> str:
    if len(lines) == 1:
        return ""
    return f" (×{len(lines)}{', numbers vary' if len(set(lines)) > 1 else ''})"


def _cut(line: str) -> str:
    return line if len(line) <= LONGEST else line[:LONGEST - 1].rstrip() + "…"


def _first_line(message) -> str:
    text = message.strip() if isinstance(message, str) else ""
    return text.splitlines()[0] if text else "(no message)"
