"""What a tuning leaves for the report beside the runs: the trials table and tune.json.

``trials.csv`` (and a parquet twin): one row per trial of every study, with the columns of
``TRIAL_COLUMNS``; ``params`` is the JSON of the sampler's draws (``lr`` the schedule family,
``lr.cosine.steps`` its parameters), ``optimizer_params`` the JSON of what was run.
``tune.json``: the settings, and per study its trials and the held-out scores of its best
configuration and of the optimizer's defaults.
"""

from __future__ import annotations

import json
from pathlib import Path

from optbench.bench.results.files import atomic_write

TRIAL_COLUMNS = (
    "study", "problem_label", "optimizer", "entry", "number", "state", "value", "params",
    "optimizer_params", "run_ids", "intermediate", "duration_s",
)


def trial_rows(plans, studies) -> list[dict]:
    rows = []
    for plan, study in zip(plans, studies, strict=True):
        for t in study.get_trials(deepcopy=False):
            duration = t.duration.total_seconds() if t.duration is not None else None
            rows.append({
                "study": plan.study, "problem_label": plan.problem_label,
                "optimizer": plan.optimizer, "entry": plan.entry, "number": t.number,
                "state": t.state.name.lower(), "value": t.value,
                "params": json.dumps(t.params, sort_keys=True),
                "optimizer_params": t.user_attrs.get("optimizer_params"),
                "run_ids": json.dumps(t.user_attrs.get("run_ids", [])),
                "intermediate": json.dumps({str(k): v for k, v in
                                            sorted(t.intermediate_values.items())}),
                "duration_s": duration,
            })
    return rows


def write_exports(root: Path, tune, plans, studies, outcomes: list[dict]) -> None:
    import pandas as pd

    df = pd.DataFrame(trial_rows(plans, studies), columns=list(TRIAL_COLUMNS))
    atomic_write(root / "trials.csv", lambda f: df.to_csv(f, index=False))
    atomic_write(root / "trials.parquet", lambda f: df.to_parquet(f, index=False))
    doc = {
        "name": tune.name, "settings": tune.settings.describe(),
        "equal_trials": tune.equal_trials, "studies": outcomes,
    }
    text = json.dumps(doc, indent=1, allow_nan=False, default=_plain)
    atomic_write(root / "tune.json", lambda f: f.write(text.encode()))


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")
