"""Samplers and pruners of a study, and the score a trial is told.

Optuna's samplers keep their random state in memory: a study resumed in a new process starts
its random numbers over. ``TrialSeeded`` makes every draw a function of the config's seed, the
trial's number and the parameter's name (and of the study's finished trials, which the sampler
reads from the store), so a resumed study asks what the uninterrupted one would have asked, and
a trial cut off in the middle of its draws is completed with the values it would have had.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import optuna
from optuna.samplers import BaseSampler

from optbench.bench.sweep.spec import RunSpec


def _seed(*parts: Any) -> int:
    text = ":".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") >> 1


class TrialSeeded(BaseSampler):
    """A sampler of ``kind`` (tpe, sobol, random) whose draws for a trial depend on the seed, the
    trial's number, each parameter's name and the study's history, and on nothing in memory."""

    def __init__(self, kind: str, seed: int):
        self.kind, self.seed = kind, seed
        self._trials: dict[int, BaseSampler] = {}

    def _make(self, *key: Any) -> BaseSampler:
        from optuna.samplers import QMCSampler, RandomSampler, TPESampler

        derived = _seed(self.seed, *key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if self.kind == "tpe":  # multivariate and grouped: schedule families are branches
                return TPESampler(seed=derived, multivariate=True, group=True,
                                  constant_liar=True)
            if self.kind == "sobol":  # one scrambled sequence per study, indexed in the store
                return QMCSampler(qmc_type="sobol", scramble=True, seed=self.seed,
                                  independent_sampler=RandomSampler(seed=derived),
                                  warn_independent_sampling=False)
            return RandomSampler(seed=derived)

    def _for(self, number: int) -> BaseSampler:
        if number not in self._trials:
            if len(self._trials) > 64:  # trials long finished: their samplers are done
                self._trials.pop(next(iter(self._trials)))
            self._trials[number] = self._make(number)
        return self._trials[number]

    def infer_relative_search_space(self, study, trial):
        return self._for(trial.number).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._for(trial.number).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        sampler = self._make(trial.number, param_name)
        return sampler.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial) -> None:
        self._for(trial.number).before_trial(study, trial)

    def after_trial(self, study, trial, state, values) -> None:
        self._for(trial.number).after_trial(study, trial, state, values)
        self._trials.pop(trial.number, None)

    def reseed_rng(self) -> None:  # the seeds are the config's: nothing to reseed
        pass


def pruner(kind: str):
    from optuna.pruners import MedianPruner, NopPruner, SuccessiveHalvingPruner

    if kind == "median":
        return MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if kind == "successive_halving":
        return SuccessiveHalvingPruner()
    return NopPruner()


RUNGS = (1 / 9, 1 / 3, 1.0)  # budget fractions a trial passes through when a pruner is on


def rungs(kind: str) -> tuple[float, ...]:
    return (1.0,) if kind == "none" else RUNGS


def score(objective: str, penalty: float, runs: Iterable[tuple[RunSpec, Mapping[str, Any]]]
          ) -> float | None:
    """What a trial (or a configuration on the held-out seeds) is told: the mean over its runs.

    ``evals_to_target``: a run's evaluations to reach its targets; a run that misses costs
    ``penalty`` × its budget's evaluations E, plus up to one more E by how far it stayed (see
    ``shortfall``), so that the sampler can tell a near miss from a far one. ``best_f``: the best
    f it evaluated. None when a run has no number to give (it failed before its first
    evaluation): the trial fails.
    """
    values = []
    for spec, row in runs:
        if objective == "evals_to_target":
            hit = bool(row.get("target_hit")) and row.get("fev_to_target") is not None
            budget = float(spec.budget.evaluations)
            values.append(float(row["fev_to_target"]) if hit
                          else budget * (penalty + shortfall(spec, row)))
        else:
            f = row.get("f_best")
            if f is None or not math.isfinite(float(f)):
                return None
            values.append(float(f))
    return statistics.fmean(values) if values else None


DECADES = 10  # a miss's shortfall reaches 1 at ten decades above its target


def shortfall(spec: RunSpec, row: Mapping[str, Any]) -> float:
    """How far a run stayed from its targets, in [0, 1]: the largest number of decades by which
    a measure (f − f* or f; ‖x − x*‖ at the end; ‖∇f‖ at the end) stayed above its target,
    as log10(1 + measure / target) / 10, capped at 1; 1 when the measure is missing."""
    f_opt = row.get("f_opt")
    f_best = row.get("f_best")
    measures = {
        "value": None if f_best is None else f_best - (f_opt or 0.0),
        "distance": row.get("dist_final"),
        "grad_norm": row.get("grad_norm_final"),
    }
    worst = 0.0
    for kind, target in spec.targets.__dict__.items():
        if target is None:
            continue
        m = measures[kind]
        if m is None or not math.isfinite(float(m)):
            return 1.0
        worst = max(worst, math.log10(1.0 + max(float(m), 0.0) / target) / DECADES)
    return min(worst, 1.0)
