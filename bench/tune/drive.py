"""``run_tune``: what ``optbench tune`` and ``optbench.tune`` both call.

It checks each problem's gradient once (as a sweep does), prepares the results folder, runs the
studies (``study.Tuner``), re-runs each study's best configuration and the optimizer's defaults
on the held-out seeds, and writes what the report reads: the held-out runs as the folder's
sweep (summary.csv, sweep_runs.json), the trials (trials.csv, trials.parquet) and the studies'
outcome (tune.json). The report never opens the SQLite file.

    results/<name>/
      studies.sqlite3   the Optuna studies (one per problem × optimizer entry)
      runs/             every trial's runs and the held-out runs, as in a sweep
      summary.csv       the held-out runs (what the tables and profiles show)
      trials.csv        one row per trial: study, number, state, value, params, run ids
      tune.json         per study: trials, best trial, tuned and default held-out scores
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from optbench.bench.errors import UsageError
from optbench.bench.results.environment import environment
from optbench.bench.results.store import Store
from optbench.bench.sweep.spec import RunSpec
from optbench.bench.tune.config import Plan, Tune

DATABASE = "studies.sqlite3"
EXPORTS = ("trials.csv", "trials.parquet", "tune.json")


def _stderr(*parts) -> None:
    print(*parts, file=sys.stderr)


@dataclass
class TuneOutcome:
    store: Store
    summary: list[dict]  # summary.csv's rows: the held-out runs
    studies: list[dict]  # tune.json's "studies"
    refused: dict = field(default_factory=dict)


def run_tune(tune: Tune, out: str | Path | None = None, *, workers: int | None = None,
             scheduler: str | None = None, resume: bool = False, force: bool = False,
             check: bool = True, progress: bool = True,
             say: Callable[..., None] = _stderr) -> TuneOutcome:
    """Run ``tune`` into ``out`` (default ``results/<name>``); see ``optbench tune``. One
    process writes a results folder (its lock, as a sweep's): a second one is refused."""
    from optbench.bench.results.lock import FolderLock
    from optbench.bench.run.sweep import results_folder

    out = results_folder(out, tune.name, workers, resume, force)
    with FolderLock(out, lazy=True) as lock:
        if out.is_dir():
            lock.acquire()
        store = Store(out)
        if ((out / DATABASE).exists() or store.stored_ids()) and not (resume or force):
            raise UsageError(f"{store.root} already holds studies or runs: add --resume to "
                             "continue them, or --force to delete them and start over")
        return _run_locked(tune, store, lock, workers, scheduler, force, check, progress, say)


def _run_locked(tune: Tune, store: Store, lock, workers, scheduler, force: bool, check: bool,
                progress: bool, say) -> TuneOutcome:
    from optbench.bench.run.sweep import _entry_checks
    from optbench.bench.tune.pool import pool

    out = store.root
    with pool(workers, scheduler, store) as runs:
        refused = _entry_checks(tune.sweep) if check else {}
        lock.acquire()
        if force:
            store.clear()
            for name in (DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", *EXPORTS):
                (out / name).unlink(missing_ok=True)
        store.prepare()
        store.write_config(tune.text)
        store.write_text("environment.json", json.dumps(environment(), indent=1))
        plans = [p for p in tune.plans
                 if (p.base[tune.settings.seeds[0]].problem,
                     p.base[tune.settings.seeds[0]].problem_params) not in refused]
        studies = _tune(tune, plans, out / DATABASE, runs, store, progress, say)
        outcomes = _held_out(tune, plans, studies, runs, store, progress)
    from optbench.bench.tune.export import write_exports

    write_exports(store.root, tune, plans, studies, outcomes)
    store.select([i for o in outcomes for i in o["tuned_run_ids"] + o["default_run_ids"]])
    summary = store.write_summary()
    from optbench.bench.run.landscape import write_landscapes

    write_landscapes(store.root, quiet=not progress, specs=tune.sweep.specs)
    return TuneOutcome(store, summary, outcomes, refused)


def _tune(tune: Tune, plans: list[Plan], db: Path, runs, store: Store, progress: bool, say):
    from tqdm import tqdm

    from optbench.bench.tune.study import Tuner, open_study, storage

    rdb = storage(db)
    studies = [open_study(rdb, p, tune.settings, str(tune.path)) for p in plans]
    told = [0]

    def on_told(flight, value, state) -> None:
        told[0] += 1
        bar.set_postfix_str(f"{flight.plan.optimizer} #{flight.trial.number}", refresh=False)
        bar.update()

    tuner = Tuner(plans, studies, tune.settings, runs, store, on_told)
    todo = tuner.remaining()
    done = sum(len(s.get_trials(deepcopy=False)) for s in studies) - \
        sum(1 for s in studies for t in s.get_trials(deepcopy=False) if not t.state.is_finished())
    if done:
        say(f"{done} trials already told; {todo} more to run")
    with tqdm(total=todo, unit="trial", disable=not progress or not todo, file=sys.stderr,
              dynamic_ncols=True) as bar:
        tuner.run()
    return studies


def best_trial(study):
    """The complete trial of lowest value (the first of equals), or None."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    return min(done, key=lambda t: (t.value, t.number)) if done else None


def _held_out(tune: Tune, plans, studies, runs, store: Store, progress: bool) -> list[dict]:
    """Run each study's best configuration and its defaults on the held-out seeds."""
    from tqdm import tqdm

    from optbench.bench.sweep.spec import canonical
    from optbench.bench.tune.sampling import score
    from optbench.bench.tune.study import stored_row

    held = tune.settings.held_out
    jobs = []
    for plan, study in zip(plans, studies, strict=True):
        best = best_trial(study)
        params = None
        if best is not None:
            params = json.loads(best.user_attrs.get("optimizer_params") or
                                canonical(plan.space.from_params(best.params)))
        tuned = [plan.spec(s, params) for s in held] if params is not None else []
        default = [plan.base[s] for s in held]
        jobs.append((plan, study, best, params, tuned, default))
    stored = store.stored_ids()
    todo = list({s.id: s for *_, tuned, default in jobs for s in tuned + default
                 if s.id not in stored}.values())
    with tqdm(total=len(todo), unit="run", disable=not progress or not todo, file=sys.stderr,
              dynamic_ncols=True, desc="held-out") as bar:
        for spec in todo:
            runs.submit(spec, spec.id)
        for _ in todo:
            runs.next()  # stored by then
            bar.update()
    outcomes = []
    for plan, study, best, params, tuned, default in jobs:
        rows = {s.id: stored_row(store, s.id) for s in tuned + default}
        outcomes.append({
            "study": plan.study, "problem_label": plan.problem_label,
            "optimizer": plan.optimizer, "entry": plan.entry,
            "trials_asked": plan.trials, "trials": len(study.get_trials(deepcopy=False)),
            "best_number": None if best is None else best.number,
            "best_value": None if best is None else best.value,
            "best_params": None if best is None else best.params,
            "tuned_params": params,
            "tuned_label": tuned[0].optimizer_label if tuned else None,
            "default_label": default[0].optimizer_label,
            "tuned_run_ids": [s.id for s in tuned], "default_run_ids": [s.id for s in default],
            "tuned": _held_score(tune, tuned, rows, score),
            "default": _held_score(tune, default, rows, score),
        })
    return outcomes


def _held_score(tune: Tune, specs: list[RunSpec], rows: dict, score) -> dict | None:
    if not specs:
        return None
    s = tune.settings
    mine = [rows[spec.id] for spec in specs]
    hits = [r["fev_to_target"] for r in mine if r.get("target_hit")]
    best = [r["f_best"] for r in mine if r.get("f_best") is not None]
    return {
        "score": score(s.objective, s.penalty, [(spec, rows[spec.id]) for spec in specs]),
        "runs": len(mine), "hits": len(hits),
        "evals_to_target": statistics.median(hits) if hits else None,
        "f_best": statistics.median(best) if best else None,
        "statuses": {st: sum(r["status"] == st for r in mine)
                     for st in dict.fromkeys(r["status"] for r in mine)},
    }
