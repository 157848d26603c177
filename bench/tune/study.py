"""Studies on Optuna: ask a trial, run its RunSpecs on a pool, store them, tell the score.

One Optuna study per problem × optimizer entry, all in ``<results>/studies.sqlite3``. Only
this process opens that file and calls ask/tell (SQLite does not take many writers well); the
trials' runs go wherever the pool puts them, ``slots`` trials in flight, and each finished run is
stored as a run like any other (``runs/<id>.json``, atomic).

A kill leaves trials RUNNING in the store. ``--resume`` takes each of them up again as the same
trial (the same number, its stored draws; a draw it had not made yet is made as it would have
been), reuses its runs already stored and runs the rest, and tells it; then it asks the trials
still missing. A study thus ends with exactly the trials asked for, none told twice, and a
sampler that has seen every finished trial (``sampling.TrialSeeded``).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from optbench.bench.errors import UsageError
from optbench.bench.results.store import Store
from optbench.bench.sweep.spec import Budget, RunSpec, canonical
from optbench.bench.tune.config import Plan, Settings
from optbench.bench.tune.sampling import TrialSeeded, pruner, rungs, score

FINGERPRINT = "optbench"  # the study's user attribute holding what made it


def storage(path) -> optuna.storages.RDBStorage:
    """The studies' SQLite store, in write-ahead-log mode: a commit is on disk for every later
    reader once it returns, so a killed process loses nothing it had told (only a power cut
    could lose the last commits); and it is about 3x faster than SQLite's default journal."""
    from sqlalchemy import event

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rdb = optuna.storages.RDBStorage(
        f"sqlite:///{path.resolve()}", engine_kwargs={"connect_args": {"timeout": 60}})
    event.listen(rdb.engine, "connect", _pragmas)
    rdb.engine.dispose()  # the connection that created the tables goes; new ones get the pragmas
    return rdb


def _pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def fingerprint(plan: Plan, settings: Settings) -> str:
    """What a study's trials depend on: its space, the sampler, the objective and its runs."""
    first = plan.base[settings.seeds[0]]
    return canonical({
        "space": plan.space.describe(), "sampler": settings.sampler, "seed": settings.seed,
        "objective": settings.objective, "penalty": settings.penalty, "pruner": settings.pruner,
        "seeds": list(settings.seeds), "problem": [first.problem, first.problem_params],
        "optimizer": first.optimizer, "budget": first.budget.__dict__,
        "targets": first.targets.__dict__, "stop_at_target": first.stop_at_target,
    })


def open_study(store_db, plan: Plan, settings: Settings, config: str) -> optuna.Study:
    study = optuna.create_study(
        storage=store_db, study_name=plan.study, direction="minimize", load_if_exists=True,
        sampler=TrialSeeded(settings.sampler, settings.seed), pruner=pruner(settings.pruner))
    want = fingerprint(plan, settings)
    have = study.user_attrs.get(FINGERPRINT)
    if have is None:
        study.set_user_attr(FINGERPRINT, want)
    elif have != want:
        raise UsageError(f"the study {plan.study!r} in studies.sqlite3 was made with another "
                         f"space, sampler, objective or problem than {config} says now: --force "
                         "deletes it and starts over (or restore the config)")
    return study


@dataclass
class Flight:
    """A trial being run: its rung (budget fraction), the runs it waits for, what they gave."""

    plan: Plan
    study: optuna.Study
    trial: optuna.Trial
    params: dict[str, Any]
    rung: int = 0
    specs: list[RunSpec] = field(default_factory=list)
    rows: dict[str, dict] = field(default_factory=dict)  # run id -> summary row
    run_ids: list[str] = field(default_factory=list)  # every rung's runs

    @property
    def ready(self) -> bool:
        return all(s.id in self.rows for s in self.specs)


class Tuner:
    """The ask/tell loop over every study, ``slots`` trials in flight on ``pool``."""

    def __init__(self, plans, studies, settings: Settings, pool, store: Store, on_told):
        self.plans, self.studies, self.settings = plans, studies, settings
        self.pool, self.store, self.on_told = pool, store, on_told
        self.stored = store.stored_ids()
        self.waiting: dict[str, list[Flight]] = {}  # run id in the pool -> flights waiting on it
        self.flights: list[Flight] = []
        self.started = [len(s.get_trials(deepcopy=False)) for s in studies]
        self.rungs = rungs(settings.pruner)

    def remaining(self) -> int:
        running = sum(len(s.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
                      for s in self.studies)
        return running + sum(max(0, p.trials - n) for p, n in zip(self.plans, self.started,
                                                                  strict=True))

    def run(self) -> None:
        for plan, study in zip(self.plans, self.studies, strict=True):
            for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                self._launch(plan, study, optuna.trial.Trial(study, frozen._trial_id))
        while True:
            self._fill()
            ready = [f for f in self.flights if f.ready]
            if ready:
                for flight in ready:
                    self._advance(flight)
                continue
            if not self.flights:
                return
            run_id, row = self.pool.next()  # stored by then
            self.stored.add(run_id)
            for flight in self.waiting.pop(run_id, []):
                flight.rows[run_id] = row

    def _fill(self) -> None:
        while len(self.flights) < max(1, self.pool.slots):
            open_ = [i for i, p in enumerate(self.plans) if self.started[i] < p.trials]
            if not open_:
                return
            i = min(open_, key=lambda k: (self.started[k], k))  # round robin over the studies
            self.started[i] += 1
            study = self.studies[i]
            self._launch(self.plans[i], study, study.ask())

    def _launch(self, plan: Plan, study, trial) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            params = plan.space.suggest(trial)
        flight = Flight(plan, study, trial, params)
        self.flights.append(flight)
        self._submit(flight)

    def _submit(self, flight: Flight) -> None:
        fraction = self.rungs[flight.rung]
        flight.specs = [self._at(flight.plan.spec(seed, flight.params), fraction)
                        for seed in self.settings.seeds]
        flight.rows = {}
        for spec in flight.specs:
            flight.run_ids.append(spec.id)
            if spec.id in self.stored:
                flight.rows[spec.id] = stored_row(self.store, spec.id)
            elif spec.id in self.waiting:  # another trial drew the same settings: one run
                self.waiting[spec.id].append(flight)
            else:
                self.waiting[spec.id] = [flight]
                self.pool.submit(spec, spec.id)

    @staticmethod
    def _at(spec: RunSpec, fraction: float) -> RunSpec:
        if fraction == 1.0:
            return spec
        b = spec.budget
        cut = lambda n: None if n is None else max(1, round(n * fraction))  # noqa: E731
        from dataclasses import replace

        return replace(spec, budget=Budget(cut(b.evaluations), cut(b.iterations),
                                           b.seconds and b.seconds * fraction))

    def _advance(self, flight: Flight) -> None:
        """All runs of the flight's rung are in: report and maybe prune, or tell."""
        value = score(self.settings.objective, self.settings.penalty,
                      [(s, flight.rows[s.id]) for s in flight.specs])
        trial = flight.trial
        trial.set_user_attr("optimizer_params", canonical(flight.params))
        trial.set_user_attr("run_ids", list(dict.fromkeys(flight.run_ids)))
        state = None
        if value is None:
            state = TrialState.FAIL
        elif flight.rung + 1 < len(self.rungs):
            step = flight.specs[0].budget.evaluations or flight.specs[0].budget.iterations or \
                flight.rung
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a step reported before the kill: ignored
                trial.report(value, step)
            if not trial.should_prune():
                flight.rung += 1
                self._submit(flight)
                return
            state = TrialState.PRUNED
        self.flights.remove(flight)
        if state is None:
            flight.study.tell(trial, value)
        else:
            flight.study.tell(trial, state=state)
        self.on_told(flight, value, state)


def stored_row(store: Store, run_id: str) -> dict:
    return json.loads((store.runs / f"{run_id}.json").read_text())["summary"]
