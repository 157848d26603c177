"""``optbench run``: config → run specs → runs → stored records → summary table (→ report)."""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from .config import Sweep, load_sweep
from .errors import UsageError
from .records import RunRecord
from .store import Store, environment


def run_command(args: argparse.Namespace) -> int:
    sweep = load_sweep(args.config)
    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other: continue, or start over")
    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers must be >= 0 (0 runs in this process), got {args.workers}")
    store = Store(args.out or Path("results") / sweep.name)
    stored = store.stored_ids()
    if stored and not (args.resume or args.force):
        raise UsageError(
            f"{store.root} already holds {len(stored)} stored runs: add --resume to run only "
            "the missing ones, or --force to delete them and start over"
        )
    refused = set() if args.no_check else _entry_checks(sweep)
    if args.force:
        store.clear()
        stored = set()
    store.prepare()
    store.write_text("config.yaml", sweep.text)
    store.write_text("environment.json", json.dumps(environment(), indent=1))
    todo = [s for s in sweep.specs
            if s.id not in stored and (s.problem, s.problem_params) not in refused]
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    if stored:
        say(f"{len(sweep.specs) - len(todo)} of {len(sweep.specs)} runs already stored; "
            f"running the other {len(todo)}")
    _execute(todo, store, args)
    df = store.write_summary()
    if not args.quiet:
        print(summary_table(df))
        print(f"\nresults: {store.root}/ (summary.csv, runs/)")
    if not args.no_report:
        from .report import build_report

        written = build_report(store.root, quiet=args.quiet)
        if not args.quiet and written:
            print(f"report: {written}")
    if refused:
        names = ", ".join(sorted({name for name, _ in refused}))
        print(f"optbench: not run, its gradient check failed: {names}", file=sys.stderr)
        return 1
    return 0


def _execute(todo, store: Store, args) -> list[RunRecord]:
    from tqdm import tqdm

    from .executors import choose

    run = choose(args.workers, args.scheduler)
    failures = 0
    done: list[RunRecord] = []
    with tqdm(total=len(todo), unit="run", disable=args.quiet or not todo, file=sys.stderr,
              dynamic_ncols=True) as bar:
        for record in run(todo):
            store.save(record)
            done.append(record)
            failures += record.status.failed
            bar.set_postfix_str(f"failed {failures}", refresh=False)
            bar.update()
    return done


def _entry_checks(sweep: Sweep) -> set[tuple[str, str]]:
    """Check each distinct problem once at its first initial point; return those refused.

    A refused problem's runs are left out and the others run: one wrong gradient should not
    cost the rest of the sweep, and the exit code (1) still says something was refused.
    """
    from .gradcheck import check_gradient
    from .plugins import make_problem

    refused: set[tuple[str, str]] = set()
    seen: set[tuple[str, str]] = set()
    for spec in sweep.specs:
        key = (spec.problem, spec.problem_params)
        if key in seen:
            continue
        seen.add(key)
        try:
            problem = make_problem(spec.problem, spec.problem_kwargs, spec.base_dir, spec.seed)
            result = check_gradient(problem, points=0, seed=spec.seed, max_coords=16,
                                    directions=1)
        except Exception as e:  # building it failed: its runs would all be errors
            lines = [f"building it raised {type(e).__name__}: {e}"]
        else:
            if result.passed or problem.gradient == "finite-difference":
                continue
            lines = result.lines()[1:]
        refused.add(key)
        print(f"optbench: gradient check failed for {spec.problem_label}; its runs are left out "
              "(--no-check runs them anyway):", file=sys.stderr)
        print("\n".join("  " + line for line in lines), file=sys.stderr)
    return refused


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
            _fmt(_median([r["fev_to_target"] for r in hits])),
            _fmt(_median([r["f_final"] for r in rs])),
            _fmt(_median([r["wall_time_s"] for r in rs])),
            " ".join(f"{k}:{v}" for k, v in sorted(statuses.items())),
        ))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if (isinstance(x, float) and not x.is_integer()) or abs(x) >= 1e6:
        return f"{x:.3g}"
    return f"{int(x)}"
