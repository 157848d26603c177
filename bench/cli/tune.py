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


HEADER = ("optimizer", "trials", "tuned: reached", "evals to target", "best f",
          "defaults: reached", "evals to target", "best f", "best configuration (held-out)")


def tune_table(studies: list[dict], settings: dict) -> str:
    """Per problem: each optimizer's trials, its best configuration's held-out results and its
    defaults' side by side (reached: runs that reached the target, of the held-out runs;
    evaluations to target and best f: medians over the held-out runs)."""
    if not studies:
        return "no studies: nothing was tuned (see the lines above)"
    lines = []
    for problem in dict.fromkeys(s["problem_label"] for s in studies):
        rows = [_row(s) for s in studies if s["problem_label"] == problem]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]
        lines += [problem, *(_line(r, widths) for r in [HEADER, ["-" * w for w in widths],
                                                         *rows]), ""]
    trials = {s["trials_asked"] for s in studies}
    budget = (f"{trials.pop()} trials per optimizer (equal budgets)" if len(trials) == 1 else
              "trials per optimizer differ: " + ", ".join(f"{s['optimizer']} {s['trials_asked']}"
                                                          for s in studies))
    held = ", ".join(str(s) for s in settings["held_out"])
    lines.append(f"{budget}; {settings['sampler']} sampler, seed {settings['seed']}; "
                 f"objective {settings['objective']}; held-out seeds {held}")
    return "\n".join(lines)


def _line(cells, widths) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _row(s: dict) -> tuple[str, ...]:
    tuned, default = s.get("tuned"), s.get("default")

    def side(d: dict | None) -> list[str]:
        if d is None:
            return ["–", "–", "–"]
        return [f"{d['hits']}/{d['runs']}", number(d["evals_to_target"]), number(d["f_best"])]

    trials = str(s["trials"]) if s["trials"] == s["trials_asked"] else \
        f"{s['trials']} (of {s['trials_asked']})"
    return (s["optimizer"], trials, *side(tuned), *side(default), s["tuned_label"] or "–")
