"""``optbench run``: config → run specs → runs → stored records → summary table (→ report)."""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from optbench.bench.errors import UsageError, describe
from optbench.bench.formatting import number
from optbench.bench.results.store import Store, environment
from optbench.bench.sweep.config import Sweep, load_sweep
from optbench.bench.sweep.spec import RunSpec


def run_command(args: argparse.Namespace) -> int:
    from optbench.bench.run.executors import executor

    sweep = load_sweep(args.config)
    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other: continue, or start over")
    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers must be >= 0 (0 runs in this process), got {args.workers}")
    out = Path(args.out) if args.out else Path("results") / sweep.name
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; give a folder for the results")
    store = Store(out)
    stored = store.stored_ids()
    if stored and not (args.resume or args.force):
        raise UsageError(
            f"{store.root} already holds {len(stored)} stored runs: add --resume to run only "
            "the missing ones, or --force to delete them and start over"
        )
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
    # Connecting to a scheduler and the checks come first: a refusal writes nothing.
    with executor(args.workers, args.scheduler) as run:
        refused = set() if args.no_check else _entry_checks(sweep)
        if args.force:
            store.clear()
            stored = set()
        todo = _prepare(store, sweep, stored, refused, say)
        _execute(todo, store, run, args)
    df = store.write_summary()
    if not args.quiet:
        print(summary_table(df))
        print(f"\nresults: {store.root}/ (summary.csv, runs/)")
    from optbench.bench.run.landscape import write_landscapes

    write_landscapes(store.root, quiet=args.quiet)  # the report's contours, even with --no-report
    if not args.no_report:
        from optbench.bench.report.build import build_report

        written = build_report(store.root, quiet=args.quiet, brief=True)
        if not args.quiet and written:
            print(f"report: {written}")
    if refused:
        names = ", ".join(sorted({name for name, _ in refused}))
        print(f"optbench: not run, its gradient check failed: {names}", file=sys.stderr)
        return 1
    return 0


def _prepare(store: Store, sweep: Sweep, stored: set[str], refused, say) -> list:
    """Write the folder's config and run list; return the specs still to run.

    The summary and report cover this sweep's runs only. Stored runs of an earlier config stay
    on disk (its config as config.previous.yaml), so returning to it reruns nothing.
    """
    ids = [s.id for s in sweep.specs]
    store.prepare()
    store.write_config(sweep.text)
    store.write_text("environment.json", json.dumps(environment(), indent=1))
    store.select(ids)
    stale = len(stored - set(ids))
    if stale:
        print(f"optbench: note: {store.root} holds {stale} stored runs that are not in this "
              "sweep (an edited config?): kept in runs/ but left out of the summary and "
              "report; --force starts over", file=sys.stderr)
    todo = [s for s in sweep.specs
            if s.id not in stored and (s.problem, s.problem_params) not in refused]
    have = len(stored & set(ids))
    if have:
        say(f"{have} of {len(ids)} runs already stored; running {len(todo)} more")
    return todo


def _execute(todo, store: Store, run, args) -> None:
    """Store each record as it arrives; none is kept here (a long sweep's traces add up)."""
    from tqdm import tqdm

    failures = 0
    with tqdm(total=len(todo), unit="run", disable=args.quiet or not todo, file=sys.stderr,
              dynamic_ncols=True) as bar:
        for record in run(todo):
            store.save(record)
            failures += record.status.failed
            bar.set_postfix_str(f"failed {failures}", refresh=False)
            bar.update()


def _entry_checks(sweep: Sweep) -> set[tuple[str, str]]:
    """Check each distinct problem once at its first initial point; return those refused.

    A refused problem's runs are left out and the others run: one wrong gradient should not
    cost the rest of the sweep, and the exit code (1) still says something was refused. The
    checks run in one child process (one spawn per sweep, ~0.5 s), so the config's timeout can
    stop a check stuck in C code, as it stops a run.
    """
    import multiprocessing

    from pebble import ProcessPool

    firsts: dict[tuple[str, str], RunSpec] = {}
    for spec in sweep.specs:
        firsts.setdefault((spec.problem, spec.problem_params), spec)
    refused: set[tuple[str, str]] = set()
    with ProcessPool(max_workers=1, context=multiprocessing.get_context("spawn")) as pool:
        futures = {key: pool.schedule(check_problem, args=(spec,), timeout=spec.timeout)
                   for key, spec in firsts.items()}
        for key, future in futures.items():
            spec = firsts[key]
            try:
                lines = _outcome(spec, future)
            except KeyboardInterrupt:  # leaving the block would join a check stuck in C first
                pool.stop()
                raise
            if not lines:
                continue
            refused.add(key)
            print(f"optbench: gradient check failed for {spec.problem_label}; its runs are left "
                  "out (--no-check runs them anyway):", file=sys.stderr)
            print("\n".join("  " + line for line in lines), file=sys.stderr)
    return refused


def check_problem(spec: RunSpec) -> list[str] | None:
    """The entry check of the problem of ``spec`` (in the child): None, or why it is refused."""
    from optbench.bench.check.gradient import check_gradient
    from optbench.bench.plugins import make_problem
    from threadpoolctl import threadpool_limits

    try:
        problem = make_problem(spec.problem, spec.problem_kwargs, spec.base_dir, spec.seed)
    except Exception as e:  # its runs would all be errors
        return [f"building it raised {describe(e)}"]
    try:
        with threadpool_limits(1):
            result = check_gradient(problem, points=0, seed=spec.seed, max_coords=16,
                                    directions=1)
    except Exception as e:  # not "building it": it built, the check's evaluation failed
        return [f"it built, but the gradient check at its first start point raised "
                f"{describe(e)}"]
    if result.passed or problem.gradient == "finite-difference":
        return None
    return result.lines()[1:]


def _outcome(spec: RunSpec, future) -> list[str] | None:
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    from pebble import ProcessExpired

    try:
        return future.result()
    except BrokenProcessPool:  # no child could start (a __main__ spawn cannot re-import)
        return check_problem(spec)  # here, then: unbounded, as before, but checked
    except FutureTimeout:
        return [f"the check did not finish within the timeout of {spec.timeout:g} s "
                "(the config's `timeout`): killed; a problem stuck in C code?"]
    except ProcessExpired as e:
        return [f"the check's process died (exit code {e.exitcode})"]
    except Exception as e:  # e.g. a result that could not be sent back
        return [f"the check could not run: {describe(e)}"]


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

