"""``optbench tune``: config → studies (ask/tell on Optuna) → held-out runs → table (→ report)."""

from __future__ import annotations

import argparse
import sys

from optbench.bench.formatting import number


def tune_command(args: argparse.Namespace) -> int:
    from optbench.bench.cli.run import options, report
    from optbench.bench.tune.config import load_tune
    from optbench.bench.tune.drive import run_tune

    tune = load_tune(args.config)
    outcome = run_tune(tune, args.out, **options(args))
    if not args.quiet:
        print(tune_table(outcome.studies, tune.settings.describe()))
        print(f"\nresults: {outcome.store.root}/ (tune.json, trials.csv, summary.csv of the "
              "held-out runs, studies.sqlite3, runs/)")
    report(outcome.store, args)
    if outcome.refused:
        names = ", ".join(sorted({name for name, _ in outcome.refused}))
        print(f"optbench: not tuned, its gradient check failed: {names}", file=sys.stderr)
        return 1
    return 0


# Column groups: each measure of the held-out runs, the tuned configuration's beside its defaults'
GROUPS = (("", ("optimizer", "trials")), ("score", ("tuned", "defaults")),
          ("reached", ("tuned", "defaults")), ("evals to target", ("tuned", "defaults")),
          ("best f", ("tuned", "defaults")), ("", ("best configuration",)))
OBJECTIVE = {"evals_to_target": "evaluations to reach every target (a miss costs {penalty:g} × "
                                "the budget plus its shortfall)",
             "best_f": "the best f"}


def tune_table(studies: list[dict], settings: dict) -> str:
    """Per problem, one row per optimizer: its trials, then each measure of the held-out runs
    with the best configuration's value beside the defaults' (score: the objective, mean over
    the held-out seeds, lower wins; reached: runs that reached the targets; evaluations to
    target and best f: medians), and the best configuration."""
    if not studies:
        return "no studies: nothing was tuned (see the lines above)"
    lines = []
    for problem in dict.fromkeys(s["problem_label"] for s in studies):
        rows = [_row(s) for s in studies if s["problem_label"] == problem]
        lines += [problem, *_grid(rows), ""]
    trials = {s["trials_asked"] for s in studies}
    budget = (f"{trials.pop()} trials per optimizer (equal budgets)" if len(trials) == 1 else
              "trials per optimizer differ: " + ", ".join(f"{s['optimizer']} {s['trials_asked']}"
                                                          for s in studies))
    held = ", ".join(str(s) for s in settings["held_out"])
    objective = OBJECTIVE[settings["objective"]].format(penalty=settings["penalty"])
    lines.append(f"{budget}; {settings['sampler']} sampler, seed {settings['seed']}; held-out "
                 f"seeds {held}")
    lines.append(f"score: {objective}, mean over the held-out seeds (lower wins); evals to "
                 "target and best f: medians over them")
    return "\n".join(lines)


def _grid(rows: list[tuple[str, ...]]) -> list[str]:
    """The rows under a two-line header: the groups' names over their columns' names."""
    names = [n for _, cols in GROUPS for n in cols]
    widths = [max(len(n), *(len(r[i]) for r in rows)) for i, n in enumerate(names)]
    tops, k = [], 0
    for group, cols in GROUPS:
        span = sum(widths[k:k + len(cols)]) + 2 * (len(cols) - 1)
        if len(group) > span:
            widths[k + len(cols) - 1] += len(group) - span
            span = len(group)
        tops.append(group.ljust(span))
        k += len(cols)
    return ["  ".join(tops).rstrip(), *(_line(r, widths) for r in
                                        [names, ["-" * w for w in widths], *rows])]


def _line(cells, widths) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _row(s: dict) -> tuple[str, ...]:
    tuned, default = s.get("tuned") or {}, s.get("default") or {}

    def pair(cell) -> list[str]:
        return [cell(tuned) if tuned else "–", cell(default) if default else "–"]

    trials = str(s["trials"]) if s["trials"] == s["trials_asked"] else \
        f"{s['trials']} (of {s['trials_asked']})"
    return (s["optimizer"], trials, *pair(lambda d: number(d["score"])),
            *pair(lambda d: f"{d['hits']}/{d['runs']}"),
            *pair(lambda d: number(d["evals_to_target"])), *pair(lambda d: number(d["f_best"])),
            s["tuned_label"] or "–")
