"""``optbench run``: config → run specs → runs → stored records → the story told → report.

What the terminal shows after a sweep: the report's table (one row per problem × optimizer
configuration, the best marked with the report's rule), the failed runs grouped by cause with
the first line of their messages, and the problems left out with why. The exit code is the
status module's rule (``bench.results.status.exit_code``).
"""

from __future__ import annotations

import argparse
import sys

from optbench.bench.sweep.config import load_sweep

SHOWN_PER_CAUSE = 3  # failed runs listed per status; the rest are counted


def run_command(args: argparse.Namespace) -> int:
    from optbench.bench.run.sweep import run_sweep

    outcome = run_sweep(load_sweep(args.config), args.out, landscapes=not args.no_report,
                        **options(args))
    store = outcome.store
    if not args.quiet:
        from optbench.bench.report.data import load_results

        runs = load_results(store.root, store=store).runs  # it knows what it wrote
        more_in = "summary.csv" if args.no_report else "report.html"
        print(story(runs, outcome.refused, more_in))
        print(f"\nresults: {store.root}/ (summary.csv, runs/)")
    report(store, args)
    code, why = exit_code_and_why(outcome.summary, outcome.refused)
    if code:
        print(f"optbench: {why}", file=sys.stderr)
    return code


def options(args: argparse.Namespace) -> dict:
    """The flags ``run`` and ``tune`` share, as ``run_sweep`` and ``run_tune`` take them."""
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    return dict(workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                force=args.force, check=not args.no_check, progress=not args.quiet, say=say)


def report(store, args: argparse.Namespace) -> None:
    """The brief report of ``run`` and ``tune``, unless ``--no-report``."""
    if not args.no_report:
        from optbench.bench.report.build import build_report

        written = build_report(store.root, quiet=args.quiet, brief=True, store=store)
        if not args.quiet and written:
            print(f"report: {written}")


def exit_code_and_why(rows: list[dict], refused) -> tuple[int, str]:
    """The sweep's exit code (the status module's rule) and, when it is 1, why, in one line;
    ``rows``: the sweep's summary rows."""
    from collections import Counter

    from optbench.bench.results.status import Status, blames_user, exit_code

    pairs = [(r["status"], r["gradient_check_failed"]) for r in rows]
    code = exit_code(pairs, len(refused))
    if not code:
        return 0, ""
    causes = Counter(
        "failed with a gradient that disagrees with differences" if Status(s) is Status.FAILED
        else s for s, g in pairs if blames_user(s, g))
    parts = [f"{n} run{'s' * (n != 1)} {cause}" for cause, n in causes.items()]
    if refused:
        names = ", ".join(sorted(label for label, _ in refused.values()))
        parts.append(f"{len(refused)} problem{'s' * (len(refused) != 1)} left out (not run, its "
                     f"gradient check failed: {names})")
    return code, ("exit code 1, something to fix in the code or setup: " + ", ".join(parts))


def story(runs, refused, more_in: str = "report.html") -> str:
    """The table, then the failed runs by cause, then the problems left out."""
    parts = [summary_table(runs)]
    failures = failure_lines(runs, more_in)
    if failures:
        parts.append("\n".join(failures))
    if refused:
        parts.append("\n".join(left_out_lines(refused)))
    return "\n\n".join(parts)


def summary_table(runs) -> str:
    """The report's table (``bench.report.tables``): per problem × configuration, success
    (n/a without a target), evaluations to target, median final f and time, statuses; the best
    configuration per problem marked as the report marks it."""
    from optbench.bench.report.tables import DISPLAY_HEADER, config_table, display_rows

    if runs.empty:
        return "no runs: nothing in this sweep was run (see the lines above)"
    table = config_table(runs)
    header = ("problem", *DISPLAY_HEADER)
    rows = []
    for problem in dict.fromkeys(table["problem"]):
        for n, (_, cells) in enumerate(display_rows(table, problem)):
            rows.append((problem if n == 0 else "", *cells))
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    rule = [line(header).rstrip(), line(["-" * w for w in widths])]
    return "\n".join(rule + [line(r).rstrip() for r in rows])


def failure_lines(runs, more_in: str = "report.html") -> list[str]:
    """The failed runs, grouped by status in the enum's order, SHOWN_PER_CAUSE of each."""
    from optbench.bench.results.status import FAILED

    failed = runs[runs["status"].isin(FAILED)]
    if failed.empty:
        return []
    out = [f"failed runs ({len(failed)}), by cause:"]
    for status in FAILED:
        group = failed[failed["status"] == status]
        if group.empty:
            continue
        out.append(f"  {status} ({len(group)}):")
        for row in group.head(SHOWN_PER_CAUSE).itertuples():
            first = str(row.message).splitlines()[0] if row.message else "(no message)"
            out.append(f"    {row.problem_label} × {row.optimizer_label}, seed {row.seed}: "
                       f"{first}")
        if len(group) > SHOWN_PER_CAUSE:
            out.append(f"    and {len(group) - SHOWN_PER_CAUSE} more in {more_in}")
    return out


def left_out_lines(refused) -> list[str]:
    """A line per problem its entry check left out, with the check's verdict."""
    out = ["left out, their gradient check failed before the sweep (--no-check runs them):"]
    for label, lines in refused.values():
        why = lines[-1].strip() if lines else "the check failed"
        out.append(f"  {label}: {why}")
    return out
