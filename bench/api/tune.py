"""``optbench.tune``: equal-budget tuning studies from Python, as ``optbench tune`` runs them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from optbench.bench.api.results import Results, _quiet, _say, read
from optbench.bench.errors import ResultsError

__all__ = ["TuneResults", "tune"]


class TuneResults(Results):
    """A tuned results folder: ``summary`` and ``table()`` hold the held-out runs (each study's
    best configuration and the optimizer's defaults); ``studies`` has a row per study and
    ``trials`` a row per trial; ``str()`` is the table ``optbench tune`` prints."""

    def __init__(self, root: str | Path, refused: Mapping[Any, Any] | None = None):
        super().__init__(root, refused)
        path = self.root / "tune.json"
        if not path.is_file():
            raise ResultsError(f"{self.root} holds no tune.json: not a folder `optbench tune` "
                               "finished (optbench.load reads a sweep's folder)")
        self._doc = json.loads(path.read_text())

    @property
    def studies(self):
        """One row per study: optimizer, trials, best trial, best configuration, and the tuned
        and default held-out results (reached, evaluations to target, best f, score)."""
        import pandas as pd

        rows = []
        for s in self._doc["studies"]:
            row = {k: s[k] for k in ("study", "problem_label", "optimizer", "trials_asked",
                                     "trials", "best_number", "best_value", "tuned_label",
                                     "default_label")}
            for side in ("tuned", "default"):
                d = s.get(side) or {}
                for key in ("hits", "runs", "evals_to_target", "f_best", "score"):
                    row[f"{side}_{key}"] = d.get(key)
            rows.append(row)
        return pd.DataFrame(rows)

    @property
    def trials(self):
        """One row per trial of every study (trials.csv): number, state, value, params..."""
        import pandas as pd

        return pd.read_csv(self.root / "trials.csv")

    def __str__(self) -> str:
        from optbench.bench.cli.tune import tune_table

        return tune_table(self._doc["studies"], self._doc["settings"])

    def __repr__(self) -> str:
        n = len(self._doc["studies"])
        return f"TuneResults({str(self.root)!r}: {n} stud{'ies' if n != 1 else 'y'})"


def tune(config: str | Path | Mapping[str, Any], *, out: str | Path | None = None,
         workers: int | None = None, scheduler: str | None = None, resume: bool = False,
         force: bool = False, check: bool = True, progress: bool = True,
         report: bool = False) -> TuneResults:
    """Tune each optimizer of ``config`` with the same number of trials, as ``optbench tune``.

    ``config`` is a YAML file or a dict of the same schema (problems may be functions or
    problem objects, as in ``optbench.sweep``). Each problem × optimizer entry is one Optuna
    study in ``<out>/studies.sqlite3``; ``workers`` trials run at once (0: in this process);
    ``resume`` continues stored studies. Mistakes raise ``optbench.ConfigError`` (and kin).
    """
    from optbench.bench.tune.config import load_tune, tune_from_mapping
    from optbench.bench.tune.drive import run_tune

    spec = read(config, "tune", tune_from_mapping, load_tune)
    outcome = run_tune(spec, out, workers=workers, scheduler=scheduler, resume=resume,
                       force=force, check=check, progress=progress,
                       say=_say if progress else _quiet)
    results = TuneResults(outcome.store.root, outcome.refused)
    if report:
        results.report()
    return results
