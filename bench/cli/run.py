"""``optbench run``: config → run specs → runs → stored records → summary table (→ report)."""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections import defaultdict

from optbench.bench.formatting import number
from optbench.bench.sweep.config import load_sweep


def run_command(args: argparse.Namespace) -> int:
    from optbench.bench.run.sweep import run_sweep

    sweep = load_sweep(args.config)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    outcome = run_sweep(sweep, args.out, workers=args.workers, scheduler=args.scheduler,
                        resume=args.resume, force=args.force, check=not args.no_check,
                        progress=not args.quiet, say=say)
    store = outcome.store
    if not args.quiet:
        print(summary_table(outcome.summary))
        print(f"\nresults: {store.root}/ (summary.csv, runs/)")
    if not args.no_report:
        from optbench.bench.report.build import build_report

        written = build_report(store.root, quiet=args.quiet, brief=True)
        if not args.quiet and written:
            print(f"report: {written}")
    if outcome.refused:
        names = ", ".join(sorted({name for name, _ in outcome.refused}))
        print(f"optbench: not run, its gradient check failed: {names}", file=sys.stderr)
        return 1
    return 0


def _median(values) -> float:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else math.nan


def summary_table(df) -> str:
    """Per problem × optimizer configuration: success, evaluations to target, f, time."""
    groups = defaultdict(list)
    for row in df.to_dict("records"):
        groups[(row["problem_label"], row["optimizer_label"])].append(row)
    header = ("problem", "optimizer", "runs", "success", "evals to target", "final f",
              "time s", "statuses")
    rows = []
    for (prob, opt), rs in groups.items():
        hits = [r for r in rs if r["target_hit"]]
        statuses = defaultdict(int)
        for r in rs:
            statuses[r["status"]] += 1
        rows.append((
            prob, opt, str(len(rs)), f"{len(hits)}/{len(rs)}",
            number(_median([r["fev_to_target"] for r in hits])),
            number(_median([r["f_final"] for r in rs])),
            number(_median([r["wall_time_s"] for r in rs])),
            " ".join(f"{k}:{v}" for k, v in sorted(statuses.items())),
        ))
    if not rows:
        return "no runs: nothing in this sweep was run (see the lines above)"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])

