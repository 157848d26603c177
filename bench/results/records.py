"""What a run leaves behind: its summary row and its trace (how it ended: ``status.Status``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optbench.bench.results.status import Status
from optbench.bench.sweep.spec import RunSpec

__all__ = ["SUMMARY_COLUMNS", "SUMMARY_TYPES", "TRACE_COLUMNS", "RunRecord", "Status"]


# Trace columns, per recorded iteration. x_0, x_1 follow for problems of dimension <= 2.
# n_monitor: evaluations made only to watch the run (this trace, confirmation probes), not
# charged; grad_norm is NaN where no gradient was at hand (value-only problems: see runner.py).
TRACE_COLUMNS = (
    "iteration", "evaluations", "n_fev", "n_gev", "n_monitor", "time_s", "f", "f_best",
    "grad_norm", "dist",
)
INTEGER_TRACE_COLUMNS = ("iteration", "evaluations", "n_fev", "n_gev", "n_monitor")

SUMMARY_COLUMNS = (
    "run_id", "sweep", "problem", "problem_params", "problem_label", "optimizer",
    "optimizer_params", "optimizer_label", "seed", "status", "message", "gradient_check_failed",
    "n_iter", "n_eval", "n_fev", "n_gev", "n_monitor", "wall_time_s", "f_final", "f_best",
    "f_opt", "dist_final", "grad_norm_final", "target_hit", "fev_to_target", "time_to_target",
    "dim",
    # what the report needs of the problem and optimizer, so it never has to build them
    "gradient", "smooth", "x_opt", "optimizer_resolved",
)
# each summary column's kind (summary.parquet's types); blanks allowed in every one
SUMMARY_TYPES = {
    **dict.fromkeys(SUMMARY_COLUMNS, "str"),
    **dict.fromkeys(("seed", "n_iter", "n_eval", "n_fev", "n_gev", "n_monitor",
                     "fev_to_target", "dim"), "int"),
    **dict.fromkeys(("wall_time_s", "f_final", "f_best", "f_opt", "dist_final",
                     "grad_norm_final", "time_to_target"), "float"),
    **dict.fromkeys(("gradient_check_failed", "target_hit", "smooth"), "bool"),
}


@dataclass
class RunRecord:
    """One run: its spec, the summary row and the trace (column name → array)."""

    spec: RunSpec
    status: Status
    message: str = ""
    # a ``failed`` run's gradient check where it stopped: True when the gradient disagrees with
    # differences there (the user's bug: exit code 1), False when it agrees, None: not checked
    gradient_check_failed: bool | None = None
    n_iter: int = 0
    n_eval: int = 0
    n_fev: int = 0
    n_gev: int = 0
    n_monitor: int = 0  # evaluations made only to watch the run: not charged (see runner.py)
    wall_time_s: float = 0.0
    f_final: float = float("nan")
    f_best: float = float("nan")
    f_opt: float | None = None
    dist_final: float = float("nan")
    grad_norm_final: float = float("nan")
    target_hit: bool = False
    fev_to_target: int | None = None
    time_to_target: float | None = None
    dim: int = 0
    gradient: str | None = None  # "analytic" or "finite-difference"; None when not built
    smooth: bool | None = None  # False: the problem says it has kinks; None: not known
    x_opt: str | None = None  # the known minimizer as a JSON list, or None
    optimizer_resolved: str | None = None  # every hyperparameter, defaults filled in (JSON)
    # (precision, evaluations, seconds) at which f − f* first fell below each precision
    hits: list[tuple[float, int, float]] = field(default_factory=list)
    trace: dict[str, np.ndarray] = field(default_factory=dict)
    # in memory only, for the Python API (not stored): the last iterate, and with keep_x the
    # iterate of every trace row
    x_final: np.ndarray | None = field(default=None, repr=False)
    iterates: list[np.ndarray] | None = field(default=None, repr=False)

    @property
    def run_id(self) -> str:
        return self.spec.id

    def summary(self) -> dict[str, Any]:
        s = self.spec
        row = {
            "run_id": s.id, "sweep": s.sweep, "problem": s.problem,
            "problem_params": s.problem_params, "problem_label": s.problem_label,
            "optimizer": s.optimizer, "optimizer_params": s.optimizer_params,
            "optimizer_label": s.optimizer_label, "seed": s.seed, "status": self.status.value,
        }
        for name in SUMMARY_COLUMNS[10:]:
            row[name] = getattr(self, name)
        return row
